//! The OLAP database writer: one thread owns the writing SQLite connection and drains a
//! bounded queue, batching what it finds into one transaction; [`StatsHandle`] is the
//! cheap-to-clone front the node's loops talk to.
//!
//! Rounds are enqueued with `try_send`: when the queue is full the round is dropped from
//! the OLAP (it is still in the CSV) and counted, so the optimization loop never waits.
//! Experiments, summaries and blocks are rare and matter more (rounds reference their
//! experiment; chain rows are not produced again), so they wait for room a short while
//! before they are dropped and counted too.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use doin_primitives::models::Block;
use doin_primitives::Timestamp;
use rusqlite::{params, Connection};

use crate::chain::chain_optimae_rows;
use crate::csv::ExperimentCsv;
use crate::error::StatsError;
use crate::model::{ChainOptimaeRow, ExperimentInfo, ExperimentSummary, RoundRecord};
use crate::reader::OlapReader;
use crate::schema;
use crate::tracker::ExperimentTracker;

/// Records queued to the writer before rounds are dropped.
pub const DEFAULT_QUEUE_CAPACITY: usize = 16_384;
/// Most records written in one transaction.
const MAX_BATCH: usize = 4096;
/// How long an experiment, summary or block waits for room in a full queue.
const IMPORTANT_WAIT: Duration = Duration::from_secs(2);

/// Where the stats go and how.
#[derive(Debug, Clone)]
pub struct StatsOptions {
    /// The OLAP database.
    pub olap_path: PathBuf,
    /// The per-round CSV (`None`: no CSV).
    pub csv_path: Option<PathBuf>,
    /// Records the writer queue holds.
    pub queue_capacity: usize,
}

impl StatsOptions {
    /// Options for an OLAP database at `olap_path` and a CSV at `csv_path`.
    pub fn new(olap_path: impl Into<PathBuf>, csv_path: Option<PathBuf>) -> Self {
        StatsOptions {
            olap_path: olap_path.into(),
            csv_path,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
        }
    }
}

enum Op {
    Experiment(Box<ExperimentInfo>),
    Round(Box<RoundRecord>),
    Block(Box<Block>),
    Finish(Box<ExperimentSummary>),
    Rollback(i64),
    Flush(SyncSender<()>),
}

/// Counters of what the writer did (for logs, `/stats` and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsCounters {
    /// Records dropped because the queue was full.
    pub dropped: u64,
    /// Records the database refused (logged).
    pub failed: u64,
    /// Rounds written.
    pub rounds: u64,
    /// Chain optimae written.
    pub chain_optimae: u64,
}

#[derive(Default)]
struct Counters {
    dropped: AtomicU64,
    failed: AtomicU64,
    rounds: AtomicU64,
    chain_optimae: AtomicU64,
}

struct Inner {
    ops: SyncSender<Op>,
    counters: Arc<Counters>,
    csv: Option<Mutex<ExperimentCsv>>,
    experiments: Mutex<HashMap<String, Arc<ExperimentInfo>>>,
    olap_path: PathBuf,
}

/// The stats front: the CSV (written in the caller's thread, one line per call) and the
/// OLAP writer's queue. Cheap to clone; the writer thread ends when the last clone drops.
#[derive(Clone)]
pub struct StatsHandle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for StatsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatsHandle")
            .field("olap_path", &self.inner.olap_path)
            .finish_non_exhaustive()
    }
}

