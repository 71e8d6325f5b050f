//! The one writing handle: opens or creates `chain.db`, appends blocks, truncates for reorgs.

use std::borrow::Borrow;
use std::ops::Deref;
use std::path::Path;

use doin_primitives::cjson::write_map;
use doin_primitives::models::{Block, WireModel};
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};

use crate::error::StoreError;
use crate::lock::WriterLock;
use crate::reader::{tip_of, ChainReader};
use crate::schema;

/// The chain store's writer. Exactly one per `chain.db`: appends are checked against the tip
/// inside the same SQLite transaction, so the chain stays contiguous whatever the caller
/// does, and each commit is on disk before the call returns.
///
/// Every read query of [`ChainReader`] is available on it too (through `Deref`).
#[derive(Debug)]
pub struct ChainStore {
    reader: ChainReader,
    _lock: WriterLock,
}

impl Deref for ChainStore {
    type Target = ChainReader;

    fn deref(&self) -> &ChainReader {
        &self.reader
    }
}

impl ChainStore {
    /// Opens `path` (e.g. `<data_dir>/chain.db`), creating it and its parent directories
    /// with the reference's genesis block if it does not exist. Fails with
    /// [`StoreError::Locked`] while another writer has the file open.
    pub fn open(path: &Path) -> Result<ChainStore, StoreError> {
        Self::open_with_genesis(path, &Block::genesis())
    }

    /// As [`ChainStore::open`], for a network whose genesis block is `genesis`. An existing
    /// file must start with that same block.
    pub fn open_with_genesis(path: &Path, genesis: &Block) -> Result<ChainStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let open_err = |source: rusqlite::Error| match StoreError::from_sqlite(path, source) {
            StoreError::Sqlite(source) => StoreError::Open {
                path: path.to_owned(),
                source,
            },
            other => other,
        };
        let lock = WriterLock::acquire(path)?;
        let conn = Connection::open(path).map_err(open_err)?;
        schema::configure_writer(&conn).map_err(open_err)?;
        let mut store = ChainStore {
            reader: ChainReader {
                conn,
                path: path.to_owned(),
            },
            _lock: lock,
        };
        store.initialise(genesis)?;
        Ok(store)
    }

    fn initialise(&mut self, genesis: &Block) -> Result<(), StoreError> {
        let path = self.reader.path.clone();
        let err = |e| StoreError::from_sqlite(&path, e);
        let tx = self
            .reader
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        if schema::create_or_check(&tx, &path)? {
            insert_block(&tx, genesis)?;
        } else {
            let found: Option<String> = tx
                .query_row("SELECT hash FROM blocks WHERE block_index = 0", [], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(err)?;
            match found {
                Some(hash) if hash == genesis.hash => {}
                Some(hash) => {
                    return Err(StoreError::GenesisMismatch {
                        path,
                        found: hash,
                        expected: genesis.hash.clone(),
                    })
                }
                None => {
                    return Err(StoreError::corrupt(
                        "block 0",
                        "the genesis block is missing",
                    ))
                }
            }
        }
        tx.commit().map_err(err)
    }

    /// A new read-only handle on the same file, for another thread (HTTP server, sync).
    pub fn reader(&self) -> Result<ChainReader, StoreError> {
        ChainReader::open(&self.reader.path)
    }

    /// Appends `block` as the new tip, durably. Refuses a block that is not `tip + 1`, does
    /// not build on the tip's hash, or repeats a transaction id already in the chain; on
    /// refusal nothing is written. Consensus rules are the caller's to check first.
    pub fn append(&mut self, block: &Block) -> Result<(), StoreError> {
        self.append_batch(std::slice::from_ref(block))
    }

    /// Appends `blocks` in order in one SQLite transaction: all of them or none. Takes
    /// anything that holds a block, so a caller keeping blocks in a wrapper (checked
    /// blocks from a sync) stores them without copying each one.
    pub fn append_batch<B: Borrow<Block>>(&mut self, blocks: &[B]) -> Result<(), StoreError> {
        let path = self.reader.path.clone();
        let err = |e| StoreError::from_sqlite(&path, e);
        let tx = self
            .reader
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let (mut tip, mut tip_hash) = tip_of(&tx)
            .map_err(err)?
            .ok_or_else(|| StoreError::corrupt("table blocks", "no genesis block"))?;
        for block in blocks.iter().map(Borrow::borrow) {
            if block.header.index != tip + 1 {
                return Err(StoreError::NotNext {
                    tip,
                    got: block.header.index,
                });
            }
            if block.header.previous_hash != tip_hash {
                return Err(StoreError::WrongParent {
                    index: block.header.index,
                    expected: tip_hash,
                    got: block.header.previous_hash.clone(),
                });
            }
            insert_block(&tx, block)?;
            tip = block.header.index;
            tip_hash.clone_from(&block.hash);
        }
        tx.commit().map_err(err)
    }

    /// Deletes every block above `index`, with its transactions, in one transaction (a
    /// reorg; finality is the caller's to enforce). Returns how many blocks were removed.
    /// Genesis is never removed: `index` must be 0 or more.
    pub fn truncate_above(&mut self, index: i64) -> Result<u64, StoreError> {
        if index < 0 {
            return Err(StoreError::WouldRemoveGenesis(index));
        }
        let path = self.reader.path.clone();
        let err = |e| StoreError::from_sqlite(&path, e);
        let tx = self
            .reader
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute("DELETE FROM transactions WHERE block_index > ?1", [index])
            .map_err(err)?;
        let removed = tx
            .execute("DELETE FROM blocks WHERE block_index > ?1", [index])
            .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(removed as u64)
    }

    /// Sets metadata `key` to `value` (e.g. the chain-parameters hash), durably.
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        if key == schema::SCHEMA_VERSION_KEY {
            return Err(StoreError::ReservedMetaKey(key.to_owned()));
        }
        self.reader
            .conn
            .execute(
                "INSERT INTO metadata (key, value) VALUES (?1, ?2) \
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map_err(|e| self.reader.err(e))?;
        Ok(())
    }
}

