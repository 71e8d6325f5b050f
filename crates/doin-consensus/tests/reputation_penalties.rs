//! Asymmetric penalties on a network chain with quorums of three: a divergent evaluator
//! loses more reputation than an agreeing one earns and is not paid; an optimizer whose
//! report is inflated beyond the tolerance is rejected, and one inflated within the
//! tolerance earns less than the honest report would.

mod common;

use common::*;
use doin_consensus::accepted::{AcceptedOptimae, Reveal};
use doin_consensus::coinbase::Role;
use doin_consensus::{ChainState, ConsensusError, QuorumVote};
use doin_primitives::identity::Identity;

/// A chain where `a` optimizes (opening it with its commitment block) and `b`, `c`, `d`
/// generate the bootstrap blocks, then verify `honest_blocks` optimae as its quorum of
/// three. Each block carries `a`'s commitment to the next step.
fn chain(a: &Identity, others: [&Identity; 3], honest_blocks: u64) -> (ChainState, u64) {
    let mut p = solo_params();
    p.quorum_min_evaluators = 3;
    let mut state = ChainState::new(p);
    open_chain(&mut state, a, &[step_commitment(a, 1)]);
    let mut k = 0;
    for generator in [a, others[0], others[1], others[2]]
        .into_iter()
        .chain(std::iter::repeat_n(others[0], honest_blocks as usize))
    {
        k += 1;
        let r = reveal(&state, parameters(k), k);
        let quorum = state
            .quorum_for(DOMAIN, a.peer_id(), r.commit_height)
            .expect("quorum");
        // A young chain also counts the other evaluators' votes (bootstrap rule).
        let young = state.is_young(a.peer_id(), r.commit_height);
        let voters: Vec<&Identity> = [a, others[0], others[1], others[2]]
            .into_iter()
            .filter(|i| {
                quorum.iter().any(|q| q == i.peer_id()) || (young && i.peer_id() != a.peer_id())
            })
            .collect();
        let tx = accepted_tx(&state, a, &r, &voters);
        let block = step_block(&state, generator, a, tx, k);
        state.apply_block(&block).expect("valid");
    }
    (state, k)
}

fn points(state: &ChainState, who: &Identity) -> f64 {
    state.reputation(who.peer_id()) as f64 / 1e6
}

#[test]
fn a_divergent_evaluator_loses_more_than_an_agreeing_one_earns() {
    let [a, b, c, d] = [1, 2, 3, 4].map(identity);
    let (mut state, k) = chain(&a, [&b, &c, &d], 6);
    let quorum = state
        .quorum_for(DOMAIN, a.peer_id(), state.height())
        .expect("quorum");
    assert_eq!(quorum.len(), 3, "quorum of b, c and d: {quorum:?}");
    let (b0, d0) = (points(&state, &b), points(&state, &d));
    assert!(d0 > 2.0, "d earned its reputation by agreeing: {d0}");

    let k = k + 1;
    let r = reveal(&state, parameters(k), k);
    let mut v = votes(&state, &a, &r, &[&b, &c, &d]);
    v[2] = QuorumVote {
        verified_performance: v[2].verified_performance * 1.5,
        seal: None,
        ..v[2].clone()
    }
    .sealed(&d);
    let scoring = state
        .score_optimae(&r, a.peer_id(), &v)
        .expect("two of three agree");
    let tx = AcceptedOptimae::build(&a, &r, &scoring, &v, &experiment(k));
    let block = state
        .build_block(&b, vec![tx], time(k as i64 * BLOCK_SECS + 9))
        .expect("builds");
    let summary = state.apply_block(&block).expect("valid");

    let (b_gain, d_loss) = (points(&state, &b) - b0, d0 - points(&state, &d));
    assert!(
        (0.39..=0.41).contains(&b_gain),
        "agreeing vote earns 0.4: {b_gain}"
    );
    assert!(
        (1.99..=2.01).contains(&d_loss),
        "divergent vote costs 2.0: {d_loss}"
    );
    let paid: Vec<&str> = summary
        .coinbase
        .outputs
        .iter()
        .filter(|o| o.role == Role::Evaluator)
        .map(|o| o.recipient.as_str())
        .collect();
    assert!(
        !paid.contains(&d.peer_id().as_str()),
        "the divergent evaluator is not paid"
    );
    assert_eq!(paid.len(), 2);
}

#[test]
fn inflated_reports_are_rejected_or_earn_less() {
    let [a, b, c, d] = [1, 2, 3, 4].map(identity);
    let (state, k) = chain(&a, [&b, &c, &d], 1);
    let k = k + 1;
    let honest = reveal(&state, parameters(k), k);
    let v = votes(&state, &a, &honest, &[&b, &c, &d]);
    let honest_scoring = state
        .score_optimae(&honest, a.peer_id(), &v)
        .expect("honest report accepted");

    // Higher is better and performances are negative: an inflated report is nearer 0.
    let far = Reveal {
        reported_performance: honest.reported_performance * 0.5,
        ..honest.clone()
    };
    let err = state
        .score_optimae(&far, a.peer_id(), &v)
        .expect_err("inflated beyond the tolerance");
    assert!(
        matches!(
            err,
            ConsensusError::QuorumRejected {
                agree: 3,
                votes: 3,
                ..
            }
        ),
        "{err}"
    );

    let near = Reveal {
        reported_performance: honest.reported_performance * 0.97,
        ..honest.clone()
    };
    let s = state
        .score_optimae(&near, a.peer_id(), &v)
        .expect("within the tolerance");
    assert!(
        s.effective_increment < honest_scoring.effective_increment,
        "inflating by 3 % earns {} < honest {}",
        s.effective_increment,
        honest_scoring.effective_increment
    );
}
