//! Rejection evidence on a network chain with quorums of three: an inflated claim rejected
//! by its quorum lands on chain, costs its optimizer the −3 penalty and 20 % of its stake,
//! and every forged or misplaced rejection is refused with the rule it breaks.

mod common;

use common::*;
use doin_consensus::accepted::{AcceptedOptimae, Reveal};
use doin_consensus::rejection::{stake_burn, OptimaeClaim, RejectedOptimae};
use doin_consensus::{ChainState, ConsensusError, QuorumVote};
use doin_primitives::identity::Identity;
use doin_primitives::models::{Block, BlockError, TransactionType};

fn points(state: &ChainState, who: &Identity) -> f64 {
    state.reputation(who.peer_id()) as f64 / 1e6
}

/// A block by `generator` with `a`'s honest step `k` (to reach the threshold) and
/// `rejections`, carrying `a`'s commitment to step `k + 2` (the tip already carries step
/// `k + 1`'s: the step these tests' inflated claims reveal).
fn block_with(
    state: &ChainState,
    a: &Identity,
    generator: &Identity,
    q: &[&Identity],
    k: u64,
    rejections: &[RejectedOptimae],
) -> Result<Block, ConsensusError> {
    let r = reveal(state, parameters(k), k);
    let tx = accepted_tx(state, a, &r, q);
    let block = state.build_block_with_commitments(
        generator,
        vec![tx],
        Vec::new(),
        Vec::new(),
        &[step_commitment(a, k + 2)],
        time(k as i64 * BLOCK_SECS + 9),
    )?;
    state.add_rejections(generator, block, rejections)
}

/// Balances plus what channels lock.
fn sum_of_balances(state: &ChainState) -> u64 {
    state.balances().values().sum::<u64>() + state.total_locked()
}

#[test]
fn a_rejected_claim_costs_its_optimizer_more_than_an_acceptance_earns_and_burns_its_stake() {
    let [a, b, c, d] = [1, 2, 3, 4].map(identity);
    let (mut state, k, _) = quorum_chain(&a, [&b, &c, &d]);
    let q = [&b, &c, &d];
    let before = state.clone();
    let (a0, b0) = (points(&state, &a), points(&state, &b));
    let balance0 = state.balance(a.peer_id());
    assert!(balance0 > 0, "a was paid for its optimae");

    // One block with an honest acceptance only, for the honest gain.
    let honest_block = block_with(&state, &a, &b, &q, k + 1, &[]).expect("builds");
    assert!(honest_block.layout().expect("layout").rejected.is_empty());
    let mut honest_state = state.clone();
    honest_state.apply_block(&honest_block).expect("valid");
    let honest_gain = points(&honest_state, &a) - a0;
    assert!(
        honest_gain > 0.9,
        "an acceptance earns about +1: {honest_gain}"
    );

    // The same block also carrying the rejection of an inflated claim (step k + 2).
    let rejection = inflated_claim(&state, &a, &q, k + 2);
    rejection.claim.check().expect("a valid claim");
    let block =
        block_with(&state, &a, &b, &q, k + 1, std::slice::from_ref(&rejection)).expect("builds");
    assert_ne!(
        block.hash, honest_block.hash,
        "the hash covers the evidence"
    );
    let summary = state.apply_block(&block).expect("valid");
    let state_after = state.clone();
    assert_eq!(summary.rejections.len(), 1);
    assert!(summary.rejections[0]
        .votes
        .iter()
        .all(|(_, agreed)| *agreed));

    let net = points(&state, &a) - a0;
    assert!(
        net < -1.9 && net > -2.1,
        "+1 for the acceptance, -3 for the rejection: {net}"
    );
    let rejection_loss = honest_gain - net;
    assert!(
        rejection_loss > honest_gain,
        "loses {rejection_loss}, an acceptance earns {honest_gain}"
    );
    assert!(
        points(&state, &b) > b0,
        "the honest evaluators are not penalised"
    );

    // 20 % of the stake burned from a's balance; the supply still adds up.
    let paid_to_a: u64 = summary
        .coinbase
        .outputs
        .iter()
        .filter(|o| o.recipient == a.peer_id())
        .map(|o| o.amount)
        .sum();
    let burned = stake_burn(
        rejection.claim.stake,
        before.base_fee(),
        balance0 + paid_to_a,
    );
    assert_eq!(burned, rejection.claim.stake / 5);
    assert_eq!(state.balance(a.peer_id()), balance0 + paid_to_a - burned);
    assert_eq!(state.total_burned(), before.total_burned() + burned);
    assert_eq!(
        sum_of_balances(&state),
        state.total_minted() - state.total_burned()
    );
    assert_eq!(state.rejection_tally().rejected, 1);
    assert_eq!(state.rejection_tally().stake_burned, burned);

    // The rejected commitment can never be accepted, nor rejected again.
    let r = rejection.claim.reveal.clone();
    let honest_report = Reveal {
        reported_performance: r.reported_performance * 2.0,
        ..r
    };
    let v = votes(&state, &a, &honest_report, &q);
    let err = state
        .score_optimae(&honest_report, a.peer_id(), &v)
        .map(|s| AcceptedOptimae::build(&a, &honest_report, &s, &v, &experiment(k)))
        .and_then(|tx| state.build_block(&b, vec![tx], time((k as i64 + 3) * BLOCK_SECS)))
        .expect_err("a rejected commitment re-submitted as accepted");
    assert!(
        matches!(err.root(), ConsensusError::CommitmentReused(_)),
        "{err}"
    );
    let again = block_with(&state, &a, &b, &q, k + 3, &[rejection]).expect_err("twice");
    assert!(
        matches!(&again, ConsensusError::InRejection { source, .. }
            if matches!(**source, ConsensusError::CommitmentReused(_))),
        "{again}"
    );

    // Applied as a stored block (seals trusted, everything else checked) or after the
    // batch seal check of sync, the state is the same.
    doin_consensus::validate::verify_block_signatures(&block).expect("seals hold");
    let mut stored = before.clone();
    stored.apply_stored_block(&block).expect("valid");
    assert_eq!(stored, state_after);
}

