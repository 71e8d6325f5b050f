//! PostgreSQL export of the OLAP database, for dashboards such as Metabase.
//!
//! [`PgExport::sync`] creates the schema (PostgreSQL types: `boolean`, `timestamptz`,
//! `double precision`, `bigint`, `jsonb`) and copies what is new since the last sync:
//!
//! * the append-only facts (`fact_round`, `fact_chain_optimae`) by SQLite rowid, from a
//!   per-table high-water mark kept in PostgreSQL (`_doin_sync_state`) and advanced in the
//!   same transaction as the rows it covers, with `ON CONFLICT DO NOTHING`;
//! * the small tables that change in place (`dim_domain`, `dim_experiment`,
//!   `fact_experiment_summary`) in full, as upserts that touch only rows that differ.
//!
//! A sync that fails halfway leaves PostgreSQL at a committed batch boundary, and the next
//! one goes on from there: the OLAP database is the source of truth, so an outage loses
//! nothing. [`spawn_sync_loop`] runs syncs every few seconds on a thread of its own, with
//! back-off while PostgreSQL is unreachable.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::ValueRef;
use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

use crate::error::StatsError;
use crate::reader::OlapReader;

/// Rows per PostgreSQL transaction when copying facts.
const BATCH_ROWS: usize = 1000;

/// The PostgreSQL type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Text,
    Json,
    Float,
    Int,
    Bool,
    Time,
}

impl Ty {
    fn ddl(self) -> &'static str {
        match self {
            Ty::Text => "TEXT",
            Ty::Json => "JSONB",
            Ty::Float => "DOUBLE PRECISION",
            Ty::Int => "BIGINT",
            Ty::Bool => "BOOLEAN",
            Ty::Time => "TIMESTAMPTZ",
        }
    }

    /// The placeholder: text parameters are cast on the server.
    fn placeholder(self, n: usize) -> String {
        match self {
            Ty::Json => format!("${n}::text::jsonb"),
            Ty::Time => format!("${n}::text::timestamptz"),
            _ => format!("${n}"),
        }
    }
}

/// How a table is copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// New rows by rowid, `ON CONFLICT DO NOTHING`.
    Append,
    /// Every row, updating those that changed.
    Upsert,
}

struct Table {
    name: &'static str,
    key: &'static str,
    mode: Mode,
    columns: &'static [(&'static str, Ty)],
}

use Ty::{Bool, Float, Int, Json, Text, Time};

const TABLES: [Table; 5] = [
    Table {
        name: "dim_domain",
        key: "domain_id",
        mode: Mode::Upsert,
        columns: &[
            ("domain_id", Text),
            ("domain_type", Text),
            ("description", Text),
        ],
    },
    Table {
        name: "dim_experiment",
        key: "experiment_id",
        mode: Mode::Upsert,
        columns: &[
            ("experiment_id", Text),
            ("domain_id", Text),
            ("node_id", Text),
            ("hostname", Text),
            ("optimizer_plugin", Text),
            ("performance_metric", Text),
            ("metric_schema", Text),
            ("higher_is_better", Bool),
            ("optimization_config", Json),
            ("param_bounds", Json),
            ("target_performance", Float),
            ("started_at", Time),
            ("finished_at", Time),
            ("converged", Bool),
            ("doin_version", Text),
            ("imported_from", Text),
        ],
    },
    Table {
        name: "fact_round",
        key: "round_id",
        mode: Mode::Append,
        columns: &[
            ("round_id", Text),
            ("experiment_id", Text),
            ("domain_id", Text),
            ("round_number", Int),
            ("timestamp_utc", Time),
            ("performance", Float),
            ("best_performance", Float),
            ("performance_delta", Float),
            ("is_improvement", Bool),
            ("parameters", Json),
            ("best_parameters", Json),
            ("wall_clock_seconds", Float),
            ("elapsed_seconds", Float),
            ("time_to_current_best_seconds", Float),
            ("time_to_target_seconds", Float),
            ("chain_height", Int),
            ("peers_count", Int),
            ("block_reward_earned", Float),
            ("converged", Bool),
            ("train_mae", Float),
            ("train_naive_mae", Float),
            ("val_mae", Float),
            ("val_naive_mae", Float),
            ("test_mae", Float),
            ("test_naive_mae", Float),
            ("metric_schema", Text),
            ("metrics", Json),
            ("imported_from", Text),
        ],
    },
    Table {
        name: "fact_experiment_summary",
        key: "experiment_id",
        mode: Mode::Upsert,
        columns: &[
            ("experiment_id", Text),
            ("domain_id", Text),
            ("total_rounds", Int),
            ("final_performance", Float),
            ("best_performance", Float),
            ("time_to_target_seconds", Float),
            ("total_elapsed_seconds", Float),
            ("converged", Bool),
            ("rounds_to_convergence", Int),
            ("node_id", Text),
            ("hostname", Text),
            ("imported_from", Text),
        ],
    },
    Table {
        name: "fact_chain_optimae",
        key: "optimae_id",
        mode: Mode::Append,
        columns: &[
            ("optimae_id", Text),
            ("domain_id", Text),
            ("optimizer_id", Text),
            ("experiment_id", Text),
            ("round_number", Int),
            ("parameters", Json),
            ("reported_performance", Float),
            ("verified_performance", Float),
            ("effective_increment", Float),
            ("time_to_this_result_seconds", Float),
            ("optimization_config_hash", Text),
            ("data_hash", Text),
            ("previous_best_performance", Float),
            ("reward_fraction", Float),
            ("quorum_agree_fraction", Float),
            ("block_height", Int),
            ("block_timestamp", Time),
            ("ingested_at", Time),
            ("imported_from", Text),
        ],
    },
];

