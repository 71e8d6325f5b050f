//! The OLAP star schema, version 3: the reference's tables, columns and indexes.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use crate::error::StatsError;

/// The schema version this crate writes.
pub const SCHEMA_VERSION: i64 = 3;

/// The tables, in the order their rows may be copied (dimensions before facts).
pub const TABLES: [&str; 5] = [
    "dim_domain",
    "dim_experiment",
    "fact_round",
    "fact_experiment_summary",
    "fact_chain_optimae",
];

/// The DDL (idempotent).
pub const DDL: &str = "
CREATE TABLE IF NOT EXISTS _schema_version (
    version INTEGER NOT NULL,
    applied_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dim_domain (
    domain_id TEXT PRIMARY KEY,
    domain_type TEXT,
    description TEXT
);
CREATE TABLE IF NOT EXISTS dim_experiment (
    experiment_id TEXT PRIMARY KEY,
    domain_id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    hostname TEXT,
    optimizer_plugin TEXT,
    performance_metric TEXT,
    metric_schema TEXT,
    higher_is_better BOOLEAN DEFAULT TRUE,
    optimization_config JSON,
    param_bounds JSON,
    target_performance REAL,
    started_at TEXT,
    finished_at TEXT,
    converged BOOLEAN DEFAULT FALSE,
    doin_version TEXT
);
CREATE TABLE IF NOT EXISTS fact_round (
    round_id TEXT PRIMARY KEY,
    experiment_id TEXT NOT NULL REFERENCES dim_experiment(experiment_id),
    domain_id TEXT NOT NULL,
    round_number INTEGER NOT NULL,
    timestamp_utc TEXT NOT NULL,
    performance REAL NOT NULL,
    best_performance REAL,
    performance_delta REAL,
    is_improvement BOOLEAN,
    parameters JSON,
    best_parameters JSON,
    wall_clock_seconds REAL,
    elapsed_seconds REAL,
    time_to_current_best_seconds REAL,
    time_to_target_seconds REAL,
    chain_height INTEGER DEFAULT 0,
    peers_count INTEGER DEFAULT 0,
    block_reward_earned REAL DEFAULT 0.0,
    converged BOOLEAN DEFAULT FALSE,
    train_mae REAL,
    train_naive_mae REAL,
    val_mae REAL,
    val_naive_mae REAL,
    test_mae REAL,
    test_naive_mae REAL,
    metric_schema TEXT,
    metrics JSON
);
CREATE TABLE IF NOT EXISTS fact_experiment_summary (
    experiment_id TEXT PRIMARY KEY REFERENCES dim_experiment(experiment_id),
    domain_id TEXT NOT NULL,
    total_rounds INTEGER,
    final_performance REAL,
    best_performance REAL,
    time_to_target_seconds REAL,
    total_elapsed_seconds REAL,
    converged BOOLEAN,
    rounds_to_convergence INTEGER,
    node_id TEXT,
    hostname TEXT
);
CREATE TABLE IF NOT EXISTS fact_chain_optimae (
    optimae_id TEXT PRIMARY KEY,
    domain_id TEXT NOT NULL,
    optimizer_id TEXT NOT NULL,
    experiment_id TEXT,
    round_number INTEGER,
    parameters JSON,
    reported_performance REAL,
    verified_performance REAL,
    effective_increment REAL,
    time_to_this_result_seconds REAL,
    optimization_config_hash TEXT,
    data_hash TEXT,
    previous_best_performance REAL,
    reward_fraction REAL,
    quorum_agree_fraction REAL,
    block_height INTEGER NOT NULL,
    block_timestamp TEXT NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS archive_source (
    source_id TEXT PRIMARY KEY,
    source_path TEXT NOT NULL,
    source_format TEXT NOT NULL,
    height INTEGER NOT NULL,
    optimae INTEGER NOT NULL,
    imported_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_fact_round_experiment ON fact_round(experiment_id);
CREATE INDEX IF NOT EXISTS idx_fact_round_domain ON fact_round(domain_id);
CREATE INDEX IF NOT EXISTS idx_fact_round_timestamp ON fact_round(timestamp_utc);
CREATE INDEX IF NOT EXISTS idx_fact_round_performance ON fact_round(performance);
CREATE INDEX IF NOT EXISTS idx_dim_experiment_domain ON dim_experiment(domain_id);
CREATE INDEX IF NOT EXISTS idx_fact_summary_domain ON fact_experiment_summary(domain_id);
CREATE INDEX IF NOT EXISTS idx_fact_chain_optimae_domain ON fact_chain_optimae(domain_id);
CREATE INDEX IF NOT EXISTS idx_fact_chain_optimae_experiment ON fact_chain_optimae(experiment_id);
";

/// Sets WAL and foreign keys on a writing connection, creates the schema if missing and
/// records its version once.
pub(crate) fn create_or_check(conn: &Connection, path: &Path) -> Result<(), StatsError> {
    let err = |source| StatsError::Olap {
        path: path.to_owned(),
        source,
    };
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(err)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(err)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(err)?;
    conn.execute_batch(DDL).map_err(err)?;
    migrate_columns(conn).map_err(err)?;
    let found: Option<i64> = conn
        .query_row("SELECT MAX(version) FROM _schema_version", [], |r| r.get(0))
        .optional()
        .map_err(err)?
        .flatten();
    match found {
        Some(v) if v > SCHEMA_VERSION => Err(StatsError::NewerSchema {
            path: path.to_owned(),
            found: v,
            supported: SCHEMA_VERSION,
        }),
        Some(v) if v == SCHEMA_VERSION => Ok(()),
        _ => {
            conn.execute(
                "INSERT INTO _schema_version (version, applied_at) VALUES (?1, ?2)",
                rusqlite::params![
                    SCHEMA_VERSION,
                    doin_primitives::Timestamp::now_utc().isoformat()
                ],
            )
            .map_err(err)?;
            Ok(())
        }
    }
}

/// Columns versions 2 and 3 added, and DOIN's `imported_from` (the `archive_source` a row
/// came from; `NULL` for this node's own rows, see [`crate::archive`]); a database made by
/// an older version gets them.
const ADDED_COLUMNS: [(&str, &str, &str); 15] = [
    ("fact_round", "train_mae", "REAL"),
    ("fact_round", "train_naive_mae", "REAL"),
    ("fact_round", "val_mae", "REAL"),
    ("fact_round", "val_naive_mae", "REAL"),
    ("fact_round", "test_mae", "REAL"),
    ("fact_round", "test_naive_mae", "REAL"),
    ("fact_round", "metric_schema", "TEXT"),
    ("fact_round", "metrics", "JSON"),
    ("dim_experiment", "performance_metric", "TEXT"),
    ("dim_experiment", "metric_schema", "TEXT"),
    ("dim_experiment", "higher_is_better", "BOOLEAN DEFAULT TRUE"),
    ("dim_experiment", "imported_from", "TEXT"),
    ("fact_round", "imported_from", "TEXT"),
    ("fact_experiment_summary", "imported_from", "TEXT"),
    ("fact_chain_optimae", "imported_from", "TEXT"),
];

fn migrate_columns(conn: &Connection) -> rusqlite::Result<()> {
    for (table, column, ty) in ADDED_COLUMNS {
        let present: bool = conn.query_row(
            &format!("SELECT COUNT(*) > 0 FROM pragma_table_info('{table}') WHERE name = ?1"),
            [column],
            |r| r.get(0),
        )?;
        if !present {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {ty}"))?;
        }
    }
    Ok(())
}
