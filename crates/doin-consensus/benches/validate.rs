//! Blocks validated and applied per second: a solo chain of 2,000 blocks, one accepted
//! optimae each (three ECDSA verifications per block: generator, optimizer, vote).
//!
//! Run with `cargo bench -p doin-consensus --bench validate`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::{identity, solo_block, solo_params};
use doin_consensus::ChainState;

const BLOCKS: u64 = 2_000;

fn main() {
    let node = identity(1);
    let build_start = Instant::now();
    let mut state = ChainState::new(solo_params());
    let mut blocks = Vec::with_capacity(BLOCKS as usize);
    for k in 1..=BLOCKS {
        let b = solo_block(&state, &node, k);
        state.apply_block(&b).expect("valid");
        blocks.push(b);
    }
    let built = build_start.elapsed();

    let start = Instant::now();
    let replayed = ChainState::replay(solo_params(), &blocks).expect("replays");
    let elapsed = start.elapsed();
    assert_eq!(replayed, state);
    let secs = elapsed.as_secs_f64();
    println!(
        "built, validated and applied {BLOCKS} blocks in {:.3} s (node side: score, seal, build)",
        built.as_secs_f64()
    );
    println!(
        "validate+apply: {BLOCKS} blocks in {secs:.3} s = {:.0} blocks/s ({:.1} µs/block)",
        BLOCKS as f64 / secs,
        secs * 1e6 / BLOCKS as f64
    );
}