/// What one sync copied: rows inserted or changed per table, in [`crate::schema::TABLES`]
/// order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// `(table, rows inserted or changed)`.
    pub tables: Vec<(&'static str, u64)>,
}

impl SyncReport {
    /// Rows inserted or changed over all tables.
    pub fn total(&self) -> u64 {
        self.tables.iter().map(|t| t.1).sum()
    }

    /// Rows inserted or changed in `table`.
    pub fn rows(&self, table: &str) -> u64 {
        self.tables.iter().find(|t| t.0 == table).map_or(0, |t| t.1)
    }
}

/// A value read from SQLite, typed for PostgreSQL.
#[derive(Debug)]
enum Cell {
    Text(Option<String>),
    Float(Option<f64>),
    Int(Option<i64>),
    Bool(Option<bool>),
}

impl Cell {
    fn read(v: ValueRef<'_>, ty: Ty) -> Cell {
        let text = |v: ValueRef<'_>| match v {
            ValueRef::Null => None,
            ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Integer(i) => Some(i.to_string()),
            ValueRef::Real(f) => Some(f.to_string()),
            ValueRef::Blob(b) => Some(hex::encode(b)),
        };
        let float = match v {
            ValueRef::Integer(i) => Some(i as f64),
            ValueRef::Real(f) => Some(f),
            ValueRef::Text(t) => std::str::from_utf8(t).ok().and_then(|s| s.parse().ok()),
            _ => None,
        };
        match ty {
            Ty::Text | Ty::Json | Ty::Time => {
                let t = text(v);
                // Empty JSON / timestamp text would not cast; it means "unknown".
                if ty != Ty::Text && t.as_deref().is_some_and(|s| s.trim().is_empty()) {
                    Cell::Text(None)
                } else {
                    Cell::Text(t)
                }
            }
            Ty::Float => Cell::Float(float.filter(|f| f.is_finite())),
            Ty::Int => Cell::Int(match v {
                ValueRef::Integer(i) => Some(i),
                ValueRef::Real(f) => Some(f as i64),
                _ => None,
            }),
            Ty::Bool => Cell::Bool(match v {
                ValueRef::Integer(i) => Some(i != 0),
                ValueRef::Real(f) => Some(f != 0.0),
                ValueRef::Text(t) => Some(matches!(t, b"1" | b"true" | b"TRUE" | b"True")),
                _ => None,
            }),
        }
    }

    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Cell::Text(v) => v,
            Cell::Float(v) => v,
            Cell::Int(v) => v,
            Cell::Bool(v) => v,
        }
    }
}