impl StatsHandle {
    /// Opens the CSV and the OLAP database (creating the schema) and starts the writer
    /// thread.
    pub fn open(options: StatsOptions) -> Result<StatsHandle, StatsError> {
        let csv = match &options.csv_path {
            Some(p) => Some(Mutex::new(ExperimentCsv::open(p)?)),
            None => None,
        };
        let writer = Writer::open(&options.olap_path)?;
        let (ops, rx) = mpsc::sync_channel(options.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let thread_counters = counters.clone();
        std::thread::Builder::new()
            .name("olap-writer".into())
            .spawn(move || writer.run(rx, &thread_counters))
            .map_err(|_| StatsError::WriterStopped)?;
        Ok(StatsHandle {
            inner: Arc::new(Inner {
                ops,
                counters,
                csv,
                experiments: Mutex::new(HashMap::new()),
                olap_path: options.olap_path,
            }),
        })
    }

    /// The OLAP database's path.
    pub fn olap_path(&self) -> &Path {
        &self.inner.olap_path
    }

    /// A new read-only connection to the OLAP database.
    pub fn reader(&self) -> Result<OlapReader, StatsError> {
        OlapReader::open(&self.inner.olap_path)
    }

    /// What the writer did so far.
    pub fn counters(&self) -> StatsCounters {
        let c = &self.inner.counters;
        StatsCounters {
            dropped: c.dropped.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            rounds: c.rounds.load(Ordering::Relaxed),
            chain_optimae: c.chain_optimae.load(Ordering::Relaxed),
        }
    }

    /// Registers an experiment (a `dim_experiment` row) and returns the tracker that
    /// turns the loop's rounds into records.
    pub fn start_experiment(&self, info: ExperimentInfo) -> ExperimentTracker {
        let info = Arc::new(info);
        self.inner
            .experiments
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(info.experiment_id.clone(), info.clone());
        self.send_important(Op::Experiment(Box::new((*info).clone())));
        ExperimentTracker::new(info, self.clone())
    }

    /// Records one round: its CSV line now, its `fact_round` row through the queue (dropped
    /// and counted if the queue is full). The experiment must have been started.
    pub fn record_round(&self, round: RoundRecord) {
        let info = self
            .inner
            .experiments
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&round.experiment_id)
            .cloned();
        if let (Some(csv), Some(info)) = (&self.inner.csv, &info) {
            let mut csv = csv.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = csv.append(info, &round) {
                tracing::warn!("{e}");
            }
        }
        match self.inner.ops.try_send(Op::Round(Box::new(round))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.count_drop(),
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// Records every accepted optimae of a block applied to the chain (`fact_chain_optimae`;
    /// idempotent on the optimae id, so replays are harmless).
    pub fn record_block(&self, block: &Block) {
        if block.transactions.is_empty() {
            return;
        }
        self.send_important(Op::Block(Box::new(block.clone())));
    }

    /// Forgets the chain optimae of blocks above `height` (the node reorganised onto
    /// another branch; the blocks of the new branch are recorded next).
    pub fn rollback_above(&self, height: i64) {
        self.send_important(Op::Rollback(height));
    }

    /// Records an experiment's end (`fact_experiment_summary`, and `finished_at` /
    /// `converged` on `dim_experiment`).
    pub fn finish_experiment(&self, summary: ExperimentSummary) {
        self.send_important(Op::Finish(Box::new(summary)));
    }

    /// Waits until everything queued before this call is committed.
    pub fn flush(&self) -> Result<(), StatsError> {
        self.flush_timeout(Duration::from_secs(60))
    }

    /// As [`StatsHandle::flush`], giving up after `timeout`.
    pub fn flush_timeout(&self, timeout: Duration) -> Result<(), StatsError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let deadline = Instant::now() + timeout;
        let mut op = Op::Flush(tx);
        loop {
            match self.inner.ops.try_send(op) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                    op = back;
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(_) => return Err(StatsError::WriterStopped),
            }
        }
        rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .map_err(|_| StatsError::WriterStopped)
    }

    /// Writes a consistent copy of the OLAP database to `dest` with SQLite's online backup
    /// API, from a read-only connection (the writer goes on meanwhile).
    pub fn backup_to(&self, dest: &Path) -> Result<(), StatsError> {
        self.reader()?.backup_to(dest)
    }

    fn send_important(&self, mut op: Op) {
        let deadline = Instant::now() + IMPORTANT_WAIT;
        loop {
            match self.inner.ops.try_send(op) {
                Ok(()) => return,
                Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                    op = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(TrySendError::Full(_)) => return self.count_drop(),
                Err(TrySendError::Disconnected(_)) => return,
            }
        }
    }

    fn count_drop(&self) {
        let n = self.inner.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if n == 1 || n.is_multiple_of(1000) {
            tracing::warn!(
                dropped = n,
                "OLAP writer queue full: records dropped from {} (the CSV still has every round)",
                self.inner.olap_path.display()
            );
        }
    }
}

/// The writing connection and what it remembers between batches.
struct Writer {
    conn: Connection,
    path: PathBuf,
}

impl Writer {
    fn open(path: &Path) -> Result<Writer, StatsError> {
        let err = |source| StatsError::Olap {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StatsError::Olap {
                path: path.to_owned(),
                source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
            })?;
        }
        let conn = Connection::open(path).map_err(err)?;
        schema::create_or_check(&conn, path)?;
        Ok(Writer {
            conn,
            path: path.to_owned(),
        })
    }

    fn run(mut self, rx: Receiver<Op>, counters: &Counters) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
            if let Err(e) = self.write_batch(&mut batch, counters) {
                counters
                    .failed
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                tracing::error!("OLAP database {}: batch lost: {e}", self.path.display());
            }
            for op in batch {
                if let Op::Flush(reply) = op {
                    let _ = reply.send(());
                }
            }
        }
        tracing::debug!("OLAP writer stopped");
    }

    fn write_batch(&mut self, batch: &mut [Op], counters: &Counters) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        for op in batch.iter() {
            let result = match op {
                Op::Experiment(e) => insert_experiment(&tx, e),
                Op::Round(r) => insert_round(&tx, r).map(|()| {
                    counters.rounds.fetch_add(1, Ordering::Relaxed);
                }),
                Op::Block(b) => {
                    let mut result = Ok(());
                    for row in chain_optimae_rows(b) {
                        match insert_chain_optimae(&tx, &row) {
                            Ok(true) => {
                                counters.chain_optimae.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(false) => {}
                            Err(e) => result = Err(e),
                        }
                    }
                    result
                }
                Op::Finish(s) => finish_experiment(&tx, s),
                Op::Rollback(height) => tx
                    .execute(
                        "DELETE FROM fact_chain_optimae WHERE block_height > ?1 \
                         AND imported_from IS NULL",
                        [*height],
                    )
                    .map(|_| ()),
                Op::Flush(_) => Ok(()),
            };
            if let Err(e) = result {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("OLAP database {}: record refused: {e}", self.path.display());
            }
        }
        tx.commit()
    }
}

