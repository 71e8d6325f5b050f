//! The bootstrap of a network chain (quorums of two, only one other peer eligible yet):
//! other evaluators' extra votes are admitted so that they get on chain, but they never
//! decide. Two fresh keys backing an inflated report cannot outvote the quorum member, and
//! extra votes that disagree with it are recorded as divergent and do not make their keys
//! eligible for quorums.

mod common;

use common::*;
use doin_consensus::accepted::{AcceptedOptimae, Reveal};
use doin_consensus::{ChainState, ConsensusError, QuorumVote, Scoring};
use doin_primitives::identity::Identity;

/// `a` opens the chain with its commitment block, verifies itself (nobody else yet), then
/// `b` generates a block; now `a`'s quorum is `b` alone and the chain is young. Each
/// block carries `a`'s commitment to the next step.
fn young_chain(a: &Identity, b: &Identity) -> ChainState {
    let mut p = solo_params();
    p.quorum_min_evaluators = 2;
    let mut state = ChainState::new(p);
    open_chain(&mut state, a, &[step_commitment(a, 1)]);
    for (k, generator) in [(1u64, a), (2, b)] {
        let r = reveal(&state, parameters(k), k);
        let tx = accepted_tx(&state, a, &r, &[a]);
        let block = step_block(&state, generator, a, tx, k);
        state.apply_block(&block).expect("valid");
    }
    state
}

/// `r` with the member's honest vote and two extra votes measuring `extra`.
fn with_extra_votes(
    state: &ChainState,
    a: &Identity,
    r: &Reveal,
    b: &Identity,
    sybils: [&Identity; 2],
    extra: f64,
) -> Vec<QuorumVote> {
    let mut v = votes(state, a, r, &[b, sybils[0], sybils[1]]);
    for (vote, key) in v[1..].iter_mut().zip(sybils) {
        *vote = QuorumVote {
            verified_performance: extra,
            seal: None,
            ..vote.clone()
        }
        .sealed(key);
    }
    v
}

#[test]
fn extra_votes_cannot_carry_an_inflated_report() {
    let [a, b, s1, s2] = [1, 2, 7, 8].map(identity);
    let state = young_chain(&a, &b);
    assert!(state.is_young(a.peer_id(), state.height()));
    assert_eq!(
        state.quorum_for(DOMAIN, a.peer_id(), state.height()),
        Ok(vec![b.peer_id().to_string()])
    );
    let honest = reveal(&state, parameters(3), 3);
    let inflated = Reveal {
        reported_performance: honest.reported_performance * 0.5,
        ..honest.clone()
    };
    let v = with_extra_votes(
        &state,
        &a,
        &inflated,
        &b,
        [&s1, &s2],
        inflated.reported_performance,
    );
    let err = state
        .score_optimae(&inflated, a.peer_id(), &v)
        .expect_err("the member's vote decides");
    assert!(
        matches!(
            err,
            ConsensusError::QuorumRejected {
                agree: 1,
                votes: 1,
                ..
            }
        ),
        "{err}"
    );
    // The same transaction with self-declared numbers is refused in a block.
    let forged = Scoring {
        verified_performance: inflated.reported_performance,
        increment: 1.0,
        effective_increment: 0.5,
        reward_fraction: 1.0,
        ..Default::default()
    };
    let tx = AcceptedOptimae::build(&a, &inflated, &forged, &v, &experiment(3));
    assert!(matches!(
        state.check_accepted_tx(&tx).map_err(|e| e.root().clone()),
        Err(ConsensusError::QuorumRejected { .. })
    ));
}

#[test]
fn disagreeing_extra_votes_are_recorded_as_divergent() {
    let [a, b, s1, s2] = [1, 2, 7, 8].map(identity);
    let mut state = young_chain(&a, &b);
    let r = reveal(&state, parameters(3), 3);
    let v = with_extra_votes(&state, &a, &r, &b, [&s1, &s2], r.reported_performance * 3.0);
    let scoring = state
        .score_optimae(&r, a.peer_id(), &v)
        .expect("the member agrees with the honest report");
    let tx = AcceptedOptimae::build(&a, &r, &scoring, &v, &experiment(3));
    let block = state
        .build_block(&b, vec![tx], time(3 * BLOCK_SECS + 9))
        .expect("builds");
    let summary = state.apply_block(&block).expect("valid");
    let agreed: Vec<bool> = summary.optimae[0].votes.iter().map(|(_, a)| *a).collect();
    assert_eq!(agreed, [true, false, false]);
    assert_eq!(state.reputation(s1.peer_id()), 0);
    // Bootstrap eligibility counts contributors only: the divergent keys are not drawn.
    let eligible = state.eligible_evaluators(state.height()).expect("tip");
    assert!(eligible.contains(&b.peer_id().to_string()));
    assert!(!eligible.contains(&s1.peer_id().to_string()));
    assert!(!eligible.contains(&s2.peer_id().to_string()));
}
