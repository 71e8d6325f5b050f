//! The store's error type: every failure says what happened and what the user can do.

use std::path::PathBuf;

/// Why a chain-store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The directory that should hold the database could not be created.
    #[error("cannot create the data directory {path}: {source}; check its permissions or use --data-dir")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// SQLite could not open or initialise the database file.
    #[error("cannot open the chain store {path}: {source}; check the file's permissions or use --data-dir")]
    Open {
        /// The database file.
        path: PathBuf,
        /// SQLite's reason.
        source: rusqlite::Error,
    },
    /// Another writer has the file open, or held SQLite's lock for longer than the busy timeout.
    #[error("another doin-node is using {path}; stop it or use --data-dir")]
    Locked {
        /// The database file.
        path: PathBuf,
    },
    /// The file was written with a schema this build does not know.
    #[error(
        "the chain store {path} has schema version {found}, this doin-node reads version {supported}; \
         use a doin-node that matches it, or start with an empty --data-dir and sync"
    )]
    SchemaVersion {
        /// The database file.
        path: PathBuf,
        /// The version recorded in the file.
        found: String,
        /// The version this build reads and writes.
        supported: &'static str,
    },
    /// The stored genesis block is not the one this store was opened for.
    #[error(
        "the chain store {path} starts from genesis {found}, not {expected}; \
         it belongs to another network: use another --data-dir"
    )]
    GenesisMismatch {
        /// The database file.
        path: PathBuf,
        /// Hash of the genesis block in the file.
        found: String,
        /// Hash of the genesis block expected.
        expected: String,
    },
    /// The block's index does not follow the tip.
    #[error("block {got} is not the next block: the chain's tip is {tip}, so {} is expected", tip + 1)]
    NotNext {
        /// The index of the stored tip.
        tip: i64,
        /// The index of the block offered.
        got: i64,
    },
    /// The block's `previous_hash` is not the hash of the tip.
    #[error("block {index} builds on {got}, but the tip's hash is {expected}")]
    WrongParent {
        /// The index of the block offered.
        index: i64,
        /// The hash of the stored tip.
        expected: String,
        /// The block's `previous_hash`.
        got: String,
    },
    /// A transaction id already exists in the chain (or twice in the block).
    #[error("transaction {0} is already in the chain; a transaction can be included only once")]
    DuplicateTransaction(String),
    /// A block with the same hash is already stored.
    #[error("block hash {0} is already in the chain")]
    DuplicateBlock(String),
    /// A truncation would remove the genesis block.
    #[error("refusing to truncate above index {0}: the genesis block (index 0) is never removed")]
    WouldRemoveGenesis(i64),
    /// The metadata key is managed by the store itself.
    #[error("metadata key {0:?} is reserved for the store itself; pick another key")]
    ReservedMetaKey(String),
    /// Data read back from disk does not make sense.
    #[error(
        "the chain store is corrupt at {location}: {reason}; restore chain.db from a backup, \
         or move it away and resync into an empty --data-dir"
    )]
    Corrupt {
        /// Which row or file.
        location: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Any other SQLite failure (disk full, I/O error...).
    #[error("chain store I/O failed: {0}; check free disk space and the data directory")]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    /// Builds a [`StoreError::Corrupt`].
    pub(crate) fn corrupt(location: impl Into<String>, reason: impl ToString) -> Self {
        StoreError::Corrupt {
            location: location.into(),
            reason: reason.to_string(),
        }
    }

    /// Gives SQLite errors that have a clearer meaning (locked, corrupt file) their own variant.
    pub(crate) fn from_sqlite(path: &std::path::Path, e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked {
                path: path.to_owned(),
            },
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
                StoreError::corrupt(path.display().to_string(), e)
            }
            _ => match e {
                rusqlite::Error::FromSqlConversionFailure(..)
                | rusqlite::Error::InvalidColumnType(..)
                | rusqlite::Error::IntegralValueOutOfRange(..) => {
                    StoreError::corrupt(path.display().to_string(), e)
                }
                e => StoreError::Sqlite(e),
            },
        }
    }
}
