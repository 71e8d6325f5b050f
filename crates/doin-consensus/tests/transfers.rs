//! Transfers on a solo chain: balances and nonces follow the blocks, every refusal has its
//! reason, fees burn the base fee and tip the generator, the base fee follows fullness,
//! and a replayed state equals the live one with Σ balances == minted − burned.

mod common;

use common::*;
use doin_consensus::fee_market::{next_base_fee, MIN_BASE_FEE};
use doin_consensus::transfer::TransferError;
use doin_consensus::{ChainState, ConsensusError};
use doin_primitives::identity::Identity;
use doin_primitives::models::{Block, Transfer, WireModel, TRANSFERS_KEY};
use doin_primitives::value::Value;

/// Step `k` of the solo chain, carrying `transfers` (and step `k + 1`'s commitment).
fn block_with(state: &ChainState, node: &Identity, k: u64, transfers: Vec<Transfer>) -> Block {
    let r = reveal(state, parameters(k), k);
    let tx = accepted_tx(state, node, &r, &[node]);
    let next = [step_commitment(node, k + 1)];
    let at = time(k as i64 * BLOCK_SECS + 9);
    state
        .build_block_with_commitments(node, vec![tx], transfers, Vec::new(), &next, at)
        .expect("block builds")
}

fn pay(from: &Identity, to: &Identity, amount: i64, fee: u64, nonce: i64) -> Transfer {
    Transfer::signed(from, to.peer_id(), amount, fee as i64, nonce, time(0))
}

fn supply_holds(s: &ChainState) {
    let sum: u64 = s.balances().values().sum();
    assert_eq!(sum, s.total_minted() - s.total_burned());
}

#[test]
fn transfers_move_coins_burn_base_fees_and_tip_the_generator() {
    let node = identity(1);
    let bob = identity(2);
    let (mut state, mut blocks) = solo_chain(&node, 2);
    let before = state.balance(node.peer_id());
    let base = state.base_fee();
    assert_eq!(base, MIN_BASE_FEE);
    let t1 = pay(&node, &bob, 1_000_000_000, base + 700, 1);
    let t2 = pay(&node, &bob, 5, base, 2);
    let b = block_with(&state, &node, 3, vec![t1.clone(), t2]);
    let summary = state.apply_block(&b).expect("valid");
    blocks.push(b);
    assert_eq!(summary.transfers.burned, 2 * base);
    assert_eq!(summary.transfers.tips, 700);
    assert_eq!(summary.coinbase.fees, 700);
    assert_eq!(state.balance(bob.peer_id()), 1_000_000_005);
    assert_eq!(
        state.balance(node.peer_id()),
        before + summary.coinbase.block_reward + 700 - 1_000_000_005 - 2 * base - 700
    );
    assert_eq!(state.nonce(node.peer_id()), 2);
    assert_eq!(state.nonce(bob.peer_id()), 0);
    assert_eq!(state.total_burned(), 2 * base);
    assert_eq!(state.base_fee(), next_base_fee(base, 2));
    supply_holds(&state);

    // Bob spends what he received; the chain replays to the same state.
    let b = block_with(
        &state,
        &node,
        4,
        vec![pay(&bob, &node, 100, state.base_fee(), 1)],
    );
    state.apply_block(&b).expect("valid");
    blocks.push(b);
    supply_holds(&state);
    let replayed = ChainState::replay(solo_params(), &blocks).expect("replays");
    assert_eq!(replayed, state);

    // The same transfer again: a replay, refused.
    let r = reveal(&state, parameters(5), 5);
    let tx = accepted_tx(&state, &node, &r, &[&node]);
    let err = state
        .build_block_with_transfers(&node, vec![tx], vec![t1], time(59))
        .expect_err("replay refused");
    assert_eq!(
        err,
        ConsensusError::InTransfer {
            index: 0,
            source: TransferError::NonceReused {
                expected: 3,
                got: 1
            }
        }
    );
}

