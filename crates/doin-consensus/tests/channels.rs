//! Payment channels on a solo chain, through whole blocks: the `"channel_ops"` extension
//! is committed by the merkle root (stripped or swapped operations break the hash), a
//! forged seal fails the signature check sync runs, the dispute period is judged by the
//! including block's timestamp, the coinbase pays the operations' tips, and a replayed
//! state equals the live one with Σ balances + locked == minted − burned.

mod common;

use common::*;
use doin_consensus::channel::{ChannelError, ChannelStatus};
use doin_consensus::{ChainState, ConsensusError};
use doin_primitives::identity::Identity;
use doin_primitives::models::{
    Block, ChannelAction, ChannelOp, ChannelUpdate, WireModel, CHANNEL_OPS_KEY,
};
use doin_primitives::value::Value;

/// Step `k` of the solo chain, dated `at` seconds after the start, carrying `ops` (and
/// step `k + 1`'s commitment).
fn block_with(state: &ChainState, node: &Identity, k: u64, at: i64, ops: Vec<ChannelOp>) -> Block {
    let r = reveal(state, parameters(k), k);
    let tx = accepted_tx(state, node, &r, &[node]);
    let next = [step_commitment(node, k + 1)];
    state
        .build_block_with_commitments(node, vec![tx], Vec::new(), ops, &next, time(at))
        .expect("block builds")
}

fn conserved(s: &ChainState) {
    let sum: u64 = s.balances().values().sum();
    assert_eq!(sum + s.total_locked(), s.total_minted() - s.total_burned());
}

#[test]
fn channel_blocks_commit_to_their_operations_and_replay() {
    let node = identity(1);
    let bob = identity(2);
    let (mut state, mut blocks) = solo_chain(&node, 2);
    let fee = state.base_fee() as i64 + 40;
    let open = ChannelOp::signed(
        &node,
        ChannelAction::Open {
            receiver: bob.peer_id().into(),
            deposit: 1_000_000,
            dispute_period: 100,
        },
        fee,
        1,
    );
    let id = open.compute_id();
    let at = 3 * BLOCK_SECS + 9;
    let b = block_with(&state, &node, 3, at, vec![open.clone()]);
    // Stripped or swapped operations change the merkle leaves; a bad seal fails sync's
    // signature check.
    let mut stripped = b.clone();
    stripped.extensions.shift_remove(CHANNEL_OPS_KEY);
    assert!(matches!(
        state.validate_block(&stripped),
        Err(ConsensusError::Content(_))
    ));
    let mut unsigned = open.clone();
    unsigned.seal = None;
    let mut forged = b.clone();
    forged.extensions.insert(
        CHANNEL_OPS_KEY.into(),
        Value::Array(vec![unsigned.to_value()]),
    );
    assert!(doin_consensus::validate::verify_block_signatures(&forged).is_err());
    let summary = state.apply_block(&b).expect("valid");
    assert_eq!(summary.channels.tips, 40);
    assert_eq!(summary.coinbase.fees, 40);
    blocks.push(b);
    assert_eq!(state.total_locked(), 1_000_000);
    conserved(&state);

    // The node (sender) closes unilaterally with an update paying bob 300,000.
    let u = ChannelUpdate::signed(&node, &id, 1, 700_000, 300_000);
    let close = ChannelOp::signed(
        &node,
        ChannelAction::Close {
            channel_id: id.clone(),
            update: Some(u),
        },
        fee,
        2,
    );
    let closed_at = 4 * BLOCK_SECS + 9;
    let b = block_with(&state, &node, 4, closed_at, vec![close]);
    state.apply_block(&b).expect("valid");
    blocks.push(b);
    let settle = ChannelOp::signed(
        &node,
        ChannelAction::Settle {
            channel_id: id.clone(),
        },
        fee,
        3,
    );
    // A block dated inside the period cannot settle.
    let r = reveal(&state, parameters(5), 5);
    let tx = accepted_tx(&state, &node, &r, &[&node]);
    let early = state.build_block_with_ops(
        &node,
        vec![tx],
        Vec::new(),
        vec![settle.clone()],
        time(closed_at + 50),
    );
    assert!(matches!(
        early,
        Err(ConsensusError::InChannelOp {
            index: 0,
            source: ChannelError::DisputePeriodNotOver { .. }
        })
    ));
    let b = block_with(&state, &node, 5, closed_at + 100, vec![settle]);
    state.apply_block(&b).expect("valid");
    blocks.push(b);
    assert_eq!(state.balance(bob.peer_id()), 300_000);
    assert_eq!(
        state.channel(&id).map(|c| c.status.clone()),
        Some(ChannelStatus::Closed)
    );
    assert_eq!(state.total_locked(), 0);
    conserved(&state);

    let replayed = ChainState::replay(solo_params(), &blocks).expect("replays");
    assert_eq!(replayed, state);
}
