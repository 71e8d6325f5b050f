//! `doin-node import-reference <chain.db | chain.json>`: a reference node's chain, verified
//! by the reference's rules, loaded into this node's OLAP database (and PostgreSQL when
//! `postgres_url` is set) as an archive, so that `/stats/*` and the dashboard show its
//! experiments beside the live ones, marked as imported.
//!
//! The file is either the reference's SQLite `chain.db` (schema version 1: `blocks` and
//! `transactions` tables) or its JSON chain: the legacy `chain.json` (an array of blocks)
//! or a `GET /chain/blocks` answer (`{"blocks": [...]}`), genesis first. Every block is
//! checked with [`verify_reference_chain`]; the first bad one is named and nothing is
//! loaded. The chain never becomes this node's chain: reference blocks are unsigned, so
//! they are history to look at, not blocks to build on. Importing the same chain again
//! adds nothing ([`doin_stats::archive`]).

use std::path::{Path, PathBuf};

use doin_consensus::reference::{verify_reference_chain, ReferenceChainError};
use doin_primitives::models::{Block, BlockHeader, Transaction, TransactionType, WireModel};
use doin_primitives::{Timestamp, Value};
use doin_stats::archive::{import_archive, ArchiveSource, ImportReport};
use doin_stats::StatsError;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

/// The first bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";
/// The `schema_version` the reference's `chain.db` records.
const REFERENCE_SCHEMA_VERSION: &str = "1";

/// Why a reference chain could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is neither a reference `chain.db` nor a JSON chain.
    #[error("{path} is not a reference chain: {reason}")]
    NotAChain {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A block of the file cannot be read as a block.
    #[error("{path}: block {index} cannot be read: {reason}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The block's position (0 = genesis).
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// A block fails the reference's validation; nothing was imported.
    #[error("{path}: {source}; nothing was imported")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The first bad block and why.
        source: ReferenceChainError,
    },
    /// The OLAP database or PostgreSQL refused the rows.
    #[error(transparent)]
    Stats(#[from] StatsError),
    /// The async runtime for the PostgreSQL copy could not start.
    #[error("starting the async runtime for PostgreSQL: {0}")]
    Runtime(std::io::Error),
}

/// The two file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainFormat {
    /// The reference's SQLite `chain.db`.
    Sqlite,
    /// A JSON chain (`chain.json` or a `/chain/blocks` answer).
    Json,
}

