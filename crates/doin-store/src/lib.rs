//! # doin-store
//!
//! The chain store: blocks and their transactions in one SQLite file, `chain.db`. It
//! persists blocks exactly and hands them back; it knows no consensus rule and no HTTP.
//!
//! ## Bird's eye view
//! * [`ChainStore`] (`store.rs`) — the one writer: [`ChainStore::open`],
//!   [`ChainStore::append`], [`ChainStore::append_batch`], [`ChainStore::truncate_above`],
//!   [`ChainStore::set_meta`].
//! * [`ChainReader`] (`reader.rs`) — read queries (tip, blocks by index or hash, ranges,
//!   streaming replay, transactions by id, metadata), on a read-only connection that
//!   another thread can own; the writer offers the same queries.
//! * [`schema`] — tables, schema version, connection settings.
//! * [`StoreError`] (`error.rs`) — typed failures whose messages say what to do.
//!
//! ## Files
//! `<data_dir>/chain.db` plus SQLite's `chain.db-wal` and `chain.db-shm` while it is open,
//! and `chain.db.lock`, which the writer keeps locked (the one-writer rule, `lock.rs`).
//! Stop the node before copying `chain.db` as a backup (or copy it with its `-wal`).
//!
//! ## Schema
//! Modelled on the reference's `chain.db`:
//! * `metadata(key PK, value)` — `schema_version` and whatever the node stores (e.g. the
//!   chain-parameters hash).
//! * `blocks(block_index PK, hash UNIQUE, previous_hash, timestamp, merkle_root,
//!   generator_id, weighted_performance_sum, threshold, tx_count, wire)` — the header as
//!   columns for queries, and `wire`, the block's full wire JSON, which is what blocks are
//!   read back from, so that extension fields (seal, coinbase) come back byte for byte.
//! * `transactions(tx_id PK, block_index FK, tx_index, tx_type, domain_id, peer_id,
//!   payload, timestamp)` — one row per transaction; the primary key makes a repeated
//!   transaction id anywhere in the chain a refused append.
//!
//! A new file holds the genesis block at index 0. The chain is always contiguous: an
//! append is checked against the tip (index and parent hash) inside its own transaction.
//!
//! ## Durability
//! WAL journal with `synchronous=FULL`: when [`ChainStore::append`] returns `Ok`, the block
//! survives a kill or a power loss; a batch is all or nothing. A crash test kills a writer
//! with SIGKILL mid-append and checks nothing committed is lost.
//!
//! ## One writer, many readers
//! One [`ChainStore`] per file: a second one, in this process or another, fails to open
//! with [`StoreError::Locked`] until the first is dropped or its process dies. Writes take
//! `&mut self`. Readers
//! ([`ChainStore::reader`], [`ChainReader::open`]) see consistent snapshots while the writer
//! appends. Data read back is untrusted: a damaged row is a [`StoreError::Corrupt`], never a
//! panic.

mod error;
mod lock;
mod reader;
pub mod schema;
mod store;

pub use error::StoreError;
pub use reader::ChainReader;
pub use store::ChainStore;