/// Inserts one block and its transaction rows; the caller has checked it extends the tip.
fn insert_block(conn: &Connection, block: &Block) -> Result<(), StoreError> {
    let h = &block.header;
    conn.prepare_cached(
        "INSERT INTO blocks (block_index, hash, previous_hash, timestamp, merkle_root, \
         generator_id, weighted_performance_sum, threshold, tx_count, wire) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        h.index,
        block.hash,
        h.previous_hash,
        h.timestamp.isoformat(),
        h.merkle_root,
        h.generator_id,
        h.weighted_performance_sum,
        h.threshold,
        block.transactions.len() as i64,
        block.to_wire_json(),
    ])
    .map_err(|e| on_constraint(e, || StoreError::DuplicateBlock(block.hash.clone())))?;

    let mut insert_tx = conn.prepare_cached(
        "INSERT INTO transactions (tx_id, block_index, tx_index, tx_type, domain_id, peer_id, \
         payload, timestamp) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut payload = String::new();
    for (position, t) in block.transactions.iter().enumerate() {
        payload.clear();
        write_map(&t.payload, &mut payload);
        insert_tx
            .execute(params![
                t.id,
                h.index,
                position as i64,
                t.tx_type.as_str(),
                t.domain_id,
                t.peer_id,
                payload,
                t.timestamp.isoformat(),
            ])
            .map_err(|e| on_constraint(e, || StoreError::DuplicateTransaction(t.id.clone())))?;
    }
    Ok(())
}

/// Maps a uniqueness violation to the caller's typed error, anything else to `Sqlite`.
fn on_constraint(e: rusqlite::Error, typed: impl FnOnce() -> StoreError) -> StoreError {
    if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) {
        typed()
    } else {
        StoreError::Sqlite(e)
    }
}
