//! The one-writer rule across processes: a writer holds an exclusive SQLite lock on a small
//! side file, `<chain.db>.lock`, for as long as it is open.
//!
//! SQLite's own locks on `chain.db` only last one transaction, so two nodes pointed at the
//! same data directory would otherwise take turns appending. Holding the lock in a side file
//! (not in `chain.db`, where it would shut out readers) makes the second writer fail at
//! open. The operating system drops the lock when the process dies, even by SIGKILL, so a
//! crash never leaves a stale lock behind.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode};

use crate::error::StoreError;

/// Held by the writer; releases the lock when dropped.
#[derive(Debug)]
pub(crate) struct WriterLock {
    _conn: Connection,
}

/// The side file's path for database `db`.
fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl WriterLock {
    /// Takes the writer lock for database `db`, or reports who has it.
    pub(crate) fn acquire(db: &Path) -> Result<WriterLock, StoreError> {
        let path = lock_path(db);
        let fail = |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked {
                path: db.to_owned(),
            },
            _ => StoreError::Open {
                path: path.clone(),
                source: e,
            },
        };
        let conn = Connection::open(&path).map_err(fail)?;
        // A write in exclusive locking mode keeps the EXCLUSIVE lock until the connection
        // closes; no busy timeout, so a second writer fails at once.
        conn.busy_timeout(Duration::ZERO).map_err(fail)?;
        conn.execute_batch(
            "PRAGMA locking_mode=EXCLUSIVE;
             PRAGMA journal_mode=DELETE;
             BEGIN EXCLUSIVE;
             CREATE TABLE IF NOT EXISTS writer (note TEXT);
             COMMIT;",
        )
        .map_err(fail)?;
        Ok(WriterLock { _conn: conn })
    }
}