#[test]
fn an_evaluator_that_vouches_for_the_inflated_figure_is_divergent() {
    let [a, b, c, d] = [1, 2, 3, 4].map(identity);
    let (mut state, k, _) = quorum_chain(&a, [&b, &c, &d]);
    let q = [&b, &c, &d];
    let mut rejection = inflated_claim(&state, &a, &q, k + 2);
    // d colludes: it signs the optimizer's figure instead of what it measured.
    rejection.votes[2] = QuorumVote {
        verified_performance: rejection.claim.reveal.reported_performance,
        seal: None,
        ..rejection.votes[2].clone()
    }
    .sealed(&d);
    let (b0, d0) = (points(&state, &b), points(&state, &d));
    let block = block_with(&state, &a, &b, &q, k + 1, &[rejection]).expect("builds");
    let summary = state
        .apply_block(&block)
        .expect("two honest votes still reject");
    let votes = &summary.rejections[0].votes;
    assert_eq!(
        votes,
        &vec![
            (b.peer_id().to_string(), true),
            (c.peer_id().to_string(), true),
            (d.peer_id().to_string(), false)
        ]
    );
    // b also voted on the block's accepted optimae: +0.4 twice; d: +0.4 there, −2 here.
    let (b_gain, d_change) = (points(&state, &b) - b0, points(&state, &d) - d0);
    assert!((0.79..=0.81).contains(&b_gain), "{b_gain}");
    assert!((-1.61..=-1.59).contains(&d_change), "{d_change}");
}

fn refused(state: &ChainState, block: Result<Block, ConsensusError>) -> ConsensusError {
    match block {
        Err(ConsensusError::InRejection { source, .. }) => *source,
        other => panic!(
            "expected a refused rejection, got {other:?} on {}",
            state.height()
        ),
    }
}