#[test]
fn every_bad_transfer_is_refused_with_its_reason() {
    let node = identity(1);
    let bob = identity(2);
    let (state, _) = solo_chain(&node, 1);
    let base = state.base_fee();
    let balance = state.balance(node.peer_id()) as i64;
    let r = reveal(&state, parameters(2), 2);
    let tx = accepted_tx(&state, &node, &r, &[&node]);
    let refuse = |t: Transfer| -> TransferError {
        match state.build_block_with_transfers(&node, vec![tx.clone()], vec![t], time(29)) {
            Err(ConsensusError::InTransfer { source, .. }) => source,
            other => panic!("expected a refused transfer, got {other:?}"),
        }
    };
    assert_eq!(
        refuse(pay(&node, &bob, 0, base, 1)),
        TransferError::NonPositiveAmount(0)
    );
    assert_eq!(
        refuse(pay(&node, &bob, -5, base, 1)),
        TransferError::NonPositiveAmount(-5)
    );
    assert!(matches!(
        refuse(pay(&node, &bob, balance, base, 1)),
        TransferError::InsufficientBalance { .. }
    ));
    assert!(matches!(
        refuse(pay(&node, &bob, 5, base, 2)),
        TransferError::NonceSkipped {
            expected: 1,
            got: 2
        }
    ));
    assert!(matches!(
        refuse(pay(&node, &bob, 5, base - 1, 1)),
        TransferError::FeeBelowBaseFee { .. }
    ));
    // Signed by bob but claiming to be from the node.
    let mut forged = pay(&bob, &bob, 5, base, 1);
    forged.sender = node.peer_id().to_string();
    assert!(matches!(refuse(forged), TransferError::BadSignature(_)));
    let mut tampered = pay(&node, &bob, 5, base, 1);
    tampered.amount = 6;
    assert!(matches!(refuse(tampered), TransferError::BadSignature(_)));
}

#[test]
fn a_block_cannot_drop_alter_or_forge_its_transfers() {
    let node = identity(1);
    let bob = identity(2);
    let (state, _) = solo_chain(&node, 1);
    let t = pay(&node, &bob, 10, state.base_fee() + 3, 1);
    let b = block_with(&state, &node, 2, vec![t.clone()]);
    assert!(state.validate_block(&b).is_ok());
    // A relay that strips the transfers changes the merkle leaves: the hash no longer holds.
    let mut stripped = b.clone();
    stripped.extensions.shift_remove(TRANSFERS_KEY);
    assert!(matches!(
        state.validate_block(&stripped),
        Err(ConsensusError::Content(_))
    ));
    // Another valid transfer swapped in: same.
    let mut swapped = b.clone();
    let other = pay(&node, &bob, 11, state.base_fee() + 3, 1);
    swapped
        .extensions
        .insert(TRANSFERS_KEY.into(), Value::Array(vec![other.to_value()]));
    assert!(state.validate_block(&swapped).is_err());
    // The signatures check alone (as sync does in parallel) catches a bad transfer seal.
    let mut unsigned = t;
    unsigned.seal = None;
    let mut forged = b;
    forged.extensions.insert(
        TRANSFERS_KEY.into(),
        Value::Array(vec![unsigned.to_value()]),
    );
    assert!(doin_consensus::validate::verify_block_signatures(&forged).is_err());
}

#[test]
fn select_transfers_keeps_the_valid_ones_in_order() {
    let node = identity(1);
    let bob = identity(2);
    let (state, _) = solo_chain(&node, 1);
    let base = state.base_fee();
    let candidates = [
        pay(&node, &bob, 10, base, 2), // skips nonce 1: not yet
        pay(&node, &bob, 1_000_000, base, 1),
        pay(&bob, &node, 5, base, 1), // bob has nothing before the block
        pay(&node, &bob, 10, base + 1, 2),
        pay(&node, &bob, 10, base - 1, 3), // fee too low
    ];
    let picked = state.select_transfers(&candidates);
    let nonces: Vec<(String, i64)> = picked
        .iter()
        .map(|t| (t.sender[..4].to_owned(), t.nonce))
        .collect();
    assert_eq!(
        nonces,
        vec![
            (node.peer_id()[..4].to_owned(), 1),
            (bob.peer_id()[..4].to_owned(), 1),
            (node.peer_id()[..4].to_owned(), 2)
        ]
    );
    // Bob's transfer is valid within the block: he spends what the node sent first.
    assert!(state.check_transfers(&picked).is_ok());
}
