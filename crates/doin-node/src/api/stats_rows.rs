//! The OpenAPI schemas of the OLAP rows `/stats*` serve (`SELECT *` of a table, one JSON
//! object per row): read from the OLAP schema's own DDL ([`doin_stats::schema::DDL`]) when
//! the document is built, so the document lists every column with the JSON type its
//! values take, and cannot fall behind a schema change.
//!
//! A column's JSON type follows SQLite's type affinity, which is what the stored values
//! are: INTEGER → integer, REAL → number, TEXT → string, NUMERIC (`BOOLEAN`, `TIMESTAMP`,
//! …) → any, since SQLite keeps a value there as it came when it does not look numeric.
//! Every column may be `null` (a non-finite REAL reads as `null`), and none is required:
//! the reference's rows lack DOIN's columns.

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};

/// The JSON type of a column declared as `declared`, by SQLite's affinity rules.
fn json_type(declared: &str) -> Option<Type> {
    let t = declared.to_ascii_uppercase();
    if t.contains("INT") {
        Some(Type::Integer)
    } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
        Some(Type::String)
    } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
        Some(Type::Number)
    } else {
        None
    }
}

/// The columns of `table` and their declared types, from the DDL.
fn columns(table: &str) -> Result<Vec<(String, String)>, rusqlite::Error> {
    let conn = rusqlite::Connection::open_in_memory()?;
    conn.execute_batch(doin_stats::schema::DDL)?;
    let mut st = conn.prepare("SELECT name, type FROM pragma_table_info(?1)")?;
    let rows = st.query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// An array of `table`'s rows.
fn rows(table: &str) -> Schema {
    let mut row = ObjectBuilder::new().description(Some(format!("a row of `{table}`")));
    match columns(table) {
        Ok(columns) => {
            for (name, declared) in columns {
                let ty = match json_type(&declared) {
                    Some(t) => SchemaType::from_iter([t, Type::Null]),
                    None => SchemaType::AnyValue,
                };
                row = row.property(
                    name,
                    ObjectBuilder::new()
                        .schema_type(ty)
                        .description(Some(declared)),
                );
            }
        }
        Err(e) => tracing::error!("the OLAP schema's columns of {table} do not read: {e}"),
    }
    Schema::Array(ArrayBuilder::new().items(row).build())
}

/// Rows of `dim_experiment`.
pub(crate) fn experiments() -> Schema {
    rows("dim_experiment")
}

/// Rows of `fact_experiment_summary`.
pub(crate) fn summaries() -> Schema {
    rows("fact_experiment_summary")
}

/// Rows of `fact_round`.
pub(crate) fn rounds() -> Schema {
    rows("fact_round")
}

/// Rows of `fact_chain_optimae`.
pub(crate) fn chain_optimae() -> Schema {
    rows("fact_chain_optimae")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_typed_columns() {
        for table in doin_stats::schema::TABLES {
            let cols = columns(table).expect("columns");
            assert!(!cols.is_empty(), "{table}");
        }
        let schema = serde_json::to_value(rounds()).expect("json");
        let props = &schema["items"]["properties"];
        assert_eq!(
            props["round_number"]["type"],
            serde_json::json!(["integer", "null"])
        );
        assert_eq!(
            props["experiment_id"]["type"],
            serde_json::json!(["string", "null"])
        );
        assert!(json_type("BOOLEAN").is_none());
        assert!(matches!(json_type("double precision"), Some(Type::Number)));
    }
}
