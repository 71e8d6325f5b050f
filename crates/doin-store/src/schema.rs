//! The `chain.db` schema, its version, and the connection settings every handle uses.
//!
//! Modelled on the reference's schema version 1 (same tables and columns), plus one column
//! `blocks.wire` with the block's full wire JSON: the columns serve queries, the wire text
//! is what blocks are rebuilt from, so extension fields (seals, coinbase) come back exactly.
//! Timestamps in columns are `isoformat()` text, as in the reference; `payload` is the
//! payload's canonical JSON (sorted keys), for queries only.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction};

use crate::error::StoreError;

/// The schema version this build reads and writes (the reference's files are version 1).
pub const SCHEMA_VERSION: &str = "doin-rs-1";

/// Metadata key holding [`SCHEMA_VERSION`].
pub const SCHEMA_VERSION_KEY: &str = "schema_version";

/// How long a handle waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const CREATE_TABLES: &str = "
CREATE TABLE metadata (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE blocks (
    block_index              INTEGER PRIMARY KEY,
    hash                     TEXT NOT NULL UNIQUE,
    previous_hash            TEXT NOT NULL,
    timestamp                TEXT NOT NULL,
    merkle_root              TEXT NOT NULL,
    generator_id             TEXT NOT NULL,
    weighted_performance_sum REAL NOT NULL,
    threshold                REAL NOT NULL,
    tx_count                 INTEGER NOT NULL DEFAULT 0,
    wire                     TEXT NOT NULL
);
CREATE TABLE transactions (
    tx_id       TEXT PRIMARY KEY,
    block_index INTEGER NOT NULL REFERENCES blocks(block_index),
    tx_index    INTEGER NOT NULL,
    tx_type     TEXT NOT NULL,
    domain_id   TEXT NOT NULL,
    peer_id     TEXT NOT NULL,
    payload     TEXT NOT NULL,
    timestamp   TEXT NOT NULL
);
CREATE INDEX idx_tx_block  ON transactions(block_index);
CREATE INDEX idx_tx_type   ON transactions(tx_type);
CREATE INDEX idx_tx_peer   ON transactions(peer_id);
CREATE INDEX idx_tx_domain ON transactions(domain_id);
";

/// Settings for the one writing connection. `synchronous=FULL` makes every commit durable
/// before `append` returns; WAL lets readers run while it writes.
pub(crate) fn configure_writer(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
            Some(format!("the file system refused WAL mode (got {mode})")),
        ));
    }
    conn.execute_batch(
        "PRAGMA synchronous=FULL;
         PRAGMA foreign_keys=ON;
         PRAGMA cache_size=-65536;",
    )
}

/// Settings for a read-only connection.
pub(crate) fn configure_reader(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch("PRAGMA query_only=ON; PRAGMA cache_size=-16384;")
}

/// Whether the schema exists in this file (false for a new, empty file).
fn has_schema(tx: &Transaction<'_>) -> rusqlite::Result<bool> {
    tx.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='metadata'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// Creates the schema in an empty file, or checks the version of an existing one.
/// Returns true when the schema was just created (the caller then stores genesis).
pub(crate) fn create_or_check(tx: &Transaction<'_>, path: &Path) -> Result<bool, StoreError> {
    if !has_schema(tx)? {
        tx.execute_batch(CREATE_TABLES)?;
        tx.execute(
            "INSERT INTO metadata (key, value) VALUES (?1, ?2)",
            [SCHEMA_VERSION_KEY, SCHEMA_VERSION],
        )?;
        return Ok(true);
    }
    let found: Option<String> = tx
        .query_row(
            "SELECT value FROM metadata WHERE key = ?1",
            [SCHEMA_VERSION_KEY],
            |r| r.get(0),
        )
        .optional()?;
    match found {
        Some(v) if v == SCHEMA_VERSION => Ok(false),
        found => Err(StoreError::SchemaVersion {
            path: path.to_owned(),
            found: found.unwrap_or_else(|| "(none)".into()),
            supported: SCHEMA_VERSION,
        }),
    }
}