/// A connection to PostgreSQL and the schema the OLAP tables go to.
pub struct PgExport {
    client: Client,
    schema: String,
    connection: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for PgExport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgExport")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl Drop for PgExport {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

/// Checks a schema name is a plain identifier (it is spliced into SQL).
fn check_schema(schema: &str) -> Result<(), StatsError> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(StatsError::SchemaName(schema.to_owned()))
    }
}

impl PgExport {
    /// Connects to `url` (a `postgres://` URL or key=value string, TLS as its `sslmode` and
    /// `sslrootcert` say: see [`crate::pg_tls`]) and creates the schema `schema` (`public`
    /// by default) and its tables if missing. Must run inside a tokio runtime.
    pub async fn connect(url: &str, schema: &str) -> Result<PgExport, StatsError> {
        check_schema(schema)?;
        let (client, conn) = crate::pg_tls::connect(url).await?;
        let connection = tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("PostgreSQL connection closed: {e}");
            }
        });
        let export = PgExport {
            client,
            schema: schema.to_owned(),
            connection,
        };
        export.create_schema().await?;
        Ok(export)
    }

    /// The client (for tests and queries of the exported tables).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The schema the tables are in.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    async fn create_schema(&self) -> Result<(), StatsError> {
        let s = &self.schema;
        let mut ddl = format!("CREATE SCHEMA IF NOT EXISTS {s};\n");
        for t in &TABLES {
            let cols: Vec<String> = t
                .columns
                .iter()
                .map(|(c, ty)| {
                    let pk = if *c == t.key { " PRIMARY KEY" } else { "" };
                    format!("{c} {}{pk}", ty.ddl())
                })
                .collect();
            ddl.push_str(&format!(
                "CREATE TABLE IF NOT EXISTS {s}.{} ({});\n",
                t.name,
                cols.join(", ")
            ));
            for (c, ty) in t.columns {
                ddl.push_str(&format!(
                    "ALTER TABLE {s}.{} ADD COLUMN IF NOT EXISTS {c} {};\n",
                    t.name,
                    ty.ddl()
                ));
            }
        }
        ddl.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {s}._doin_sync_state (source_id TEXT NOT NULL, \
             table_name TEXT NOT NULL, last_rowid BIGINT NOT NULL, last_sync_utc TIMESTAMPTZ \
             NOT NULL, PRIMARY KEY (source_id, table_name));\n\
             CREATE INDEX IF NOT EXISTS fact_round_experiment_idx ON {s}.fact_round (experiment_id);\n\
             CREATE INDEX IF NOT EXISTS fact_round_domain_idx ON {s}.fact_round (domain_id);\n\
             CREATE INDEX IF NOT EXISTS fact_chain_optimae_domain_idx ON {s}.fact_chain_optimae (domain_id);\n"
        ));
        // Concurrent first syncs race on CREATE; one lock makes them take turns.
        ddl = format!("SET LOCAL client_min_messages TO warning;\nSELECT pg_advisory_xact_lock(7345210001);\n{ddl}");
        self.client
            .batch_execute(&format!("BEGIN;\n{ddl}COMMIT;"))
            .await?;
        Ok(())
    }

    /// Copies what is new in the OLAP database behind `reader` (see the module doc).
    pub async fn sync(&mut self, reader: &OlapReader) -> Result<SyncReport, StatsError> {
        self.sync_observed(reader, &mut |_, _| {}).await
    }

    /// As [`PgExport::sync`], calling `progress(table, rows_read)` as each batch of source
    /// rows is handled (for a progress bar).
    pub async fn sync_observed(
        &mut self,
        reader: &OlapReader,
        progress: &mut (dyn FnMut(&str, u64) + Send),
    ) -> Result<SyncReport, StatsError> {
        let source = source_id(reader)?;
        let mut report = SyncReport::default();
        for t in &TABLES {
            let n = match t.mode {
                Mode::Upsert => {
                    let n = self.upsert_all(reader, t).await?;
                    progress(t.name, reader.count(t.name).unwrap_or(0).max(0) as u64);
                    n
                }
                Mode::Append => self.append_new(reader, t, &source, progress).await?,
            };
            report.tables.push((t.name, n));
        }
        Ok(report)
    }

    fn insert_sql(&self, t: &Table, rows: usize) -> String {
        let names: Vec<&str> = t.columns.iter().map(|c| c.0).collect();
        let mut sql = format!(
            "INSERT INTO {}.{} ({}) VALUES ",
            self.schema,
            t.name,
            names.join(", ")
        );
        let mut n = 0;
        for r in 0..rows {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for (i, (_, ty)) in t.columns.iter().enumerate() {
                n += 1;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&ty.placeholder(n));
            }
            sql.push(')');
        }
        match t.mode {
            Mode::Append => sql.push_str(&format!(" ON CONFLICT ({}) DO NOTHING", t.key)),
            Mode::Upsert => {
                let others: Vec<&str> = names.iter().copied().filter(|c| *c != t.key).collect();
                let set: Vec<String> = others
                    .iter()
                    .map(|c| format!("{c} = EXCLUDED.{c}"))
                    .collect();
                let old: Vec<String> = others.iter().map(|c| format!("{}.{c}", t.name)).collect();
                let new: Vec<String> = others.iter().map(|c| format!("EXCLUDED.{c}")).collect();
                sql.push_str(&format!(
                    " ON CONFLICT ({}) DO UPDATE SET {} WHERE ({}) IS DISTINCT FROM ({})",
                    t.key,
                    set.join(", "),
                    old.join(", "),
                    new.join(", ")
                ));
            }
        }
        sql
    }

    async fn upsert_all(&mut self, reader: &OlapReader, t: &Table) -> Result<u64, StatsError> {
        let rows = read_rows(reader, t, None, usize::MAX)?;
        let mut total = 0;
        for chunk in rows.chunks(BATCH_ROWS) {
            let sql = self.insert_sql(t, chunk.len());
            let params: Vec<&(dyn ToSql + Sync)> = chunk
                .iter()
                .flat_map(|(_, cells)| cells.iter().map(Cell::as_sql))
                .collect();
            total += self.client.execute(sql.as_str(), &params).await?;
        }
        Ok(total)
    }

    async fn append_new(
        &mut self,
        reader: &OlapReader,
        t: &Table,
        source: &str,
        progress: &mut (dyn FnMut(&str, u64) + Send),
    ) -> Result<u64, StatsError> {
        let state = format!("{}._doin_sync_state", self.schema);
        let mark: i64 = self
            .client
            .query_opt(
                &format!("SELECT last_rowid FROM {state} WHERE source_id = $1 AND table_name = $2"),
                &[&source, &t.name],
            )
            .await?
            .map_or(0, |r| r.get(0));
        let mut mark = mark;
        let mut total = 0;
        loop {
            let rows = read_rows(reader, t, Some(mark), BATCH_ROWS)?;
            let Some(last) = rows.last().map(|r| r.0) else {
                break;
            };
            let sql = self.insert_sql(t, rows.len());
            let params: Vec<&(dyn ToSql + Sync)> = rows
                .iter()
                .flat_map(|(_, cells)| cells.iter().map(Cell::as_sql))
                .collect();
            let tx = self.client.transaction().await?;
            total += tx.execute(sql.as_str(), &params).await?;
            tx.execute(
                &format!(
                    "INSERT INTO {state} (source_id, table_name, last_rowid, last_sync_utc) \
                     VALUES ($1, $2, $3, now()) ON CONFLICT (source_id, table_name) \
                     DO UPDATE SET last_rowid = EXCLUDED.last_rowid, last_sync_utc = now()"
                ),
                &[&source, &t.name, &last],
            )
            .await?;
            tx.commit().await?;
            mark = last;
            progress(t.name, rows.len() as u64);
            if rows.len() < BATCH_ROWS {
                break;
            }
        }
        Ok(total)
    }
}

