//! The `doin-node` binary.

use anyhow::Context;
use clap::Parser;
use doin_node::cli::{Cli, Command};
use doin_node::config::NodeConfig;

/// mimalloc instead of the system allocator: a syncing node parses, checks and applies
/// blocks on every core at once, allocating many small values, where glibc's malloc was
/// about a sixth of the CPU of a sync (see the README's sync benchmark).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    doin_node::node::install_tls_provider();
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
    if let Some(Command::ImportReference { file }) = &cli.command {
        let postgres =
            (!config.postgres_url.is_empty()).then_some((config.postgres_url.as_str(), "public"));
        let outcome =
            doin_node::import_reference::import_reference(file, &config.olap_db_path(), postgres)?;
        println!("{}", outcome.to_json());
        return Ok(());
    }
    if let Some(Command::Wallet { command }) = &cli.command {
        let path = config.identity_path();
        let identity = doin_primitives::identity::Identity::load_or_generate(&path)
            .with_context(|| format!("loading the identity key {}", path.display()))?;
        return doin_node::wallet::run(command, &identity);
    }
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("config: {e}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(doin_node::node::run(config))?;
    // Every component has stopped and flushed (or its budget ran out: the chain store is
    // crash-safe). A worker thread still inside a plugin call ends with the process: left
    // running past the runtime, it would wake to a runtime that is gone and panic.
    std::process::exit(0)
}

/// `doin-node olap-sync`: one incremental sync, then a JSON line of the rows copied.
fn olap_sync(olap_db: &std::path::Path, url: &str, schema: &str) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let reader = doin_stats::OlapReader::open(olap_db)
        .with_context(|| format!("opening {}", olap_db.display()))?;
    // A progress bar per table on a terminal (hidden otherwise).
    let bars = indicatif::MultiProgress::new();
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bars.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let style = indicatif::ProgressStyle::with_template("{msg:24} {bar:40} {pos}/{len} rows")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    let totals: std::collections::BTreeMap<&str, u64> = doin_stats::schema::TABLES
        .iter()
        .map(|t| (*t, reader.count(t).unwrap_or(0).max(0) as u64))
        .collect();
    let mut table_bars: std::collections::BTreeMap<String, indicatif::ProgressBar> =
        Default::default();
    let mut progress = |table: &str, rows: u64| {
        let bar = table_bars.entry(table.to_owned()).or_insert_with(|| {
            let total = totals.get(table).copied().unwrap_or(0);
            let b = bars.add(indicatif::ProgressBar::new(total));
            b.set_style(style.clone());
            b.set_message(table.to_owned());
            b
        });
        bar.inc(rows);
    };
    let report = runtime
        .block_on(async {
            let mut export = doin_stats::pg::PgExport::connect(url, schema).await?;
            export.sync_observed(&reader, &mut progress).await
        })
        .with_context(|| format!("syncing {} to PostgreSQL", olap_db.display()))?;
    for bar in table_bars.values() {
        bar.finish();
    }
    let counts: serde_json::Map<String, serde_json::Value> = report
        .tables
        .iter()
        .map(|(t, n)| ((*t).to_owned(), (*n).into()))
        .collect();
    println!("{}", serde_json::Value::Object(counts));
    Ok(())
}
