//! End to end, in process: a solo node optimizes a quadratic objective, verifies its own
//! optimae on seeded synthetic data, mints blocks, and a fresh state replays them. Then
//! every field a forger could touch is tampered with and must fail the right rule.

mod common;

use common::*;
use doin_consensus::coinbase::{block_reward, Coinbase, Role, COINBASE_KEY};
use doin_consensus::fork_choice::{chain_weight, prefer};
use doin_consensus::{ChainState, ConsensusError};
use doin_primitives::identity::Identity;
use doin_primitives::models::{Block, BlockError, Transaction};
use doin_primitives::seal::SealKind;
use doin_primitives::value::Value;

const N: u64 = 30;

#[test]
fn solo_chain_validates_replays_and_pays_exactly() {
    let node = identity(1);
    let (state, blocks) = solo_chain(&node, N);
    // Block 1 is the commitment block carrying step 1's commitment; step k is block k + 1.
    assert_eq!(state.height(), N + 1);
    assert_eq!(state.domain(DOMAIN).expect("domain").accepted, N);
    // It accepts no optimae: its one transaction announces the commitment.
    let layout = blocks[0].check_layout().expect("layout");
    assert!(layout.accepted.is_empty());
    assert_eq!(layout.announced.len(), 1);

    // Rewards: total == Σ block rewards of the optimae blocks 2..=N+1 (the commitment
    // block pays none), split 65/30/5 to the unit.
    let mut by_role = [0u64; 3];
    for b in &blocks {
        let cb = Coinbase::from_value(&b.extensions[COINBASE_KEY]).expect("coinbase");
        for o in &cb.outputs {
            by_role[o.role as usize] += o.amount;
        }
    }
    let cb = Coinbase::from_value(&blocks[0].extensions[COINBASE_KEY]).expect("coinbase");
    assert_eq!(cb.block_reward, 0);
    let total: u64 = (2..=N + 1).map(|i| block_reward(i, state.params())).sum();
    assert_eq!(state.total_minted(), total);
    assert_eq!(state.balance(node.peer_id()), total);
    assert_eq!(by_role[Role::Optimizer as usize], total / 100 * 65);
    assert_eq!(by_role[Role::Evaluator as usize], total / 100 * 30);
    assert_eq!(by_role[Role::Generator as usize], total / 100 * 5);

    // Reputation: +1.0 accepted and +0.4 agreeing vote per block, decayed by chain time.
    assert!(state.reputation(node.peer_id()) > 40_000_000);

    // Finality: depth 6 at tip 31 → checkpoint 24 (the highest multiple of 6 at least 6
    // deep), the block at index 23 (block 0 is genesis, not in `blocks`).
    assert_eq!(state.finalized_height(), 24);
    assert_eq!(state.finalized_hash(), blocks[23].hash);
    assert!(state.reorg_allowed(24));
    assert!(!state.reorg_allowed(23));

    // Replay from genesis gives an equal state, from wire JSON too.
    let replayed = ChainState::replay(solo_params(), &blocks).expect("replays");
    assert_eq!(replayed, state);
    let wire: Vec<Block> = blocks
        .iter()
        .map(|b| {
            use doin_primitives::models::WireModel;
            Block::from_wire_json(&b.to_wire_json()).expect("parses")
        })
        .collect();
    assert_eq!(
        ChainState::replay(solo_params(), &wire).expect("replays"),
        state
    );

    // Fork choice: the longer (heavier) chain wins over its prefix.
    let shorter = ChainState::replay(solo_params(), &blocks[..10]).expect("replays");
    assert!(prefer(&chain_weight(&state), &chain_weight(&shorter)));
}

/// Re-ids and re-seals every transaction (as a forging optimizer can), then recomputes the
/// merkle root (over the transactions and the extensions' leaves: the block carries the
/// next step's commitment), the hash and the generator's seal (as a forging generator can).
fn reseal(mut b: Block, node: &Identity) -> Block {
    for tx in &mut b.transactions {
        tx.id = tx.compute_id();
        tx.seal = Some(node.seal(SealKind::Transaction, &tx.id));
    }
    b.header.merkle_root = b.compute_merkle_root();
    b.hash = b.header.compute_hash();
    b.seal = Some(node.seal(SealKind::Block, &b.hash));
    b
}

fn tamper_payload(
    b: &Block,
    node: &Identity,
    f: impl FnOnce(&mut doin_primitives::value::Map),
) -> Block {
    let mut b = b.clone();
    f(&mut b.transactions[0].payload);
    reseal(b, node)
}