/// The identity of an OLAP database: the time its schema was first created (a database
/// deleted and made again restarts its rowids, so it must not reuse the old marks).
fn source_id(reader: &OlapReader) -> Result<String, StatsError> {
    reader
        .connection()
        .query_row(
            "SELECT applied_at FROM _schema_version ORDER BY rowid LIMIT 1",
            [],
            |r| r.get::<_, String>(0),
        )
        .map_err(|source| StatsError::Olap {
            path: reader.path().to_owned(),
            source,
        })
}

/// Up to `limit` rows of `t` after rowid `after` (all rows when `None`), with their rowids.
fn read_rows(
    reader: &OlapReader,
    t: &Table,
    after: Option<i64>,
    limit: usize,
) -> Result<Vec<(i64, Vec<Cell>)>, StatsError> {
    let names: Vec<&str> = t.columns.iter().map(|c| c.0).collect();
    let sql = format!(
        "SELECT rowid, {} FROM {} WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
        names.join(", "),
        t.name
    );
    let err = |source| StatsError::Olap {
        path: reader.path().to_owned(),
        source,
    };
    let mut st = reader.connection().prepare_cached(&sql).map_err(err)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = st
        .query_map(rusqlite::params![after.unwrap_or(i64::MIN), limit], |row| {
            let rowid: i64 = row.get(0)?;
            let mut cells = Vec::with_capacity(t.columns.len());
            for (i, (_, ty)) in t.columns.iter().enumerate() {
                cells.push(Cell::read(row.get_ref(i + 1)?, *ty));
            }
            Ok((rowid, cells))
        })
        .map_err(err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(err)
}

/// One sync of the OLAP database at `olap_path` into `url`/`schema` (the `olap-sync`
/// subcommand). Must run inside a tokio runtime.
pub async fn sync_once(
    olap_path: &Path,
    url: &str,
    schema: &str,
) -> Result<SyncReport, StatsError> {
    let reader = OlapReader::open(olap_path)?;
    let mut export = PgExport::connect(url, schema).await?;
    export.sync(&reader).await
}

/// Settings of the background sync.
#[derive(Debug, Clone)]
pub struct SyncLoopOptions {
    /// The OLAP database.
    pub olap_path: PathBuf,
    /// PostgreSQL URL.
    pub url: String,
    /// Target schema.
    pub schema: String,
    /// Pause between syncs.
    pub interval: Duration,
    /// Longest pause after repeated failures.
    pub max_backoff: Duration,
}

/// Runs a sync every `interval` on a thread of its own (with its own small runtime, so
/// the node's runtime never waits on SQLite reads), until `stop` turns true. Failures
/// (PostgreSQL down, network) are logged and retried with doubling pauses up to
/// `max_backoff`.
pub fn spawn_sync_loop(
    options: SyncLoopOptions,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("olap-pg-sync".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("PostgreSQL sync not started: {e}");
                    return;
                }
            };
            rt.block_on(async move {
                let mut export: Option<PgExport> = None;
                let mut reader: Option<OlapReader> = None;
                let mut pause = options.interval;
                let mut failing = false;
                loop {
                    let result = async {
                        if reader.is_none() {
                            reader = Some(OlapReader::open(&options.olap_path)?);
                        }
                        if export.is_none() {
                            export = Some(PgExport::connect(&options.url, &options.schema).await?);
                        }
                        match (export.as_mut(), reader.as_ref()) {
                            (Some(e), Some(r)) => e.sync(r).await,
                            _ => Ok(SyncReport::default()),
                        }
                    }
                    .await;
                    match result {
                        Ok(report) => {
                            if failing {
                                tracing::info!("PostgreSQL sync recovered");
                            }
                            failing = false;
                            pause = options.interval;
                            if report.total() > 0 {
                                tracing::debug!(rows = report.total(), "PostgreSQL sync");
                            }
                        }
                        Err(e) => {
                            export = None;
                            if failing {
                                pause = (pause * 2).min(options.max_backoff);
                            } else {
                                pause = options.interval;
                            }
                            failing = true;
                            tracing::warn!("PostgreSQL sync failed, retrying in {pause:?}: {e}");
                        }
                    }
                    let stopped = tokio::time::timeout(pause, stop.wait_for(|s| *s)).await;
                    if matches!(stopped, Ok(Ok(_)) | Ok(Err(_))) {
                        break;
                    }
                }
            });
        })
}
