//! Read-only connections to `chain.db` for the HTTP API, beside the chain service's one
//! writer (SQLite's WAL lets them read while it writes).

use std::path::Path;

use doin_primitives::models::Block;
use doin_store::{ChainReader, StoreError};

/// A small pool of read-only store connections for the API.
pub struct ReaderPool {
    path: std::path::PathBuf,
    readers: std::sync::Mutex<Vec<ChainReader>>,
}

impl ReaderPool {
    /// Most idle connections kept.
    const MAX_IDLE: usize = 8;

    /// A pool over `chain.db` at `path`.
    pub fn new(path: &Path) -> Self {
        ReaderPool {
            path: path.to_path_buf(),
            readers: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&ChainReader) -> Result<T, StoreError>) -> Result<T, String> {
        let reader = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let reader = match reader {
            Some(r) => r,
            None => ChainReader::open(&self.path).map_err(|e| e.to_string())?,
        };
        let out = f(&reader).map_err(|e| e.to_string());
        let mut idle = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < Self::MAX_IDLE {
            idle.push(reader);
        }
        out
    }
}

impl crate::block_source::BlockSource for ReaderPool {
    fn blocks(&self, from: i64, to: i64) -> Result<Vec<Block>, String> {
        self.with(|r| r.blocks(from, to))
    }

    fn block(&self, index: i64) -> Result<Option<Block>, String> {
        self.with(|r| r.block(index))
    }

    fn blocks_json(&self, from: i64, to: i64) -> Result<Vec<String>, String> {
        self.with(|r| r.blocks_wire_json(from, to))
    }
}