fn tamper_vote(
    b: &Block,
    node: &Identity,
    f: impl FnOnce(&mut doin_primitives::value::Map),
) -> Block {
    tamper_payload(b, node, |p| {
        let Some(Value::Array(votes)) = p.get_mut("votes") else {
            panic!("votes")
        };
        let Value::Object(vote) = &mut votes[0] else {
            panic!("vote object")
        };
        f(vote);
    })
}

fn root(state: &ChainState, b: &Block) -> ConsensusError {
    state
        .validate_block(b)
        .expect_err("tampered block must fail")
        .root()
        .clone()
}

#[test]
fn tampering_fails_the_right_rule() {
    let node = identity(1);
    let (state, _) = solo_chain(&node, 3);
    let good = solo_block(&state, &node, 4);
    state
        .validate_block(&good)
        .expect("the untouched block is valid");

    let mut b = good.clone();
    b.header.threshold *= 2.0;
    assert!(matches!(
        root(&state, &reseal(b, &node)),
        ConsensusError::WrongThreshold { .. }
    ));

    let mut b = good.clone();
    b.header.weighted_performance_sum += 1e-9;
    assert!(matches!(
        root(&state, &reseal(b, &node)),
        ConsensusError::WrongWeightedSum { .. }
    ));

    let mut b = good.clone();
    let Some(Value::Object(cb)) = b.extensions.get_mut(COINBASE_KEY) else {
        panic!("coinbase")
    };
    let Some(Value::Array(outs)) = cb.get_mut("outputs") else {
        panic!("outputs")
    };
    let Value::Object(first) = &mut outs[0] else {
        panic!("output")
    };
    let amount = first["amount"].as_i64().expect("int");
    first.insert("amount".into(), Value::Int(amount + 1));
    assert!(matches!(
        root(&state, &b),
        ConsensusError::WrongCoinbase { .. }
    ));

    // The coinbase is no merkle leaf: without it (the next step's commitment still there,
    // covered by the root), the block has no valid coinbase.
    let mut b = good.clone();
    b.extensions.shift_remove(COINBASE_KEY);
    assert!(matches!(
        root(&state, &b),
        ConsensusError::MalformedCoinbase(_)
    ));

    let b = tamper_vote(&good, &node, |v| {
        let p = v["verified_performance"].as_f64().expect("number");
        v.insert("verified_performance".into(), Value::Float(p * 0.999));
    });
    assert!(matches!(
        root(&state, &b),
        ConsensusError::BadVoteSeal { .. }
    ));

    let stranger = identity(9);
    let b = tamper_vote(&good, &node, |v| {
        let forged = stranger.seal(SealKind::Vote, "anything");
        v.insert("signature".into(), Value::Str(forged.signature));
    });
    assert!(matches!(
        root(&state, &b),
        ConsensusError::BadVoteSeal { .. }
    ));

    let b = tamper_vote(&good, &node, |v| {
        let s = v["synthetic_seed"].as_i64().expect("int");
        v.insert("synthetic_seed".into(), Value::Int(s + 1));
    });
    // The seed is checked before the seal.
    assert!(matches!(
        root(&state, &b),
        ConsensusError::WrongVoteSeed { .. }
    ));

    let b = tamper_payload(&good, &node, |p| {
        p.insert("nonce".into(), Value::Str("0".repeat(32)));
    });
    assert!(matches!(
        root(&state, &b),
        ConsensusError::CommitmentMismatch { .. }
    ));

    let b = tamper_payload(&good, &node, |p| {
        let inc = p["effective_increment"].as_f64().expect("number");
        p.insert("effective_increment".into(), Value::Float(inc * 2.0));
    });
    assert!(matches!(
        root(&state, &b),
        ConsensusError::WrongNumber {
            field: "effective_increment",
            ..
        }
    ));

    // The reference's keys DOIN recomputes: agreement, reason, previous best.
    let b = tamper_payload(&good, &node, |p| {
        p.insert("quorum_agree_fraction".into(), Value::Float(0.5));
    });
    assert!(matches!(
        root(&state, &b),
        ConsensusError::WrongNumber {
            field: "quorum_agree_fraction",
            ..
        }
    ));
    let b = tamper_payload(&good, &node, |p| {
        p.insert(
            "incentive_reason".into(),
            Value::Str("bonus 1.20: verified exceeds reported by 9.00%".into()),
        );
    });
    assert!(matches!(
        root(&state, &b),
        ConsensusError::WrongValue {
            field: "incentive_reason",
            ..
        }
    ));
    let b = tamper_payload(&good, &node, |p| {
        p.insert("previous_best_performance".into(), Value::Null);
    });
    assert!(matches!(
        root(&state, &b),
        ConsensusError::WrongValue {
            field: "previous_best_performance",
            ..
        }
    ));
    // Experiment metrics nested as before (not where the reference reads them): refused.
    let b = tamper_payload(&good, &node, |p| {
        let id = p.shift_remove("experiment_id").expect("top level");
        p.insert(
            "experiment".into(),
            Value::Object(doin_primitives::map! { "experiment_id" => id }),
        );
    });
    assert!(matches!(
        root(&state, &b),
        ConsensusError::MalformedPayload(_)
    ));

    let b = tamper_payload(&good, &node, |p| {
        p.insert("increment".into(), Value::Float(f64::NAN));
    });
    assert!(matches!(
        root(&state, &b),
        ConsensusError::MalformedPayload(_)
    ));

    // The accepted optimae twice (beside itself, in layout order).
    let mut b = good.clone();
    b.transactions.insert(1, b.transactions[0].clone());
    let b = reseal(b, &node);
    assert!(matches!(
        root(&state, &b),
        ConsensusError::Content(BlockError::DuplicateTransaction(_))
    ));

    let mut b = good.clone();
    b.seal = Some(stranger.seal(SealKind::Block, &b.hash));
    assert!(matches!(
        root(&state, &b),
        ConsensusError::BadGeneratorSeal(_)
    ));
    let mut b = good.clone();
    b.seal = None;
    assert!(matches!(
        root(&state, &b),
        ConsensusError::BadGeneratorSeal(_)
    ));

    let mut b = good.clone();
    b.header.timestamp = doin_primitives::Timestamp::from_unix_micros(state.tip_time_micros());
    assert!(matches!(
        root(&state, &reseal(b, &node)),
        ConsensusError::TimestampNotAfterParent { .. }
    ));

    let mut b = good.clone();
    b.header.index += 1;
    assert!(matches!(
        root(&state, &reseal(b, &node)),
        ConsensusError::WrongHeight { .. }
    ));

    let mut b = good.clone();
    b.header.merkle_root = "0".repeat(64);
    assert!(matches!(root(&state, &b), ConsensusError::Content(_)));
}

