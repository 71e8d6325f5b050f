//! Commitment blocks: no optimae, at least one commitment, one target block time after
//! the parent; no block reward, no work, the difficulty left as it was, no stall ended, no
//! contributor made; chains with them replay.

use super::*;
use doin_consensus::commitment::OptimaeCommitment;
use doin_consensus::{ChainState, ConsensusError, Reveal};
use doin_primitives::models::{Block, TransactionType, Transfer, WireModel};
use doin_primitives::timestamp::Timestamp;

#[test]
fn a_commitment_block_comes_one_block_time_after_its_parent_and_carries_a_commitment() {
    let node = identity(1);
    let (state, _) = solo_chain(&node, 2);
    let target = state.params().target_block_time_secs;
    assert_eq!(state.commitment_block_micros(), (target * 1e6) as i64);
    let c = commitment(&node, &uncommitted(&state, 3));
    let due = after_tip(&state, target);
    assert!(state.commitment_block_due(due.unix_micros()));
    assert!(!state.commitment_block_due(due.unix_micros() - 1));
    let block = commit_block(&state, &node, std::slice::from_ref(&c), due);
    state.validate_block(&block).expect("due");

    let below =
        |e: &ConsensusError| matches!(e, ConsensusError::BelowThreshold { sum, .. } if *sum == 0.0);
    // 1 µs too early: built or forged.
    let early = Timestamp::from_unix_micros(due.unix_micros() - 1);
    let err = state
        .build_block_with_commitments(
            &node,
            Vec::new(),
            Vec::new(),
            Vec::new(),
            std::slice::from_ref(&c),
            early,
        )
        .expect_err("too early");
    assert!(below(&err), "{err}");
    let mut forged = block.clone();
    forged.header.timestamp = early;
    assert!(below(&refused(&state, &reseal(forged, &node))));
    // No commitment: built or stripped.
    let err = state
        .build_block_with_commitments(&node, Vec::new(), Vec::new(), Vec::new(), &[], due)
        .expect_err("an empty block");
    assert!(below(&err), "{err}");
    assert!(below(&refused(&state, &carrying(&block, &node, &[]))));
    // Commitments stripped from the transactions are no longer covered by the root either.
    let mut stripped = block.clone();
    stripped
        .transactions
        .retain(|tx| tx.tx_type != TransactionType::OptimaeAnnounced);
    assert!(matches!(
        refused(&state, &stripped),
        ConsensusError::Content(_)
    ));

    // A block with optimae below the threshold is no commitment block, however late.
    let mut p = solo_params();
    p.initial_threshold = 10.0;
    let mut high = ChainState::new(p);
    open_chain(&mut high, &node, &[step_commitment(&node, 1)]);
    let r = reveal(&high, parameters(1), 1);
    let tx = accepted_tx(&high, &node, &r, &[&node]);
    let err = high
        .build_block_with_commitments(
            &node,
            vec![tx],
            Vec::new(),
            Vec::new(),
            &[step_commitment(&node, 2)],
            after_tip(&high, 10.0 * target),
        )
        .expect_err("below the threshold");
    assert!(
        matches!(err, ConsensusError::BelowThreshold { sum, .. } if sum > 0.0),
        "{err}"
    );
}

#[test]
fn a_commitment_block_pays_no_reward_adds_no_work_and_leaves_the_difficulty() {
    let node = identity(1);
    let bob = identity(2);
    let (mut state, _) = solo_chain(&node, 3);
    let before = state.clone();
    let tip = 25;
    let t = Transfer::signed(
        &node,
        bob.peer_id(),
        1_000,
        (state.base_fee() + tip) as i64,
        1,
        time(0),
    );
    let c = commitment(&bob, &uncommitted(&state, 4));
    let block = state
        .build_block_with_commitments(
            &bob,
            Vec::new(),
            vec![t],
            Vec::new(),
            &[c],
            after_tip(&state, 10.0),
        )
        .expect("a commitment block with a transfer");
    assert_eq!(block.header.weighted_performance_sum, 0.0);
    let summary = state.apply_block(&block).expect("valid");
    assert_eq!(summary.coinbase.block_reward, 0);
    assert_eq!(summary.coinbase.fees, tip);
    // The generator keeps the tip and nothing else.
    let paid: Vec<(&str, u64)> = summary
        .coinbase
        .outputs
        .iter()
        .filter(|o| o.amount > 0)
        .map(|o| (o.recipient.as_str(), o.amount))
        .collect();
    assert_eq!(paid, vec![(bob.peer_id().as_str(), tip)]);
    assert_eq!(state.height(), before.height() + 1);
    assert_eq!(state.total_minted(), before.total_minted());
    assert_eq!(state.cumulative_work(), before.cumulative_work());
    assert_eq!(state.difficulty(), before.difficulty());
    assert_eq!(state.next_threshold(), before.next_threshold());
    assert_eq!(state.balance(bob.peer_id()), 1_000 + tip);
    // Whereas an optimae block moves all three.
    let mut optimae = before.clone();
    optimae
        .apply_block(&solo_block(&before, &node, 4))
        .expect("valid");
    assert!(optimae.total_minted() > before.total_minted());
    assert!(optimae.cumulative_work() > before.cumulative_work());
    assert_ne!(optimae.difficulty(), before.difficulty());
}

