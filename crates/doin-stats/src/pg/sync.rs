//! One incremental, idempotent sync: appended facts from their high-water marks in batches
//! (each batch and its mark in one transaction), upserted tables in full.

use std::path::Path;

use tokio_postgres::types::ToSql;

use crate::error::StatsError;
use crate::reader::OlapReader;

use super::rows::{read_rows, source_id, Cell};
use super::schema::{Mode, Table, TABLES};
use super::PgExport;

/// Rows per PostgreSQL transaction when copying facts.
const BATCH_ROWS: usize = 1000;

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

impl PgExport {
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
