//! Launching the experiment stats: the CSV and OLAP sinks, caught up with the stored chain
//! before new blocks come, and the PostgreSQL export when configured.

use std::path::Path;

use crate::config::NodeConfig;
use crate::stop::StopToken;

/// The experiment stats and the PostgreSQL export's thread.
pub(crate) struct StatsComponent {
    /// The CSV and OLAP sinks.
    pub(crate) handle: doin_stats::StatsHandle,
    /// The PostgreSQL export, when configured.
    pub(crate) pg_sync: Option<std::thread::JoinHandle<()>>,
}

/// Opens the stats, reads into them the blocks of `chain_db` they miss, and starts the
/// PostgreSQL export (stopped by `stop`).
pub(crate) async fn launch_stats(
    config: &NodeConfig,
    chain_db: &Path,
    stop: &StopToken,
) -> anyhow::Result<StatsComponent> {
    let stats = crate::stats::open(config)?;
    let caught_up = tokio::task::spawn_blocking({
        let stats = stats.clone();
        let db_path = chain_db.to_path_buf();
        move || crate::stats::catch_up(&stats, &db_path)
    })
    .await??;
    tracing::info!(blocks_read = caught_up, olap = %stats.olap_path().display(), csv = %config.stats_file_path().display(), "experiment stats open");
    let pg_sync = crate::stats::spawn_pg_sync(config, stop.clone())?;
    Ok(StatsComponent {
        handle: stats,
        pg_sync,
    })
}
