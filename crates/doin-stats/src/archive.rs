//! A reference chain's history as an archive in the OLAP database: its accepted optimae
//! and the experiments they belong to, beside this node's own rows and marked as imported.
//!
//! The reference writes two OPTIMAE_ACCEPTED transactions per accepted optimae: a summary
//! (`optimae_id`, `performance`, `increment`) and a detailed one whose top-level keys carry
//! the results and the experiment metrics (`parameters`, `verified_performance`,
//! `effective_increment`, `reward_fraction`, `quorum_agree_fraction`, `experiment_id`,
//! `round_number`, `time_to_this_result_seconds`, `optimization_config_hash`, `data_hash`,
//! `reported_performance`, `previous_best_performance`, …). [`reference_optimae_rows`] reads
//! both, one row per optimae id, the detailed keys winning.
//!
//! [`import_archive`] writes, in one transaction and only where the key is new (so a second
//! import of the same chain adds nothing):
//! * `archive_source`: one row per imported chain, keyed by its tip hash;
//! * `fact_chain_optimae`: every accepted optimae;
//! * `dim_experiment`, `fact_round` (one round per accepted optimae) and
//!   `fact_experiment_summary` for the optimae that name an experiment;
//!
//! each with `imported_from` = the chain's tip hash. This node's own rows have
//! `imported_from` `NULL`, and what the node derives from its own chain (the stats catch-up
//! height, rollbacks after a reorganisation, the previous best of a domain) ignores
//! imported rows, so an archive never passes for our chain.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use doin_primitives::cjson::to_cjson;
use doin_primitives::models::{Block, TransactionType};
use doin_primitives::{Map, Timestamp, Value};
use rusqlite::{params, Connection};

use crate::error::StatsError;
use crate::model::ChainOptimaeRow;

/// `doin_version` of an imported experiment.
pub const IMPORTED_VERSION: &str = "reference (imported)";

/// The chain an archive comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveSource {
    /// The hash of its tip block: names the chain (and keys `archive_source`).
    pub source_id: String,
    /// The file it was read from, as the user named it.
    pub path: String,
    /// `sqlite` (a reference `chain.db`) or `json` (a chain export).
    pub format: String,
    /// The index of its tip block.
    pub height: i64,
}

/// What one import wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Whether this chain had not been imported before.
    pub new_source: bool,
    /// Accepted optimae found in the chain.
    pub optimae: u64,
    /// Experiments they belong to.
    pub experiments: u64,
    /// `fact_chain_optimae` rows added.
    pub optimae_added: u64,
    /// `fact_round` rows added.
    pub rounds_added: u64,
    /// `dim_experiment` rows added.
    pub experiments_added: u64,
}

impl ImportReport {
    /// Rows added in all.
    pub fn rows_added(&self) -> u64 {
        self.optimae_added + self.rounds_added + self.experiments_added + u64::from(self.new_source)
    }
}

fn number(m: &Map, key: &str) -> Option<f64> {
    m.get(key).and_then(Value::as_f64).filter(|x| x.is_finite())
}