fn insert_experiment(tx: &Connection, e: &ExperimentInfo) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT OR IGNORE INTO dim_domain (domain_id) VALUES (?1)")?
        .execute([&e.domain_id])?;
    tx.prepare_cached(
        "INSERT OR IGNORE INTO dim_experiment (experiment_id, domain_id, node_id, hostname, \
         optimizer_plugin, performance_metric, metric_schema, higher_is_better, \
         optimization_config, param_bounds, target_performance, started_at, finished_at, \
         converged, doin_version) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, NULL, FALSE, ?13)",
    )?
    .execute(params![
        e.experiment_id,
        e.domain_id,
        e.node_id,
        e.hostname,
        e.optimizer_plugin,
        e.performance_metric,
        e.metric_schema,
        e.higher_is_better,
        e.optimization_config,
        e.param_bounds,
        e.target_performance,
        e.started_at.isoformat(),
        e.doin_version,
    ])?;
    Ok(())
}

fn insert_round(tx: &Connection, r: &RoundRecord) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO fact_round (round_id, experiment_id, domain_id, round_number, \
         timestamp_utc, performance, best_performance, performance_delta, is_improvement, \
         parameters, best_parameters, wall_clock_seconds, elapsed_seconds, \
         time_to_current_best_seconds, time_to_target_seconds, chain_height, peers_count, \
         block_reward_earned, converged, metric_schema, metrics) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
         0.0, ?18, '', ?19)",
    )?
    .execute(params![
        r.round_id,
        r.experiment_id,
        r.domain_id,
        r.round_number as i64,
        r.timestamp.isoformat(),
        r.performance,
        r.best_performance,
        r.performance_delta,
        r.is_improvement,
        r.parameters,
        r.best_parameters,
        r.wall_clock_seconds,
        r.elapsed_seconds,
        r.time_to_current_best_seconds,
        r.time_to_target_seconds,
        r.chain_height,
        r.peers_count,
        r.converged,
        r.metrics,
    ])?;
    Ok(())
}

/// Inserts a chain row unless its optimae id is already there; `true` when inserted.
fn insert_chain_optimae(tx: &Connection, row: &ChainOptimaeRow) -> rusqlite::Result<bool> {
    let n = insert_fact_chain_optimae(
        tx,
        row,
        Some(&row.experiment_id),
        &Timestamp::now_utc().isoformat(),
        None,
    )?;
    if n > 0 {
        tx.prepare_cached("INSERT OR IGNORE INTO dim_domain (domain_id) VALUES (?1)")?
            .execute([&row.domain_id])?;
    }
    Ok(n > 0)
}

/// The `fact_chain_optimae` row of `row` unless its optimae id is already there (the
/// number of rows written): live rows from this node's chain (`imported_from` NULL) and
/// rows of an imported reference chain ([`crate::archive`]) alike.
pub(crate) fn insert_fact_chain_optimae(
    tx: &Connection,
    row: &ChainOptimaeRow,
    experiment_id: Option<&str>,
    ingested_at: &str,
    imported_from: Option<&str>,
) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO fact_chain_optimae (optimae_id, domain_id, optimizer_id, \
         experiment_id, round_number, parameters, reported_performance, \
         verified_performance, effective_increment, time_to_this_result_seconds, \
         optimization_config_hash, data_hash, previous_best_performance, reward_fraction, \
         quorum_agree_fraction, block_height, block_timestamp, ingested_at, imported_from) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
         ?17, ?18, ?19)",
    )?
    .execute(params![
        row.optimae_id,
        row.domain_id,
        row.optimizer_id,
        experiment_id,
        row.round_number,
        row.parameters,
        row.reported_performance,
        row.verified_performance,
        row.effective_increment,
        row.time_to_this_result_seconds,
        row.optimization_config_hash,
        row.data_hash,
        row.previous_best_performance,
        row.reward_fraction,
        row.quorum_agree_fraction,
        row.block_height,
        row.block_timestamp,
        ingested_at,
        imported_from,
    ])
}

fn finish_experiment(tx: &Connection, s: &ExperimentSummary) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO fact_experiment_summary (experiment_id, domain_id, total_rounds, \
         final_performance, best_performance, time_to_target_seconds, total_elapsed_seconds, \
         converged, rounds_to_convergence, node_id, hostname) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        s.experiment_id,
        s.domain_id,
        s.total_rounds as i64,
        s.final_performance,
        s.best_performance,
        s.time_to_target_seconds,
        s.total_elapsed_seconds,
        s.converged,
        s.rounds_to_convergence.map(|r| r as i64),
        s.node_id,
        s.hostname,
    ])?;
    tx.prepare_cached(
        "UPDATE dim_experiment SET finished_at = ?2, converged = ?3 WHERE experiment_id = ?1",
    )?
    .execute(params![
        s.experiment_id,
        s.finished_at.isoformat(),
        s.converged
    ])?;
    Ok(())
}
