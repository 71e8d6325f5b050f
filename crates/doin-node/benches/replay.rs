//! Blocks validated and imported per second from a stored chain: builds a chain of
//! `DOIN_BENCH_BLOCKS` (default 10,000) blocks, each with one accepted optimae verified by
//! a signed vote, stores it in `chain.db`, then times `open_chain`, which replays every
//! block through every rule (ids, merkle root, votes, quorum, increments, threshold,
//! coinbase; signatures were verified when the blocks were stored) as the node does at
//! start-up, and a replay that also verifies every signature, as for blocks from a peer.

use std::time::Instant;

use doin_consensus::params::{ChainParams, DomainParams};
use doin_consensus::state::ChainState;
use doin_node::chain_service::open_chain;

fn main() {
    let n: u64 = std::env::var("DOIN_BENCH_BLOCKS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("chain.db");
    let mut params = ChainParams::solo_default();
    params.initial_threshold = 1e-6;
    params.target_block_time_secs = 10.0;
    params.domains = vec![DomainParams::new("bench", true)];
    let build = Instant::now();
    doin_node::testnet::build_chain(&path, &params, "bench", n).expect("chain");
    eprintln!("built and stored {n} blocks in {:.2?}", build.elapsed());
    // Verification is what is measured: forget the seals the set-up verified.
    doin_primitives::seal_cache::clear();
    let start = Instant::now();
    let opened = open_chain(&path, &params).expect("open");
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(opened.state.height(), n);
    println!(
        "start-up replay of chain.db (every rule; signatures checked when stored): {n} blocks in {secs:.3} s = {:.0} blocks/s",
        n as f64 / secs
    );
    let reader = opened.store.reader().expect("reader");
    // Verification is what is measured: forget the seals the set-up verified.
    doin_primitives::seal_cache::clear();
    let start = Instant::now();
    let mut fresh = ChainState::new(params);
    reader
        .for_each_block(1, |b| -> Result<(), doin_store::StoreError> {
            fresh.apply_block(&b).expect("valid");
            Ok(())
        })
        .expect("stream");
    let secs = start.elapsed().as_secs_f64();
    println!(
        "full validation as for a peer's blocks (3 ECDSA verifications per block): {n} blocks in {secs:.3} s = {:.0} blocks/s",
        n as f64 / secs
    );
}
