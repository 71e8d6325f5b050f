//! Blocks validated and applied per second: a solo chain of 2,000 blocks, one accepted
//! optimae each (four ECDSA verifications per block: generator, optimizer, vote, and the
//! next step's commitment), after the commitment block that opens it.
//!
//! Run with `cargo bench -p doin-consensus --bench validate`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::{identity, open_chain, solo_block, solo_params, step_commitment};
use doin_consensus::ChainState;

const BLOCKS: u64 = 2_000;

fn main() {
    let node = identity(1);
    let build_start = Instant::now();
    let mut state = ChainState::new(solo_params());
    let mut blocks = Vec::with_capacity(BLOCKS as usize + 1);
    blocks.push(open_chain(&mut state, &node, &[step_commitment(&node, 1)]));
    for k in 1..=BLOCKS {
        let b = solo_block(&state, &node, k);
        state.apply_block(&b).expect("valid");
        blocks.push(b);
    }
    let built = build_start.elapsed();

    // Verification is what is measured: forget the seals the set-up verified.
    doin_primitives::seal_cache::clear();
    let start = Instant::now();
    let replayed = ChainState::replay(solo_params(), &blocks).expect("replays");
    let elapsed = start.elapsed();
    assert_eq!(replayed, state);
    let secs = elapsed.as_secs_f64();
    let n = blocks.len();
    println!(
        "built, validated and applied {n} blocks in {:.3} s (node side: score, seal, build)",
        built.as_secs_f64()
    );
    println!(
        "validate+apply: {n} blocks in {secs:.3} s = {:.0} blocks/s ({:.1} µs/block)",
        n as f64 / secs,
        secs * 1e6 / n as f64
    );
}
