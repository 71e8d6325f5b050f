//! Experiment tracking wired into the node: opens the per-round CSV and the OLAP database
//! (paths from the config), fills `fact_chain_optimae` from blocks already stored, describes
//! each optimizing domain's experiment, and starts the PostgreSQL sync when `postgres_url`
//! is set. The sinks themselves live in `doin-stats`.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use doin_primitives::Timestamp;
use doin_stats::{ExperimentInfo, ExperimentTracker, StatsHandle, StatsOptions};
use doin_store::{ChainReader, StoreError};

use crate::config::{DomainRole, NodeConfig};

/// Seconds between PostgreSQL syncs while the node runs.
const PG_SYNC_INTERVAL: Duration = Duration::from_secs(3);
/// Longest pause between PostgreSQL retries while the server is down.
const PG_MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Opens the CSV and the OLAP database the config names (defaults under `data_dir`).
pub fn open(config: &NodeConfig) -> anyhow::Result<StatsHandle> {
    let options = StatsOptions::new(config.olap_db_path(), Some(config.stats_file_path()));
    StatsHandle::open(options).context("opening the experiment stats")
}

/// Records the accepted optimae of every stored block the OLAP database does not have yet
/// (a fresh or older OLAP database catches up with the chain; replays are idempotent).
pub fn catch_up(stats: &StatsHandle, chain_db: &Path) -> anyhow::Result<u64> {
    let from = stats
        .reader()?
        .max_block_height()?
        .map_or(1, |h| h.saturating_add(1));
    let reader = ChainReader::open(chain_db).context("reading the chain for the stats")?;
    let mut n = 0u64;
    reader.for_each_block(from, |block| -> Result<(), StoreError> {
        stats.record_block(&block);
        n += 1;
        Ok(())
    })?;
    stats.flush()?;
    Ok(n)
}

/// Starts the background PostgreSQL sync when `postgres_url` is set.
pub fn spawn_pg_sync(
    config: &NodeConfig,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Option<std::thread::JoinHandle<()>>> {
    if config.postgres_url.is_empty() {
        return Ok(None);
    }
    let options = doin_stats::pg::SyncLoopOptions {
        olap_path: config.olap_db_path(),
        url: config.postgres_url.clone(),
        schema: "public".into(),
        interval: PG_SYNC_INTERVAL,
        max_backoff: PG_MAX_BACKOFF,
    };
    let thread =
        doin_stats::pg::spawn_sync_loop(options, stop).context("starting the PostgreSQL sync")?;
    Ok(Some(thread))
}

/// The machine's host name (empty when the OS does not say).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default()
}

/// What an optimizer loop needs to track its experiment.
#[derive(Debug, Clone)]
pub struct LoopStats {
    /// The sinks.
    pub handle: StatsHandle,
    /// The experiment's description; its id and start time are set by [`LoopStats::start`].
    pub info: ExperimentInfo,
}

impl LoopStats {
    /// Describes `role`'s experiment on this node.
    pub fn new(handle: StatsHandle, role: &DomainRole, node_id: &str) -> Self {
        let json = |v: serde_json::Value| {
            // serde_json maps keep keys sorted, as the reference's sort_keys=True does.
            doin_primitives::json::parse(&v.to_string())
                .map(|v| doin_primitives::cjson::to_cjson(&v))
                .unwrap_or_default()
        };
        let bounds = serde_json::to_value(&role.param_bounds).unwrap_or_default();
        let info = ExperimentInfo {
            experiment_id: String::new(),
            domain_id: role.domain_id.clone(),
            node_id: node_id.to_owned(),
            hostname: hostname(),
            optimizer_plugin: role.optimization_plugin.clone(),
            performance_metric: if role.metric_type.is_empty() {
                "fitness".into()
            } else {
                role.metric_type.clone()
            },
            metric_schema: String::new(),
            higher_is_better: role.higher_is_better,
            optimization_config: json(serde_json::Value::Object(role.optimization_config.clone())),
            param_bounds: json(bounds),
            target_performance: role.target_performance,
            started_at: Timestamp::now_utc(),
            doin_version: env!("CARGO_PKG_VERSION").into(),
        };
        LoopStats { handle, info }
    }

    /// Starts the experiment `experiment_id` now.
    pub fn start(&self, experiment_id: &str) -> ExperimentTracker {
        let mut info = self.info.clone();
        info.experiment_id = experiment_id.to_owned();
        info.started_at = Timestamp::now_utc();
        self.handle.start_experiment(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_paths_default_to_and_resolve_under_the_data_dir() {
        let mut c = NodeConfig {
            data_dir: "d".into(),
            ..NodeConfig::default()
        };
        assert_eq!(c.stats_file_path(), Path::new("d/experiment_stats.csv"));
        assert_eq!(c.olap_db_path(), Path::new("d/olap.db"));
        c.experiment_stats_file = "./experiment_stats.csv".into();
        c.olap_db_path = "/abs/olap.db".into();
        assert_eq!(c.stats_file_path(), Path::new("d/./experiment_stats.csv"));
        assert_eq!(c.olap_db_path(), Path::new("/abs/olap.db"));
    }
}