fn text(m: &Map, key: &str) -> Option<String> {
    m.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The accepted optimae of a reference chain, one row per optimae id in chain order, read
/// from the top-level keys of its OPTIMAE_ACCEPTED payloads (see the module doc). A
/// transaction without an `optimae_id` is an optimae of its own, named by its id.
pub fn reference_optimae_rows(blocks: &[Block]) -> Vec<ChainOptimaeRow> {
    let mut rows: Vec<ChainOptimaeRow> = Vec::new();
    let mut at: BTreeMap<String, usize> = BTreeMap::new();
    for block in blocks {
        for tx in &block.transactions {
            if tx.tx_type != TransactionType::OptimaeAccepted {
                continue;
            }
            let p = &tx.payload;
            let id = text(p, "optimae_id").unwrap_or_else(|| tx.id.clone());
            let i = *at.entry(id.clone()).or_insert_with(|| {
                rows.push(ChainOptimaeRow {
                    optimae_id: id,
                    domain_id: tx.domain_id.clone(),
                    optimizer_id: tx.peer_id.clone(),
                    parameters: "{}".into(),
                    block_height: block.header.index,
                    block_timestamp: block.header.timestamp.isoformat(),
                    reward_fraction: 1.0,
                    ..ChainOptimaeRow::default()
                });
                rows.len() - 1
            });
            let row = &mut rows[i];
            // The summary transaction: `performance` and `increment`.
            if let Some(perf) = number(p, "performance") {
                row.verified_performance = perf;
                row.reported_performance = perf;
            }
            if let Some(inc) = number(p, "increment") {
                row.effective_increment = inc;
            }
            // The detailed one, whose keys win.
            if let Some(Value::Object(params)) = p.get("parameters") {
                row.parameters = to_cjson(&Value::Object(params.clone()));
            }
            if let Some(v) = number(p, "verified_performance") {
                row.verified_performance = v;
            }
            if let Some(v) = number(p, "reported_performance") {
                row.reported_performance = v;
            }
            if let Some(v) = number(p, "effective_increment") {
                row.effective_increment = v;
            }
            if let Some(v) = number(p, "reward_fraction") {
                row.reward_fraction = v;
            }
            if let Some(v) = number(p, "quorum_agree_fraction") {
                row.quorum_agree_fraction = Some(v);
            }
            if let Some(v) = number(p, "previous_best_performance") {
                row.previous_best_performance = Some(v);
            }
            if let Some(v) = text(p, "experiment_id") {
                row.experiment_id = v;
            }
            if let Some(v) = p.get("round_number").and_then(Value::as_i64) {
                row.round_number = v;
            }
            if let Some(v) = number(p, "time_to_this_result_seconds") {
                row.time_to_this_result_seconds = v;
            }
            if let Some(v) = text(p, "optimization_config_hash") {
                row.optimization_config_hash = v;
            }
            if let Some(v) = text(p, "data_hash") {
                row.data_hash = v;
            }
        }
    }
    rows
}

/// Loads a verified reference chain into the OLAP database at `olap_path` as an archive
/// (see the module doc); idempotent.
pub fn import_archive(
    olap_path: &Path,
    source: &ArchiveSource,
    blocks: &[Block],
) -> Result<ImportReport, StatsError> {
    let err = |source| StatsError::Olap {
        path: PathBuf::from(olap_path),
        source,
    };
    let mut conn = Connection::open(olap_path).map_err(err)?;
    crate::schema::create_or_check(&conn, olap_path)?;
    let rows = reference_optimae_rows(blocks);
    let tx = conn.transaction().map_err(err)?;
    let report = write(&tx, source, &rows).map_err(err)?;
    tx.commit().map_err(err)?;
    Ok(report)
}

fn write(
    tx: &Connection,
    source: &ArchiveSource,
    rows: &[ChainOptimaeRow],
) -> rusqlite::Result<ImportReport> {
    let now = Timestamp::now_utc().isoformat();
    let from = &source.source_id;
    let mut report = ImportReport {
        optimae: rows.len() as u64,
        ..ImportReport::default()
    };
    report.new_source = tx.execute(
        "INSERT OR IGNORE INTO archive_source (source_id, source_path, source_format, height, \
         optimae, imported_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            from,
            source.path,
            source.format,
            source.height,
            rows.len() as i64,
            now
        ],
    )? > 0;
    let mut experiments: BTreeMap<&str, Vec<&ChainOptimaeRow>> = BTreeMap::new();
    for row in rows {
        tx.prepare_cached("INSERT OR IGNORE INTO dim_domain (domain_id) VALUES (?1)")?
            .execute([&row.domain_id])?;
        // A reference chain's optimae without an experiment id keep none (NULL).
        let experiment_id = (!row.experiment_id.is_empty()).then_some(row.experiment_id.as_str());
        report.optimae_added +=
            crate::olap::insert_fact_chain_optimae(tx, row, experiment_id, &now, Some(from))?
                as u64;
        if !row.experiment_id.is_empty() {
            experiments.entry(&row.experiment_id).or_default().push(row);
        }
    }
    report.experiments = experiments.len() as u64;
    for (experiment_id, rows) in &experiments {
        let (first, last) = (rows[0], rows[rows.len() - 1]);
        report.experiments_added += tx
            .prepare_cached(
                "INSERT OR IGNORE INTO dim_experiment (experiment_id, domain_id, node_id, \
                 higher_is_better, started_at, finished_at, converged, doin_version, \
                 imported_from) VALUES (?1, ?2, ?3, NULL, ?4, ?5, NULL, ?6, ?7)",
            )?
            .execute(params![
                experiment_id,
                first.domain_id,
                first.optimizer_id,
                first.block_timestamp,
                last.block_timestamp,
                IMPORTED_VERSION,
                from,
            ])? as u64;
        for row in rows {
            report.rounds_added += tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO fact_round (round_id, experiment_id, domain_id, \
                     round_number, timestamp_utc, performance, best_performance, \
                     is_improvement, parameters, best_parameters, elapsed_seconds, \
                     time_to_current_best_seconds, chain_height, imported_from) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, TRUE, ?7, ?7, ?8, ?8, ?9, ?10)",
                )?
                .execute(params![
                    row.optimae_id,
                    experiment_id,
                    row.domain_id,
                    row.round_number,
                    row.block_timestamp,
                    row.verified_performance,
                    row.parameters,
                    row.time_to_this_result_seconds,
                    row.block_height,
                    from,
                ])? as u64;
        }
        // Only improvements are accepted, so the last is the best. A later import of a
        // longer copy of the chain refreshes the summary of an imported experiment (never
        // that of one of this node's own).
        tx.prepare_cached(
            "INSERT INTO fact_experiment_summary (experiment_id, domain_id, total_rounds, \
             final_performance, best_performance, total_elapsed_seconds, node_id, \
             imported_from) VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7) \
             ON CONFLICT (experiment_id) DO UPDATE SET total_rounds = excluded.total_rounds, \
             final_performance = excluded.final_performance, \
             best_performance = excluded.best_performance, \
             total_elapsed_seconds = excluded.total_elapsed_seconds \
             WHERE fact_experiment_summary.imported_from IS NOT NULL",
        )?
        .execute(params![
            experiment_id,
            last.domain_id,
            rows.len() as i64,
            last.verified_performance,
            last.time_to_this_result_seconds,
            last.optimizer_id,
            from,
        ])?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::map;
    use doin_primitives::models::{BlockHeader, Transaction};

    fn accepted(payload: Map, at: i64) -> Transaction {
        Transaction::new(
            TransactionType::OptimaeAccepted,
            "quadratic",
            "node-a",
            payload,
            Timestamp::from_unix_secs(at),
        )
    }

    fn block(index: i64, txs: Vec<Transaction>) -> Block {
        let header = BlockHeader {
            index,
            previous_hash: String::new(),
            timestamp: Timestamp::from_unix_secs(1_790_000_000 + index),
            merkle_root: String::new(),
            generator_id: "node-a".into(),
            weighted_performance_sum: 1.0,
            threshold: 1.0,
        };
        Block::new(header, txs)
    }

    #[test]
    fn summary_and_detailed_transactions_make_one_row_with_top_level_metrics() {
        let t = 1_790_000_000;
        let blocks = [
            Block::genesis(),
            block(
                1,
                vec![
                    accepted(
                        map! { "optimae_id" => "o1", "performance" => -9.0, "increment" => 2.0 },
                        t,
                    ),
                    accepted(
                        map! {
                            "optimae_id" => "o1",
                            "parameters" => map! { "x" => vec![Value::Float(1.0)] },
                            "verified_performance" => -9.5,
                            "reported_performance" => -9.0,
                            "effective_increment" => 1.5,
                            "reward_fraction" => 0.75,
                            "quorum_agree_fraction" => 1.0,
                            "experiment_id" => "e1",
                            "round_number" => 4i64,
                            "time_to_this_result_seconds" => 12.5,
                            "optimization_config_hash" => "cfg",
                            "data_hash" => "",
                            "previous_best_performance" => Value::Null,
                        },
                        t + 1,
                    ),
                ],
            ),
            // Core's format: the summary alone, no experiment.
            block(
                2,
                vec![accepted(
                    map! { "optimae_id" => "o2", "performance" => -3.0, "increment" => 6.0 },
                    t + 2,
                )],
            ),
        ];
        let rows = reference_optimae_rows(&blocks);
        assert_eq!(rows.len(), 2);
        let r = &rows[0];
        assert_eq!(
            (r.optimae_id.as_str(), r.block_height, r.round_number),
            ("o1", 1, 4)
        );
        assert_eq!(
            (r.verified_performance, r.reported_performance),
            (-9.5, -9.0)
        );
        assert_eq!((r.effective_increment, r.reward_fraction), (1.5, 0.75));
        assert_eq!(
            (r.experiment_id.as_str(), r.time_to_this_result_seconds),
            ("e1", 12.5)
        );
        assert_eq!(r.optimization_config_hash, "cfg");
        assert_eq!(r.parameters, r#"{"x": [1.0]}"#);
        assert_eq!(r.previous_best_performance, None);
        let r = &rows[1];
        assert_eq!((r.verified_performance, r.effective_increment), (-3.0, 6.0));
        assert!(r.experiment_id.is_empty());
    }

    #[test]
    fn what_the_node_derives_from_its_own_chain_ignores_an_archive() {
        let dir = tempfile::tempdir().expect("tempdir");
        let olap = dir.path().join("olap.db");
        let t = 1_790_000_000;
        let blocks = [
            Block::genesis(),
            block(
                1,
                vec![accepted(
                    map! { "optimae_id" => "o1", "performance" => -9.0 },
                    t,
                )],
            ),
            block(
                2,
                vec![accepted(
                    map! { "optimae_id" => "o2", "performance" => -4.0 },
                    t + 1,
                )],
            ),
        ];
        let source = ArchiveSource {
            source_id: blocks[2].hash.clone(),
            path: "chain.db".into(),
            format: "sqlite".into(),
            height: 2,
        };
        let report = import_archive(&olap, &source, &blocks).expect("import");
        assert_eq!((report.optimae_added, report.new_source), (2, true));
        let again = import_archive(&olap, &source, &blocks).expect("again");
        assert_eq!(again.rows_added(), 0);

        let stats = crate::StatsHandle::open(crate::StatsOptions::new(&olap, None)).expect("open");
        let reader = stats.reader().expect("reader");
        assert_eq!(
            reader.max_block_height().expect("height"),
            None,
            "catch-up starts at 1"
        );
        // A reorganisation of our chain down to genesis keeps the archive.
        stats.rollback_above(0);
        stats.flush().expect("flush");
        assert_eq!(reader.count("fact_chain_optimae").expect("count"), 2);
    }
}
