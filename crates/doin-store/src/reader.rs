//! Read queries over `chain.db`, shared by the writer and by read-only handles.
//!
//! Every block comes back from the stored wire JSON, and is checked against its row (index
//! and hash) so that a damaged row is reported as [`StoreError::Corrupt`], never trusted.

use std::path::{Path, PathBuf};

use doin_primitives::models::{Block, Transaction, WireModel};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};

use crate::error::StoreError;
use crate::schema;

const BLOCK_COLUMNS: &str = "block_index, hash, wire";

/// A handle that reads the chain. Open as many as needed (one per thread): in WAL mode they
/// read a consistent snapshot while the one [`crate::ChainStore`] appends.
#[derive(Debug)]
pub struct ChainReader {
    pub(crate) conn: Connection,
    pub(crate) path: PathBuf,
}

impl ChainReader {
    /// Opens a read-only handle on an existing `chain.db` (created by [`crate::ChainStore::open`]).
    pub fn open(path: &Path) -> Result<ChainReader, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
        schema::configure_reader(&conn).map_err(open_err)?;
        let reader = ChainReader {
            conn,
            path: path.to_owned(),
        };
        match reader.get_meta(schema::SCHEMA_VERSION_KEY)? {
            Some(v) if v == schema::SCHEMA_VERSION => Ok(reader),
            found => Err(StoreError::SchemaVersion {
                path: path.to_owned(),
                found: found.unwrap_or_else(|| "(none)".into()),
                supported: schema::SCHEMA_VERSION,
            }),
        }
    }

    /// The database file this handle reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn err(&self, e: rusqlite::Error) -> StoreError {
        StoreError::from_sqlite(&self.path, e)
    }

    /// The index and hash of the last block.
    pub fn tip(&self) -> Result<(i64, String), StoreError> {
        tip_of(&self.conn)
            .map_err(|e| self.err(e))?
            .ok_or_else(|| StoreError::corrupt("table blocks", "no block at all, not even genesis"))
    }

    /// The number of blocks, genesis included (the tip's index + 1).
    pub fn height(&self) -> Result<i64, StoreError> {
        Ok(self.tip()?.0 + 1)
    }

    /// The block at `index`, if stored.
    pub fn block(&self, index: i64) -> Result<Option<Block>, StoreError> {
        self.one_block(
            &format!("SELECT {BLOCK_COLUMNS} FROM blocks WHERE block_index = ?1"),
            index,
        )
    }

    /// The block with hash `hash`, if stored.
    pub fn block_by_hash(&self, hash: &str) -> Result<Option<Block>, StoreError> {
        self.one_block(
            &format!("SELECT {BLOCK_COLUMNS} FROM blocks WHERE hash = ?1"),
            hash,
        )
    }

    /// The stored wire JSON of the blocks with `from <= index <= to_inclusive`, in order,
    /// exactly as appended (for serving ranges without a parse and re-encode). Not checked:
    /// parse before trusting.
    pub fn blocks_wire_json(
        &self,
        from: i64,
        to_inclusive: i64,
    ) -> Result<Vec<String>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT wire FROM blocks WHERE block_index BETWEEN ?1 AND ?2 ORDER BY block_index",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([from, to_inclusive], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// The stored wire JSON of the block at `index`, exactly as appended (for serving it
    /// without a parse and re-encode). Not checked: parse it before trusting it.
    pub fn block_wire_json(&self, index: i64) -> Result<Option<String>, StoreError> {
        self.conn
            .prepare_cached("SELECT wire FROM blocks WHERE block_index = ?1")
            .and_then(|mut st| st.query_row([index], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))
    }

    /// The hash of the block at `index`, if stored (no JSON parse: cheap).
    pub fn block_hash(&self, index: i64) -> Result<Option<String>, StoreError> {
        self.conn
            .prepare_cached("SELECT hash FROM blocks WHERE block_index = ?1")
            .and_then(|mut st| st.query_row([index], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))
    }

    /// `(index, hash)` of the stored blocks with `from <= index <= to_inclusive`, in order,
    /// without parsing them (for finding a fork point during sync).
    pub fn block_hashes(
        &self,
        from: i64,
        to_inclusive: i64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT block_index, hash FROM blocks \
                 WHERE block_index BETWEEN ?1 AND ?2 ORDER BY block_index",
            )
            .and_then(|mut st| {
                st.query_map([from, to_inclusive], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(|e| self.err(e))
    }

    /// The stored blocks with `from <= index <= to_inclusive`, in order; missing ones are
    /// simply absent. The caller bounds the range: all of it is held in memory.
    pub fn blocks(&self, from: i64, to_inclusive: i64) -> Result<Vec<Block>, StoreError> {
        let mut out = Vec::new();
        self.scan(from, to_inclusive, |b| {
            out.push(b);
            Ok::<(), StoreError>(())
        })?;
        Ok(out)
    }

    /// Calls `f` on every stored block from index `from` to the tip, in order, streaming
    /// them from disk one at a time (start-up replay). Stops at the first error of `f`.
    /// The blocks seen are one consistent snapshot, even while a writer appends.
    pub fn for_each_block<E>(
        &self,
        from: i64,
        f: impl FnMut(Block) -> Result<(), E>,
    ) -> Result<(), E>
    where
        E: From<StoreError>,
    {
        self.scan(from, i64::MAX, f)
    }

    fn scan<E>(
        &self,
        from: i64,
        to_inclusive: i64,
        mut f: impl FnMut(Block) -> Result<(), E>,
    ) -> Result<(), E>
    where
        E: From<StoreError>,
    {
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {BLOCK_COLUMNS} FROM blocks \
                 WHERE block_index BETWEEN ?1 AND ?2 ORDER BY block_index"
            ))
            .map_err(|e| self.err(e))?;
        let mut rows = st.query([from, to_inclusive]).map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            f(self.decode_block(row)?)?;
        }
        Ok(())
    }

    /// The transaction with id `tx_id` and the index of the block that holds it.
    pub fn transaction(&self, tx_id: &str) -> Result<Option<(i64, Transaction)>, StoreError> {
        let found = self
            .conn
            .prepare_cached(
                "SELECT t.tx_index, b.block_index, b.hash, b.wire \
                 FROM transactions t JOIN blocks b ON b.block_index = t.block_index \
                 WHERE t.tx_id = ?1",
            )
            .and_then(|mut st| {
                st.query_row([tx_id], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                })
                .optional()
            })
            .map_err(|e| self.err(e))?;
        let Some((tx_index, block_index, hash, wire)) = found else {
            return Ok(None);
        };
        let block = decode(block_index, &hash, &wire)?;
        let tx = usize::try_from(tx_index)
            .ok()
            .and_then(|i| block.transactions.into_iter().nth(i))
            .filter(|tx| tx.id == tx_id)
            .ok_or_else(|| {
                StoreError::corrupt(
                    format!("transaction {tx_id}"),
                    format!("block {block_index} has no such transaction at position {tx_index}"),
                )
            })?;
        Ok(Some((block_index, tx)))
    }

    /// The metadata value under `key`, if set.
    pub fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .prepare_cached("SELECT value FROM metadata WHERE key = ?1")
            .and_then(|mut st| st.query_row([key], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))
    }

    fn one_block(&self, sql: &str, key: impl rusqlite::ToSql) -> Result<Option<Block>, StoreError> {
        let mut st = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let mut rows = st.query([key]).map_err(|e| self.err(e))?;
        match rows.next().map_err(|e| self.err(e))? {
            Some(row) => self.decode_block(row).map(Some),
            None => Ok(None),
        }
    }

    fn decode_block(&self, row: &Row<'_>) -> Result<Block, StoreError> {
        let index: i64 = row.get(0).map_err(|e| self.err(e))?;
        let text = |i: usize| -> Result<&str, StoreError> {
            let value = row.get_ref(i).map_err(|e| self.err(e))?;
            value
                .as_str()
                .map_err(|e| StoreError::corrupt(format!("block {index}"), e))
        };
        decode(index, text(1)?, text(2)?)
    }
}

/// Rebuilds a block from its wire JSON and checks it is the row it was stored as.
fn decode(index: i64, hash: &str, wire: &str) -> Result<Block, StoreError> {
    let location = || format!("block {index}");
    let block = Block::from_wire_json(wire).map_err(|e| StoreError::corrupt(location(), e))?;
    if block.header.index != index || block.hash != hash {
        return Err(StoreError::corrupt(
            location(),
            format!(
                "the row says index {index} hash {hash}, its JSON says index {} hash {}",
                block.header.index, block.hash
            ),
        ));
    }
    Ok(block)
}

/// The last block's index and hash, or `None` for an empty table.
pub(crate) fn tip_of(conn: &Connection) -> rusqlite::Result<Option<(i64, String)>> {
    conn.prepare_cached("SELECT block_index, hash FROM blocks ORDER BY block_index DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}
