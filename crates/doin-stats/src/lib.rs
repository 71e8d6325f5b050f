//! # doin-stats
//!
//! Experiment tracking and analytics for a DOIN node: what each optimization round did, and
//! what every participant got accepted on the chain. It reads the chain, never changes it.
//!
//! Bird's eye view:
//!
//! ```text
//!  optimizer loops ──record_round──┐               ┌─> experiment_stats.csv (caller's thread,
//!  (ExperimentTracker)             │  StatsHandle  │    one write_all per line)
//!  chain service ───record_block───┼──────────────>┤
//!  node start-up ──start/finish────┘               └─> bounded queue ─> "olap-writer" thread
//!                                                        (batches into one transaction)
//!                                                              │
//!                                                           olap.db (WAL)
//!                                                        │               │
//!                        OlapReader (read-only) ─> /stats API,    "olap-pg-sync" thread
//!                                 backup API ─> /stats/export     ─> PostgreSQL
//! ```
//!
//! * [`csv`] — the per-round CSV with the reference tracker's 51 columns, append-only,
//!   crash-safe (a torn last line is cut on open).
//! * [`schema`] — the OLAP star schema version 3, exactly the reference's tables:
//!   `_schema_version`, `dim_domain`, `dim_experiment`, `fact_round`,
//!   `fact_experiment_summary`, `fact_chain_optimae`, with their indexes.
//! * [`olap`] — [`StatsHandle`], the cheap-to-clone front, and the one writer thread that
//!   owns the writing connection. Rounds never make the optimization loop wait: when the
//!   queue is full they are dropped from the OLAP and counted ([`StatsCounters`]).
//! * [`tracker`] — [`ExperimentTracker`]: best so far, deltas, timings and the latching
//!   `converged` flag of one experiment.
//! * [`chain`] — the `fact_chain_optimae` rows of a block's OPTIMAE_ACCEPTED
//!   transactions (any node, optimizer or not, records every participant's results).
//! * [`archive`] — a reference chain's history imported beside ours, every row marked with
//!   `imported_from`; what the node derives from its own chain ignores those rows.
//! * [`reader`] — [`OlapReader`], read-only queries and the online backup.
//! * [`progress`] — each domain's best over time, network-wide and per node: the records
//!   the chain's accepted optimae set (the dashboard's progress chart).
//! * [`pg`] — the PostgreSQL export: schema with PostgreSQL types, incremental and
//!   idempotent sync (high-water marks, `ON CONFLICT`), and a background loop with back-off;
//!   one file each for the connection, the exported tables, reading OLAP rows, one sync and
//!   the loop.
//! * [`pg_tls`] — PostgreSQL connections with TLS (rustls), libpq's `sslmode` and
//!   `sslrootcert`; the anchor table of `doin-node` connects through it too.

pub mod archive;
pub mod chain;
pub mod csv;
pub mod error;
pub mod model;
pub mod olap;
pub mod pg;
pub mod pg_tls;
pub mod progress;
pub mod reader;
pub mod schema;
pub mod tracker;

pub use error::StatsError;
pub use model::{ChainOptimaeRow, ExperimentInfo, ExperimentSummary, RoundRecord};
pub use olap::{StatsCounters, StatsHandle, StatsOptions};
pub use progress::BestPoint;
pub use reader::OlapReader;
pub use tracker::ExperimentTracker;
