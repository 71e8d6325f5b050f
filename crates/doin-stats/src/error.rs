//! Errors of the stats sinks.

use std::path::PathBuf;

/// Why a stats file or database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// The experiment CSV could not be opened or written.
    #[error("experiment CSV {path}: {source} (check the directory's permissions and free space, or set experiment_stats_file / --stats-file)")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The OLAP database failed.
    #[error("OLAP database {path}: {source} (set olap_db_path / --olap-db elsewhere, or delete the file to rebuild it)")]
    Olap {
        /// The database.
        path: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// The OLAP database was made by a newer version of DOIN.
    #[error("OLAP database {path} has schema version {found}, newer than this node's {supported}; use a newer doin-node or another --olap-db")]
    NewerSchema {
        /// The database.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// Ours.
        supported: i64,
    },
    /// The writer thread has stopped.
    #[error("the OLAP writer has stopped")]
    WriterStopped,
    /// PostgreSQL failed.
    #[error("PostgreSQL: {0} (check postgres_url and that the server is running)")]
    Postgres(#[from] tokio_postgres::Error),
    /// The PostgreSQL connection could not be made (options, TLS, server).
    #[error("PostgreSQL: {0} (check postgres_url and that the server is running)")]
    PgConnect(#[from] crate::pg_tls::PgConnectError),
    /// A PostgreSQL identifier (schema name) is not a plain name.
    #[error("invalid PostgreSQL schema name {0:?}: use letters, digits and underscores")]
    SchemaName(String),
}