#[test]
fn out_of_bounds_and_non_finite_parameters_are_refused() {
    let node = identity(1);
    let (state, _) = solo_chain(&node, 2);
    let mut params = parameters(3);
    params.insert(
        "x".into(),
        Value::Array(vec![Value::Float(50.0), Value::Float(-2.0)]),
    );
    let tx = forged_tx(&state, &node, reveal(&state, params, 3));
    assert!(matches!(
        state.check_accepted_tx(&tx),
        Err(ConsensusError::ParameterOutOfBounds { .. })
    ));

    let mut params = parameters(3);
    params.insert("lr".into(), Value::Float(f64::NAN));
    let tx = forged_tx(&state, &node, reveal(&state, params, 3));
    assert!(matches!(
        state.check_accepted_tx(&tx),
        Err(ConsensusError::ParameterOutOfBounds { .. })
    ));
}

/// A transaction with self-declared numbers (the parameter checks come before scoring).
fn forged_tx(state: &ChainState, node: &Identity, r: doin_consensus::Reveal) -> Transaction {
    let v = votes(state, node, &r, &[node]);
    let scoring = doin_consensus::Scoring {
        verified_performance: v[0].verified_performance,
        increment: 0.005,
        effective_increment: 0.003,
        reward_fraction: 1.0,
        ..Default::default()
    };
    doin_consensus::AcceptedOptimae::build(node, &r, &scoring, &v, &experiment(3))
}

