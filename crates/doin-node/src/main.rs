//! The `doin-node` binary.

use anyhow::Context;
use clap::Parser;
use doin_node::cli::{Cli, Command};
use doin_node::config::NodeConfig;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(cli.tracing_level()))
        .init();
    if let Some(Command::OlapSync {
        olap_db,
        postgres_url,
        schema,
    }) = &cli.command
    {
        return olap_sync(olap_db, postgres_url, schema);
    }
    let mut config = match &cli.config {
        Some(path) => {
            let loaded = NodeConfig::load(path).context("loading the config")?;
            for key in &loaded.ignored_keys {
                tracing::warn!("config {}: unknown key {key:?} ignored", path.display());
            }
            loaded.config
        }
        None => NodeConfig::embedded_default(),
    };
    cli.apply(&mut config);
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("config: {e}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(doin_node::node::run(config))?;
    // Threads still blocked in plugin calls must not delay the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    Ok(())
}

/// `doin-node olap-sync`: one incremental sync, then a JSON line of the rows copied.
fn olap_sync(olap_db: &std::path::Path, url: &str, schema: &str) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime
        .block_on(doin_stats::pg::sync_once(olap_db, url, schema))
        .with_context(|| format!("syncing {} to PostgreSQL", olap_db.display()))?;
    let counts: serde_json::Map<String, serde_json::Value> = report
        .tables
        .iter()
        .map(|(t, n)| ((*t).to_owned(), (*n).into()))
        .collect();
    println!("{}", serde_json::Value::Object(counts));
    Ok(())
}