#[test]
fn forged_or_misplaced_rejections_are_refused_for_the_rule_they_break() {
    let [a, b, c, d, e] = [1, 2, 3, 4, 5].map(identity);
    let (state, k, _) = quorum_chain(&a, [&b, &c, &d]);
    let q = [&b, &c, &d];
    let good = inflated_claim(&state, &a, &q, k + 2);
    let build = |r: RejectedOptimae| block_with(&state, &a, &b, &q, k + 1, &[r]);
    build(good.clone()).expect("the genuine evidence builds");

    // A vote from outside the quorum in place of a member's.
    let mut outsider = good.clone();
    outsider.votes[2] = votes(&state, &a, &good.claim.reveal, &[&e]).remove(0);
    assert_eq!(
        refused(&state, build(outsider)),
        ConsensusError::VoteFromOutsider(e.peer_id().into())
    );

    // A member's vote missing, or one member twice.
    let mut missing = good.clone();
    missing.votes.pop();
    assert_eq!(
        refused(&state, build(missing)),
        ConsensusError::MissingVote(d.peer_id().into())
    );
    let mut twice = good.clone();
    twice.votes[2] = twice.votes[1].clone();
    assert_eq!(
        refused(&state, build(twice)),
        ConsensusError::DuplicateVote(c.peer_id().into())
    );

    // Votes that accept: an honest report is no rejection.
    let honest = reveal(&state, parameters(k + 2), k + 2);
    let accepting = RejectedOptimae {
        claim: OptimaeClaim::sealed(&a, &honest, good.claim.stake),
        votes: votes(&state, &a, &honest, &q),
    };
    assert!(matches!(
        refused(&state, build(accepting)),
        ConsensusError::QuorumAccepts {
            agree: 3,
            votes: 3,
            ..
        }
    ));

    // A claim sealed by someone else (a framed optimizer), or altered after sealing.
    let mut framed = good.clone();
    framed.claim.seal = OptimaeClaim::sealed(&b, &good.claim.reveal, good.claim.stake).seal;
    assert!(matches!(
        refused(&state, build(framed)),
        ConsensusError::BadClaimSeal(_)
    ));
    let mut altered = good.clone();
    altered.claim.stake = 0;
    assert!(matches!(
        refused(&state, build(altered)),
        ConsensusError::BadClaimSeal(_)
    ));
    let mut unbound = good.clone();
    unbound.claim.reveal.nonce = "other".into();
    assert!(matches!(
        refused(&state, build(unbound)),
        ConsensusError::WrongOptimaeId { .. } | ConsensusError::CommitmentMismatch { .. }
    ));

    // A claim whose commitment is not on chain (another nonce than the one committed):
    // evidence needs the commit block as much as an acceptance does.
    let uncommitted = Reveal {
        nonce: "f".repeat(32),
        ..good.claim.reveal.clone()
    };
    let off_chain = RejectedOptimae {
        claim: OptimaeClaim::sealed(&a, &uncommitted, good.claim.stake),
        votes: votes(&state, &a, &uncommitted, &q),
    };
    assert_eq!(
        refused(&state, build(off_chain)),
        ConsensusError::CommitmentNotOnChain {
            commitment: uncommitted.commitment_hash(),
            commit_height: state.height()
        }
    );

    // A vote on another optimae, or with a doctored figure.
    let mut doctored = good.clone();
    doctored.votes[0] = QuorumVote {
        verified_performance: good.claim.reveal.reported_performance,
        seal: None,
        ..good.votes[0].clone()
    };
    assert!(matches!(
        refused(&state, build(doctored)),
        ConsensusError::BadVoteSeal { .. }
    ));

    // The same evidence twice in one block: the merkle leaves repeat.
    let dup = block_with(&state, &a, &b, &q, k + 1, &[good.clone(), good.clone()]);
    assert!(
        matches!(
            dup,
            Err(ConsensusError::Content(BlockError::DuplicateTransaction(_)))
        ),
        "{dup:?}"
    );

    // The accepted optimae of the same block rejected too.
    let r = reveal(&state, parameters(k + 1), k + 1);
    let inflated_twin = RejectedOptimae {
        claim: OptimaeClaim::sealed(
            &a,
            &Reveal {
                reported_performance: r.reported_performance * 0.5,
                ..r.clone()
            },
            good.claim.stake,
        ),
        votes: Vec::new(),
    };
    let mut twin = inflated_twin.clone();
    twin.votes = votes(&state, &a, &twin.claim.reveal, &q);
    assert!(matches!(
        refused(&state, build(twin)),
        ConsensusError::CommitmentReused(_)
    ));

    // A block whose evidence is stripped after sealing: refused.
    let block = build(good).expect("builds");
    let mut stripped = block.clone();
    stripped
        .transactions
        .retain(|tx| tx.tx_type != TransactionType::OptimaeRejected);
    assert!(matches!(
        state.validate_block(&stripped),
        Err(ConsensusError::Content(BlockError::MerkleMismatch { .. }))
    ));
    // Evidence moved onto another peer (as if someone else were rejected), resealed:
    // the transaction no longer matches what it carries.
    let mut moved = block.clone();
    let at = {
        let l = moved.layout().expect("layout");
        l.accepted.len() + l.announced.len()
    };
    moved.transactions[at].peer_id = "someone-else".into();
    moved.transactions[at].id = moved.transactions[at].compute_id();
    moved.header.merkle_root = moved.compute_merkle_root();
    moved.hash = moved.header.compute_hash();
    moved.seal = Some(b.seal(doin_primitives::seal::SealKind::Block, &moved.hash));
    match state.validate_block(&moved) {
        Err(ConsensusError::InRejection { source, .. }) => {
            assert!(matches!(*source, ConsensusError::CarrierMismatch { .. }))
        }
        other => panic!("expected a carrier mismatch, got {other:?}"),
    }
    // The earlier layout's key is refused by name.
    let mut old = block.clone();
    old.extensions.insert(
        "rejections".into(),
        doin_primitives::value::Value::Array(Vec::new()),
    );
    assert!(matches!(
        state.validate_block(&old),
        Err(ConsensusError::Content(BlockError::OldLayout(_)))
    ));
}

