//! Reading the OLAP side: rows by rowid with each value typed for PostgreSQL, and the
//! identity of the source database.

use rusqlite::types::ValueRef;
use tokio_postgres::types::ToSql;

use crate::error::StatsError;
use crate::reader::OlapReader;

use super::schema::{Table, Ty};

/// A value read from SQLite, typed for PostgreSQL.
#[derive(Debug)]
pub(super) enum Cell {
    Text(Option<String>),
    Float(Option<f64>),
    Int(Option<i64>),
    Bool(Option<bool>),
}

impl Cell {
    pub(super) fn read(v: ValueRef<'_>, ty: Ty) -> Cell {
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

    pub(super) fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Cell::Text(v) => v,
            Cell::Float(v) => v,
            Cell::Int(v) => v,
            Cell::Bool(v) => v,
        }
    }
}

/// The identity of an OLAP database: the time its schema was first created (a database
/// deleted and made again restarts its rowids, so it must not reuse the old marks).
pub(super) fn source_id(reader: &OlapReader) -> Result<String, StatsError> {
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
pub(super) fn read_rows(
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