#[test]
fn a_chain_with_commitment_blocks_replays_to_an_equal_state() {
    let node = identity(1);
    let other = identity(2);
    let (mut state, mut blocks) = solo_chain(&node, 3);
    // A stall: nothing reaches the threshold; a commitment block by another node carries
    // a commitment of its own and then, one block time later, another one carries the
    // node's commitment to step 5 (step 4's is in block 4, still in the window).
    for c in [
        commitment(&other, &uncommitted(&state, 9)),
        step_commitment(&node, 5),
    ] {
        let b = commit_block(&state, &other, &[c], after_tip(&state, 30.0));
        state.apply_block(&b).expect("commitment block");
        blocks.push(b);
    }
    // Step 4 committed in block 4 (two below the tip), step 5 in the last commitment
    // block; each minted in turn, the second by the other node.
    for (k, back, generator) in [(4u64, 2u64, &node), (5, 1, &other)] {
        let r = Reveal {
            commit_height: state.height() - back,
            timestamp: after_tip(&state, 1.0),
            ..reveal(&state, parameters(k), k)
        };
        let tx = accepted_tx(&state, &node, &r, &[&node]);
        let b = state
            .build_block(generator, vec![tx], after_tip(&state, 5.0))
            .expect("step builds");
        state.apply_block(&b).expect("valid");
        blocks.push(b);
    }
    assert_eq!(state.height(), 8);
    assert_eq!(state.domain(DOMAIN).expect("domain").accepted, 5);

    let replayed = ChainState::replay(solo_params(), &blocks).expect("replays");
    assert_eq!(replayed, state);
    let wire: Vec<Block> = blocks
        .iter()
        .map(|b| Block::from_wire_json(&b.to_wire_json()).expect("parses"))
        .collect();
    assert_eq!(
        ChainState::replay(solo_params(), &wire).expect("replays"),
        state
    );
    let mut stored = ChainState::new(solo_params());
    for b in &wire {
        doin_consensus::validate::verify_block_signatures(b).expect("seals hold");
        stored.apply_stored_block(b).expect("valid");
    }
    assert_eq!(stored, state);
    // Every carried commitment is read back from the wire.
    let carried: usize = wire
        .iter()
        .map(|b| OptimaeCommitment::read_block(b).expect("commitments").len())
        .sum();
    assert_eq!(carried, 1 + 3 + 2);
}

#[test]
fn commitment_blocks_do_not_end_a_stall() {
    // Anyone may mint a commitment block every target block time; the stall rule (the
    // fallback quorum that keeps dead evaluators from halting the chain) counts from the
    // last block that reached the threshold, so they cannot postpone it.
    let node = identity(1);
    let (mut state, _) = solo_chain(&node, 2);
    let work_at = state.tip_time_micros();
    let stalled_at = work_at + state.stall_micros();
    assert!(state.is_stalled(stalled_at) && !state.is_stalled(stalled_at - 1));
    let stranger = identity(9);
    for k in 3..13 {
        let c = commitment(&stranger, &uncommitted(&state, k));
        let b = commit_block(&state, &stranger, &[c], after_tip(&state, 10.0));
        state.apply_block(&b).expect("a commitment block");
    }
    assert!(state.tip_time_micros() >= stalled_at - 1_000_000);
    assert!(state.is_stalled(stalled_at));
}

#[test]
fn a_commitment_block_makes_its_generator_no_contributor() {
    // On a young network chain every contributor is eligible for quorums; minting a
    // commitment block takes no work, so it must not make a fresh key one.
    let mut params = solo_params();
    params.quorum_min_evaluators = 2;
    let mut state = ChainState::new(params);
    let stranger = identity(9);
    let c = commitment(&stranger, &uncommitted(&state, 1));
    let b = commit_block(&state, &stranger, &[c], after_tip(&state, 10.0));
    state.apply_block(&b).expect("a commitment block");
    assert_eq!(
        state.eligible_evaluators(state.height()),
        Some(&[][..]),
        "the generator of a commitment block is not drawn into quorums"
    );
}