#[test]
fn the_stake_rule_burns_a_fifth_of_at_least_the_required_stake_within_the_balance() {
    use doin_consensus::fee_market::MIN_BASE_FEE;
    use doin_consensus::rejection::{check_stake, claim_stake, required_stake};
    let required = required_stake(MIN_BASE_FEE);
    assert_eq!(required, 500_000);
    assert_eq!(claim_stake(MIN_BASE_FEE), 625_000);
    assert!(check_stake(required, MIN_BASE_FEE).is_ok());
    assert_eq!(
        check_stake(required - 1, MIN_BASE_FEE),
        Err(ConsensusError::StakeTooLow {
            stake: required - 1,
            required
        })
    );
    // An optimizer that stakes nothing loses as much as one that stakes the minimum.
    assert_eq!(stake_burn(0, MIN_BASE_FEE, u64::MAX), 100_000);
    assert_eq!(stake_burn(1_000_000, MIN_BASE_FEE, u64::MAX), 200_000);
    // Capped at the balance: a new node with nothing loses nothing but reputation.
    assert_eq!(stake_burn(1_000_000, MIN_BASE_FEE, 7), 7);
    assert_eq!(stake_burn(1_000_000, MIN_BASE_FEE, 0), 0);
    assert_eq!(stake_burn(u64::MAX, MIN_BASE_FEE, u64::MAX), u64::MAX / 5);
}

#[test]
fn a_block_carries_channel_operations_and_rejections_under_one_merkle_root() {
    use doin_primitives::models::{ChannelAction, ChannelOp, CHANNEL_OPS_KEY};
    let [a, b, c, d] = [1, 2, 3, 4].map(identity);
    let (mut state, k, _) = quorum_chain(&a, [&b, &c, &d]);
    let q = [&b, &c, &d];
    let deposit = state.balance(a.peer_id()) / 2;
    let open = ChannelOp::signed(
        &a,
        ChannelAction::Open {
            receiver: b.peer_id().into(),
            deposit: deposit as i64,
            dispute_period: 100,
        },
        state.base_fee() as i64,
        1,
    );
    let r = reveal(&state, parameters(k + 1), k + 1);
    let tx = accepted_tx(&state, &a, &r, &q);
    let built = state
        .build_block_with_ops(
            &b,
            vec![tx],
            Vec::new(),
            vec![open.clone()],
            time((k as i64 + 1) * BLOCK_SECS + 9),
        )
        .expect("builds");
    let rejection = inflated_claim(&state, &a, &q, k + 2);
    let block = state
        .add_rejections(&b, built, std::slice::from_ref(&rejection))
        .expect("evidence fits");
    assert!(block.extensions.contains_key(CHANNEL_OPS_KEY));
    // One accepted optimae, the rejection, then the commitment to the channel operation,
    // under the reference's merkle root of the transaction ids.
    let layout = block.check_layout().expect("layout");
    assert_eq!(layout.accepted.len(), 1);
    assert_eq!(layout.rejected, [rejection.to_tx()]);
    let commit = layout.extension_commit.expect("committed");
    assert_eq!(
        commit.payload.get("doin_extensions_root"),
        Some(&doin_primitives::value::Value::Str(
            doin_primitives::merkle::merkle_root(&[open.compute_id()])
        ))
    );
    assert_eq!(
        block.header.merkle_root,
        doin_primitives::merkle::merkle_root(&block.merkle_leaves())
    );
    doin_consensus::validate::verify_block_signatures(&block).expect("seals hold");
    let burned_before = state.total_burned();
    let summary = state.apply_block(&block).expect("valid");
    assert_eq!(summary.rejections.len(), 1);
    assert_eq!(state.total_locked(), deposit);
    // The open's base fee and a fifth of the stake.
    assert_eq!(
        state.total_burned(),
        burned_before + summary.channels.burned + rejection.claim.stake / 5
    );
    assert_eq!(
        sum_of_balances(&state),
        state.total_minted() - state.total_burned()
    );
}
