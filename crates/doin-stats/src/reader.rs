//! Read-only queries on the OLAP database, on a connection of their own (WAL lets them run
//! while the writer commits), for the `/stats` endpoints, the PostgreSQL sync and backups.

use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde_json::{Map, Value};

use crate::error::StatsError;

/// A read-only connection to the OLAP database.
#[derive(Debug)]
pub struct OlapReader {
    conn: Connection,
    path: PathBuf,
}

impl OlapReader {
    /// Opens `path` read-only (the database must exist: the writer creates it).
    pub fn open(path: &Path) -> Result<OlapReader, StatsError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StatsError::Olap {
            path: path.to_owned(),
            source,
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|source| StatsError::Olap {
                path: path.to_owned(),
                source,
            })?;
        Ok(OlapReader {
            conn,
            path: path.to_owned(),
        })
    }

    /// The underlying connection (for the PostgreSQL sync's streaming reads).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The database path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, source: rusqlite::Error) -> StatsError {
        StatsError::Olap {
            path: self.path.clone(),
            source,
        }
    }

    /// Rows of `sql` as JSON objects keyed by column name (integers, reals, text, null).
    pub fn query_json(
        &self,
        sql: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<Value>, StatsError> {
        let mut st = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let names: Vec<String> = st.column_names().iter().map(|s| (*s).to_owned()).collect();
        let rows = st
            .query_map(params, |row| {
                let mut obj = Map::new();
                for (i, name) in names.iter().enumerate() {
                    obj.insert(name.clone(), json_of(row.get_ref(i)?));
                }
                Ok(Value::Object(obj))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Every `dim_experiment` row, oldest first.
    pub fn experiments(&self) -> Result<Vec<Value>, StatsError> {
        self.query_json(
            "SELECT * FROM dim_experiment ORDER BY started_at, experiment_id",
            &[],
        )
    }

    /// Every `fact_experiment_summary` row, optionally of one domain.
    pub fn summaries(&self, domain_id: Option<&str>) -> Result<Vec<Value>, StatsError> {
        match domain_id {
            Some(d) => self.query_json(
                "SELECT * FROM fact_experiment_summary WHERE domain_id = ?1 ORDER BY experiment_id",
                &[&d],
            ),
            None => self.query_json(
                "SELECT * FROM fact_experiment_summary ORDER BY experiment_id",
                &[],
            ),
        }
    }

    /// Whether the experiment has a `dim_experiment` row.
    pub fn experiment_exists(&self, experiment_id: &str) -> Result<bool, StatsError> {
        self.exists(
            "SELECT 1 FROM dim_experiment WHERE experiment_id = ?1",
            experiment_id,
        )
    }

    /// Whether the domain is known (a dimension row, an experiment or a chain optimae).
    pub fn domain_exists(&self, domain_id: &str) -> Result<bool, StatsError> {
        self.exists(
            "SELECT 1 FROM dim_domain WHERE domain_id = ?1 \
             UNION ALL SELECT 1 FROM fact_chain_optimae WHERE domain_id = ?1 LIMIT 1",
            domain_id,
        )
    }

    fn exists(&self, sql: &str, key: &str) -> Result<bool, StatsError> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut st| st.query_row([key], |_| Ok(())).optional())
            .map(|o| o.is_some())
            .map_err(|e| self.err(e))
    }

    /// The first `limit` rounds of an experiment by round number.
    pub fn rounds(&self, experiment_id: &str, limit: i64) -> Result<Vec<Value>, StatsError> {
        self.query_json(
            "SELECT * FROM fact_round WHERE experiment_id = ?1 \
             ORDER BY round_number, timestamp_utc LIMIT ?2",
            &[&experiment_id, &limit],
        )
    }

    /// Accepted optimae from the chain, optionally of one domain, in chain order.
    pub fn chain_metrics(&self, domain_id: Option<&str>) -> Result<Vec<Value>, StatsError> {
        match domain_id {
            Some(d) => self.query_json(
                "SELECT * FROM fact_chain_optimae WHERE domain_id = ?1 \
                 ORDER BY block_height, rowid",
                &[&d],
            ),
            None => self.query_json(
                "SELECT * FROM fact_chain_optimae ORDER BY block_height, rowid",
                &[],
            ),
        }
    }

    /// Rows in `table` (one of [`crate::schema::TABLES`]).
    pub fn count(&self, table: &str) -> Result<i64, StatsError> {
        self.conn
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// The highest block of this node's chain whose optimae are in `fact_chain_optimae`
    /// (`None` when none; imported archives do not count).
    pub fn max_block_height(&self) -> Result<Option<i64>, StatsError> {
        self.conn
            .query_row(
                "SELECT MAX(block_height) FROM fact_chain_optimae WHERE imported_from IS NULL",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// Copies the database to `dest` with SQLite's online backup API in one step (one read
    /// transaction, so the copy is consistent while the writer goes on).
    pub fn backup_to(&self, dest: &Path) -> Result<(), StatsError> {
        let err = |source| StatsError::Olap {
            path: dest.to_owned(),
            source,
        };
        let mut out = Connection::open(dest).map_err(err)?;
        {
            let backup = rusqlite::backup::Backup::new(&self.conn, &mut out).map_err(err)?;
            // step(-1) copies every page in one go; Busy/Locked only while a writer
            // holds an exclusive lock for a moment, so try again shortly.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            loop {
                match backup.step(-1).map_err(err)? {
                    rusqlite::backup::StepResult::Done => break,
                    _ if std::time::Instant::now() > deadline => {
                        return Err(err(rusqlite::Error::SqliteFailure(
                            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                            Some("backup: the database stayed busy for 30 s".into()),
                        )))
                    }
                    _ => std::thread::sleep(std::time::Duration::from_millis(10)),
                }
            }
        }
        // A self-contained file: no WAL beside it.
        out.pragma_update(None, "journal_mode", "DELETE")
            .map_err(err)?;
        Ok(())
    }
}

fn json_of(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::String(hex::encode(b)),
    }
}
