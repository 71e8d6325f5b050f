//! Transfers validated per second: 10,000 signed transfers checked one by one (seal and
//! account rules), and the same transfers carried by 50 blocks of 200 replayed through full
//! block validation (generator, optimizer and vote seals included).
//!
//! Run with `cargo bench -p doin-consensus --bench transfers`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::{
    accepted_tx, identity, parameters, reveal, solo_chain, solo_params, step_commitment, time,
    BLOCK_SECS,
};
use doin_consensus::fee_market::MAX_TRANSFERS_PER_BLOCK;
use doin_consensus::transfer::{check_transfer, debited, verify_transfer_seal};
use doin_consensus::ChainState;
use doin_primitives::models::Transfer;

const TRANSFERS: usize = 10_000;
/// Enough blocks to pay 10,000 fees of 0.4 DOIN (full blocks raise the base fee 12.5 % each).
const FUNDING_BLOCKS: u64 = 100;

fn main() {
    let node = identity(1);
    let to = identity(2);
    let (mut state, mut blocks) = solo_chain(&node, FUNDING_BLOCKS);
    let fee = 40_000_000;
    let transfers: Vec<Transfer> = (1..=TRANSFERS as i64)
        .map(|n| Transfer::signed(&node, to.peer_id(), 1_000, fee, n, time(0)))
        .collect();

    // Verification is what is measured: forget the seals the set-up verified.
    doin_primitives::seal_cache::clear();
    let start = Instant::now();
    let mut account = state.account(node.peer_id());
    for t in &transfers {
        verify_transfer_seal(t).expect("seal");
        let effect = check_transfer(t, &account, state.base_fee()).expect("valid");
        account = debited(&account, &effect);
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "one by one: {TRANSFERS} transfers (seal + account rules) in {secs:.3} s = {:.0} transfers/s",
        TRANSFERS as f64 / secs
    );

    // The same transfers in blocks of 200.
    // Verification is what is measured: forget the seals the set-up verified.
    doin_primitives::seal_cache::clear();
    let baseline = Instant::now();
    let _ = ChainState::replay(solo_params(), &blocks).expect("replays");
    // The funding chain: its opening commitment block and FUNDING_BLOCKS optimae blocks.
    let funding_len = blocks.len();
    let per_block_without = baseline.elapsed().as_secs_f64() / funding_len as f64;
    for (i, chunk) in transfers
        .chunks(MAX_TRANSFERS_PER_BLOCK as usize)
        .enumerate()
    {
        let k = FUNDING_BLOCKS + 1 + i as u64;
        let r = reveal(&state, parameters(k), k);
        let tx = accepted_tx(&state, &node, &r, &[&node]);
        let b = state
            .build_block_with_commitments(
                &node,
                vec![tx],
                chunk.to_vec(),
                Vec::new(),
                &[step_commitment(&node, k + 1)],
                time(k as i64 * BLOCK_SECS + 9),
            )
            .expect("builds");
        state.apply_block(&b).expect("valid");
        blocks.push(b);
    }
    // Verification is what is measured: forget the seals the set-up verified.
    doin_primitives::seal_cache::clear();
    let start = Instant::now();
    let replayed = ChainState::replay(solo_params(), &blocks).expect("replays");
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(replayed, state);
    let transfer_blocks = (blocks.len() - funding_len) as f64;
    let transfer_secs = secs - per_block_without * blocks.len() as f64;
    println!(
        "in blocks: {} blocks ({TRANSFERS} transfers) validated and applied in {secs:.3} s; \
         net of the blocks' own checks {:.0} transfers/s",
        blocks.len(),
        TRANSFERS as f64 / transfer_secs.max(1e-9)
    );
    let sum: u64 = state.balances().values().sum();
    assert_eq!(sum, state.total_minted() - state.total_burned());
    println!(
        "after {transfer_blocks} full blocks: base fee {} units (from {}), {} units burned",
        state.base_fee(),
        doin_consensus::fee_market::MIN_BASE_FEE,
        state.total_burned()
    );
}
