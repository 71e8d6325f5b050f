//! The `doin-node` binary.

use anyhow::Context;
use clap::Parser;
use doin_node::cli::Cli;
use doin_node::config::NodeConfig;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(cli.tracing_level()))
        .init();
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
    println!(
        "doin-node {}: config ok — port {}, data dir {}, {} domain(s): {}",
        env!("CARGO_PKG_VERSION"),
        config.port,
        config.data_dir.display(),
        config.domains.len(),
        config
            .domains
            .iter()
            .map(|d| d.domain_id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("This build validates configuration only; chain, optimizer and network loops are not in it yet.");
    Ok(())
}