impl ChainFormat {
    /// The name recorded with the archive.
    pub fn as_str(self) -> &'static str {
        match self {
            ChainFormat::Sqlite => "sqlite",
            ChainFormat::Json => "json",
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOutcome {
    /// The chain's tip hash (how the archive is named).
    pub source_id: String,
    /// The file's format.
    pub format: ChainFormat,
    /// Blocks read and verified, genesis included.
    pub blocks: usize,
    /// What went into the OLAP database.
    pub report: ImportReport,
    /// Rows copied to PostgreSQL, when it is configured.
    pub postgres_rows: Option<u64>,
}

impl ImportOutcome {
    /// The one-line JSON summary the command prints.
    pub fn to_json(&self) -> serde_json::Value {
        let r = &self.report;
        serde_json::json!({
            "source_id": self.source_id,
            "format": self.format.as_str(),
            "blocks": self.blocks,
            "optimae": r.optimae,
            "experiments": r.experiments,
            "new_source": r.new_source,
            "added": {
                "fact_chain_optimae": r.optimae_added,
                "fact_round": r.rounds_added,
                "dim_experiment": r.experiments_added,
            },
            "postgres_rows": self.postgres_rows,
        })
    }
}

/// Reads a reference chain file, genesis first, and tells which format it was.
pub fn read_reference_chain(path: &Path) -> Result<(Vec<Block>, ChainFormat), ImportError> {
    let read_err = |source| ImportError::Read {
        path: path.to_owned(),
        source,
    };
    let mut magic = Vec::with_capacity(SQLITE_MAGIC.len());
    std::fs::File::open(path)
        .and_then(|f| {
            std::io::Read::read_to_end(
                &mut std::io::Read::take(f, SQLITE_MAGIC.len() as u64),
                &mut magic,
            )
        })
        .map_err(read_err)?;
    if magic == SQLITE_MAGIC {
        return Ok((read_sqlite(path)?, ChainFormat::Sqlite));
    }
    let bytes = std::fs::read(path).map_err(read_err)?;
    Ok((read_json(path, &bytes)?, ChainFormat::Json))
}

fn not_a_chain(path: &Path, reason: impl Into<String>) -> ImportError {
    ImportError::NotAChain {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn read_json(path: &Path, bytes: &[u8]) -> Result<Vec<Block>, ImportError> {
    let doc = doin_primitives::json::parse_bytes(bytes)
        .map_err(|e| not_a_chain(path, format!("neither SQLite nor JSON DOIN can read ({e})")))?;
    let list = match &doc {
        Value::Array(list) => list,
        Value::Object(m) => match m.get("blocks") {
            Some(Value::Array(list)) => list,
            _ => {
                return Err(not_a_chain(
                    path,
                    "a JSON chain is an array of blocks or an object with `blocks`",
                ))
            }
        },
        _ => {
            return Err(not_a_chain(
                path,
                "a JSON chain is an array of blocks or an object with `blocks`",
            ))
        }
    };
    list.iter()
        .enumerate()
        .map(|(index, v)| {
            Block::from_value(v).map_err(|e| ImportError::Unreadable {
                path: path.to_owned(),
                index,
                reason: e.to_string(),
            })
        })
        .collect()
}

fn read_sqlite(path: &Path) -> Result<Vec<Block>, ImportError> {
    let sql_err = |e: rusqlite::Error| not_a_chain(path, format!("SQLite: {e}"));
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sql_err)?;
    let version: Option<String> = conn
        .query_row(
            "SELECT value FROM metadata WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()
        .unwrap_or(None);
    if let Some(v) = version.filter(|v| v != REFERENCE_SCHEMA_VERSION) {
        return Err(not_a_chain(
            path,
            format!(
                "its schema_version is {v:?}, not the reference's {REFERENCE_SCHEMA_VERSION:?} \
                 (a doin chain.db is read by the node that owns it, not imported)"
            ),
        ));
    }
    let mut blocks = Vec::new();
    let mut st = conn
        .prepare(
            "SELECT block_index, hash, previous_hash, timestamp, merkle_root, generator_id, \
             weighted_performance_sum, threshold, tx_count FROM blocks ORDER BY block_index",
        )
        .map_err(sql_err)?;
    let mut tx_st = conn
        .prepare(
            "SELECT tx_id, tx_type, domain_id, peer_id, payload, timestamp FROM transactions \
             WHERE block_index = ?1 ORDER BY tx_index",
        )
        .map_err(sql_err)?;
    let mut rows = st.query([]).map_err(sql_err)?;
    while let Some(row) = rows.next().map_err(sql_err)? {
        let position = blocks.len();
        let unreadable = |reason: String| ImportError::Unreadable {
            path: path.to_owned(),
            index: position,
            reason,
        };
        let get_err = |e: rusqlite::Error| unreadable(e.to_string());
        let index: i64 = row.get(0).map_err(get_err)?;
        let stamp: String = row.get(3).map_err(get_err)?;
        let header = BlockHeader {
            index,
            previous_hash: row.get(2).map_err(get_err)?,
            timestamp: Timestamp::parse_str(&stamp).map_err(|e| unreadable(e.to_string()))?,
            merkle_root: row.get(4).map_err(get_err)?,
            generator_id: row.get(5).map_err(get_err)?,
            weighted_performance_sum: row.get(6).map_err(get_err)?,
            threshold: row.get(7).map_err(get_err)?,
        };
        let hash: String = row.get(1).map_err(get_err)?;
        let tx_count: i64 = row.get(8).map_err(get_err)?;
        let transactions = read_transactions(&mut tx_st, index).map_err(unreadable)?;
        if usize::try_from(tx_count).ok() != Some(transactions.len()) {
            return Err(unreadable(format!(
                "tx_count is {tx_count} but the file holds {} of its transactions \
                 (a pruned chain.db cannot be verified)",
                transactions.len()
            )));
        }
        let mut block = Block::new(header, transactions);
        // The stored hash, not the recomputed one: verification compares the two.
        block.hash = hash;
        blocks.push(block);
    }
    if blocks.is_empty() {
        return Err(not_a_chain(path, "its `blocks` table is empty"));
    }
    Ok(blocks)
}

fn read_transactions(
    st: &mut rusqlite::Statement<'_>,
    index: i64,
) -> Result<Vec<Transaction>, String> {
    let mut rows = st.query([index]).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let position = out.len();
        let field = |i: usize| -> Result<String, String> {
            row.get(i)
                .map_err(|e| format!("transaction {position}: {e}"))
        };
        let kind = field(1)?;
        let tx_type = TransactionType::parse(&kind)
            .ok_or_else(|| format!("transaction {position}: unknown tx_type {kind:?}"))?;
        let payload = match doin_primitives::json::parse(&field(4)?) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err(format!("transaction {position}: payload is not an object")),
            Err(e) => return Err(format!("transaction {position}: payload: {e}")),
        };
        let timestamp =
            Timestamp::parse_str(&field(5)?).map_err(|e| format!("transaction {position}: {e}"))?;
        let mut tx = Transaction::new(tx_type, field(2)?, field(3)?, payload, timestamp);
        // The stored id: verification recomputes it.
        tx.id = field(0)?;
        out.push(tx);
    }
    Ok(out)
}

/// Verifies the chain in `path` and loads it into the OLAP database at `olap_path` as an
/// archive; with `postgres` (`(url, schema)`), then copies what is new to PostgreSQL.
pub fn import_reference(
    path: &Path,
    olap_path: &Path,
    postgres: Option<(&str, &str)>,
) -> Result<ImportOutcome, ImportError> {
    let (blocks, format) = read_reference_chain(path)?;
    verify_reference_chain(&blocks).map_err(|source| ImportError::Invalid {
        path: path.to_owned(),
        source,
    })?;
    // `verify_reference_chain` refuses an empty chain.
    let tip = &blocks[blocks.len() - 1];
    let source = ArchiveSource {
        source_id: tip.hash.clone(),
        path: path.display().to_string(),
        format: format.as_str().to_owned(),
        height: tip.header.index,
    };
    let report = import_archive(olap_path, &source, &blocks)?;
    let postgres_rows = match postgres {
        Some((url, schema)) => Some(sync_postgres(olap_path, url, schema)?),
        None => None,
    };
    Ok(ImportOutcome {
        source_id: source.source_id,
        format,
        blocks: blocks.len(),
        report,
        postgres_rows,
    })
}

fn sync_postgres(olap_path: &Path, url: &str, schema: &str) -> Result<u64, ImportError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ImportError::Runtime)?;
    let reader = doin_stats::OlapReader::open(olap_path)?;
    let rows = runtime.block_on(async {
        let mut export = doin_stats::pg::PgExport::connect(url, schema).await?;
        Ok::<_, StatsError>(export.sync(&reader).await?.total())
    })?;
    Ok(rows)
}
