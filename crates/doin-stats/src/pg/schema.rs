//! The exported tables: each column's PostgreSQL type, how each table is copied (appended
//! by rowid or upserted in full), the DDL that creates them, and the batched `INSERT`
//! statements with their conflict clauses.

use crate::error::StatsError;

use super::PgExport;

/// The PostgreSQL type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ty {
    Text,
    Json,
    Float,
    Int,
    Bool,
    Time,
}

impl Ty {
    pub(super) fn ddl(self) -> &'static str {
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
    pub(super) fn placeholder(self, n: usize) -> String {
        match self {
            Ty::Json => format!("${n}::text::jsonb"),
            Ty::Time => format!("${n}::text::timestamptz"),
            _ => format!("${n}"),
        }
    }
}

/// How a table is copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// New rows by rowid, `ON CONFLICT DO NOTHING`.
    Append,
    /// Every row, updating those that changed.
    Upsert,
}

pub(super) struct Table {
    pub(super) name: &'static str,
    pub(super) key: &'static str,
    pub(super) mode: Mode,
    pub(super) columns: &'static [(&'static str, Ty)],
}

use Ty::{Bool, Float, Int, Json, Text, Time};

pub(super) const TABLES: [Table; 5] = [
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

impl PgExport {
    /// Creates the schema, its tables (adding columns a newer version has) and indexes, and
    /// the high-water-mark table, under one advisory lock.
    pub(super) async fn create_schema(&self) -> Result<(), StatsError> {
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

    /// The `INSERT` of `rows` rows of `t`, with its conflict clause: nothing for appended
    /// facts, an update of the rows that differ for upserted tables.
    pub(super) fn insert_sql(&self, t: &Table, rows: usize) -> String {
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
}
