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
//!
//! Files: `mod.rs` holds the connection ([`PgExport`]); `schema.rs` the exported tables,
//! their DDL and `INSERT`s; `rows.rs` reading OLAP rows typed for PostgreSQL; `sync.rs` one
//! sync ([`PgExport::sync`], [`sync_once`]); `sync_loop.rs` the background loop.

mod rows;
mod schema;
mod sync;
mod sync_loop;

use tokio_postgres::Client;

use crate::error::StatsError;

pub use sync::{sync_once, SyncReport};
pub use sync_loop::{spawn_sync_loop, SyncLoopOptions};

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
}