#[test]
fn replayed_or_regressing_optimae_are_refused() {
    let node = identity(1);
    let (state, blocks) = solo_chain(&node, 3);
    // The same transaction again: already on chain.
    let again = &blocks[3].transactions[0];
    assert!(matches!(
        state.check_accepted_tx(again),
        Err(ConsensusError::DuplicateOptimae(_))
    ));
    // Parameters of an earlier step: not an improvement.
    let r = reveal(&state, parameters(1), 9);
    let v = votes(&state, &node, &r, &[&node]);
    assert!(matches!(
        state.score_optimae(&r, node.peer_id(), &v),
        Err(ConsensusError::NotAnImprovement { .. })
    ));
    // A block below the threshold cannot be built.
    let mut p = solo_params();
    p.initial_threshold = 10.0;
    let mut high = ChainState::new(p);
    open_chain(&mut high, &node, &[step_commitment(&node, 1)]);
    let r = reveal(&high, parameters(1), 1);
    let tx = accepted_tx(&high, &node, &r, &[&node]);
    assert!(matches!(
        high.build_block(&node, vec![tx], time(20)),
        Err(ConsensusError::BelowThreshold { .. })
    ));
    // A stale commit height is refused once the window has passed.
    let (late, _) = solo_chain(&node, 25);
    let mut r = reveal(&late, parameters(26), 26);
    r.commit_height = 2;
    assert!(matches!(
        late.synthetic_seed_for(&r.commitment_hash(), DOMAIN, node.peer_id(), 2),
        Err(ConsensusError::CommitHeightOutOfWindow { .. })
    ));
}

#[test]
fn multi_node_quorum_after_bootstrap() {
    let a = identity(1);
    let b = identity(2);
    let c = identity(3);
    let outsider = identity(4);
    let mut p = solo_params();
    p.quorum_min_evaluators = 2;
    let mut state = ChainState::new(p);
    // Young chain: A opens it with the commitment block (block 1) and, no other peer on
    // chain yet, verifies alone; B generates step 2's block, after which B is the only
    // candidate; C generates step 3's.
    open_chain(&mut state, &a, &[step_commitment(&a, 1)]);
    for (k, generator, quorum) in [(1u64, &a, &a), (2, &b, &a), (3, &c, &b)] {
        let r = reveal(&state, parameters(k), k);
        assert_eq!(
            state.quorum_for(DOMAIN, a.peer_id(), r.commit_height),
            Ok(vec![quorum.peer_id().to_string()])
        );
        let tx = accepted_tx(&state, &a, &r, &[quorum]);
        let block = step_block(&state, generator, &a, tx, k);
        state.apply_block(&block).expect("valid");
    }
    // Now B and C are on chain: A's quorum is {B, C} (bootstrap: everyone seen is eligible).
    let k = 4;
    let r = reveal(&state, parameters(k), k);
    let quorum = state
        .quorum_for(DOMAIN, a.peer_id(), r.commit_height)
        .expect("quorum");
    let mut sorted = quorum.clone();
    sorted.sort();
    let mut expected = vec![b.peer_id().to_string(), c.peer_id().to_string()];
    expected.sort();
    assert_eq!(sorted, expected);

    let tx = accepted_tx(&state, &a, &r, &[&b, &c]);
    assert!(state.check_accepted_tx(&tx).is_ok());
    let block = state
        .build_block(&b, vec![tx], time(k as i64 * BLOCK_SECS + 9))
        .expect("builds");
    let summary = state.validate_block(&block).expect("valid");
    let cb = &summary.coinbase;
    let evaluator_pay: Vec<(&str, u64)> = cb
        .outputs
        .iter()
        .filter(|o| o.role == Role::Evaluator)
        .map(|o| (o.recipient.as_str(), o.amount))
        .collect();
    assert_eq!(evaluator_pay.len(), 2);
    assert_eq!(
        evaluator_pay.iter().map(|e| e.1).sum::<u64>(),
        1_500_000_000
    );

    // A vote from outside the quorum, or a missing vote, is refused.
    let tx = accepted_tx(&state, &a, &r, &[&b, &outsider]);
    assert!(matches!(
        state.check_accepted_tx(&tx),
        Err(ConsensusError::VoteFromOutsider(_))
    ));
    let v = votes(&state, &a, &r, &[&b]);
    let scoring = state
        .score_optimae(&r, a.peer_id(), &v)
        .expect("one vote decides");
    let tx = doin_consensus::AcceptedOptimae::build(&a, &r, &scoring, &v, &experiment(4));
    assert!(matches!(
        state.check_accepted_tx(&tx),
        Err(ConsensusError::MissingVote(_))
    ));
    // The optimizer cannot vote on its own optimae once a quorum exists.
    let tx = accepted_tx(&state, &a, &r, &[&a, &b]);
    assert!(matches!(
        state.check_accepted_tx(&tx),
        Err(ConsensusError::VoteFromOutsider(_))
    ));
}
