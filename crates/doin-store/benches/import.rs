//! Import and replay speed of the chain store: builds a valid chain, appends it in batches
//! (fast sync), appends some blocks one by one (each a durable commit), then streams it back
//! with JSON parsing (start-up replay). Prints blocks per second.
//!
//! `cargo bench -p doin-store --bench import`; `DOIN_BENCH_BLOCKS` sets the chain length.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use doin_primitives::models::{Block, GENESIS_HASH};
use doin_store::{ChainStore, StoreError};

const BATCH: usize = 50;
const TXS_PER_BLOCK: usize = 3;
const SINGLE_APPENDS: usize = 200;

fn per_sec(n: usize, secs: f64) -> String {
    format!("{:>10.0} blocks/s", n as f64 / secs)
}

fn main() -> Result<(), StoreError> {
    let n: usize = std::env::var("DOIN_BENCH_BLOCKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().map_err(|source| StoreError::CreateDir {
        path: std::env::temp_dir(),
        source,
    })?;
    let path = dir.path().join("chain.db");
    let mut store = ChainStore::open(&path)?;

    let t = Instant::now();
    let blocks = common::chain_after(0, GENESIS_HASH, n, TXS_PER_BLOCK);
    println!(
        "build    {n} blocks x {TXS_PER_BLOCK} txs:        {}",
        per_sec(n, t.elapsed().as_secs_f64())
    );

    let t = Instant::now();
    for batch in blocks.chunks(BATCH) {
        store.append_batch(batch)?;
    }
    println!(
        "append   in batches of {BATCH}:            {}",
        per_sec(n, t.elapsed().as_secs_f64())
    );

    let last = blocks.last().map_or((0, GENESIS_HASH.to_owned()), |b| {
        (b.header.index, b.hash.clone())
    });
    let singles = common::chain_after(last.0, &last.1, SINGLE_APPENDS, TXS_PER_BLOCK);
    let t = Instant::now();
    for b in &singles {
        store.append(b)?;
    }
    println!(
        "append   one by one ({SINGLE_APPENDS}, fsync each): {}",
        per_sec(SINGLE_APPENDS, t.elapsed().as_secs_f64())
    );
    drop(store);

    let t = Instant::now();
    let store = ChainStore::open(&path)?;
    let reader = store.reader()?;
    let open_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let mut count = 0_usize;
    let mut txs = 0_usize;
    reader.for_each_block(0, |b: Block| {
        count += 1;
        txs += b.transactions.len();
        Ok::<(), StoreError>(())
    })?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "replay   stream + parse ({count} blocks, {txs} txs): {}",
        per_sec(count, secs)
    );
    println!("reopen   {open_ms:.1} ms");
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!("file     {:.1} MiB", size as f64 / (1024.0 * 1024.0));
    Ok(())
}
