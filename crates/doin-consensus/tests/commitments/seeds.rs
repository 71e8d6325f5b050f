//! Quorum and synthetic-data seeds follow the hash of the block that carries the
//! commitment.

use super::*;
use doin_consensus::quorum::{select_quorum, selection_seed};
use doin_consensus::{ChainState, ConsensusError, Reveal};
use doin_primitives::identity::Identity;
use doin_primitives::models::Block;

#[test]
fn seeds_follow_the_commit_block() {
    // The same commitment carried by two different commitment blocks (a fork at the same
    // height): different synthetic-data seeds, and votes made on one fork fail on the
    // other.
    let node = identity(1);
    let (state, _) = solo_chain(&node, 2);
    let r3 = uncommitted(&state, 3);
    let c = commitment(&node, &r3);
    let forks: Vec<(ChainState, Block)> = [10.0, 11.0]
        .into_iter()
        .map(|secs| {
            let mut s = state.clone();
            let b = commit_block(&s, &node, std::slice::from_ref(&c), after_tip(&s, secs));
            s.apply_block(&b).expect("valid");
            (s, b)
        })
        .collect();
    let h = state.height() + 1;
    let [(s1, b1), (s2, b2)] = &forks[..] else {
        unreachable!()
    };
    assert_ne!(b1.hash, b2.hash);
    assert_eq!(s1.seed_block_hash(h), Ok(b1.hash.as_str()));
    assert_eq!(s2.seed_block_hash(h), Ok(b2.hash.as_str()));
    let seed = |s: &ChainState| {
        s.synthetic_seed_for(&r3.commitment_hash(), DOMAIN, node.peer_id(), h)
            .expect("in window")
    };
    assert_ne!(seed(s1), seed(s2));
    let r = Reveal {
        commit_height: h,
        timestamp: after_tip(s1, 5.0),
        ..r3
    };
    let tx = accepted_tx(s1, &node, &r, &[&node]);
    s1.build_block(&node, vec![tx.clone()], after_tip(s1, 9.0))
        .expect("valid on its fork");
    let err = s2
        .build_block(&node, vec![tx], after_tip(s2, 9.0))
        .expect_err("seeded by the other fork");
    assert!(
        matches!(err.root(), ConsensusError::WrongVoteSeed { .. }),
        "{err}"
    );

    // On a network chain the quorum is drawn with the commit block's hash: over eight
    // commit blocks for the same commitment, each quorum is the one its block's hash
    // selects, and they are not all the same.
    let ids: Vec<Identity> = (1..=6).map(identity).collect();
    let a = &ids[0];
    let mut p = solo_params();
    p.quorum_min_evaluators = 1;
    // Every generator and agreeing voter is eligible.
    p.min_reputation_micro = 0;
    let mut net = ChainState::new(p);
    open_chain(&mut net, a, &[step_commitment(a, 1)]);
    for k in 1..=5u64 {
        let r = reveal(&net, parameters(k), k);
        let quorum = net
            .quorum_for(DOMAIN, a.peer_id(), r.commit_height)
            .expect("quorum");
        let voters: Vec<&Identity> = ids
            .iter()
            .filter(|i| quorum.iter().any(|q| q == i.peer_id()))
            .collect();
        let tx = accepted_tx(&net, a, &r, &voters);
        let b = step_block(&net, &ids[k as usize], a, tx, k);
        net.apply_block(&b).expect("valid");
    }
    let c = step_commitment(a, 7);
    let mut quorums = std::collections::BTreeSet::new();
    for i in 0..8 {
        let mut s = net.clone();
        let b = commit_block(
            &s,
            a,
            std::slice::from_ref(&c),
            after_tip(&s, 10.0 + f64::from(i)),
        );
        s.apply_block(&b).expect("valid");
        let q = s
            .quorum_for(DOMAIN, a.peer_id(), s.height())
            .expect("quorum");
        let eligible = s.eligible_evaluators(s.height()).expect("recent");
        assert!(eligible.len() > 2, "{eligible:?}");
        assert_eq!(
            q,
            select_quorum(&selection_seed(&b.hash, DOMAIN), a.peer_id(), eligible, 1)
        );
        // Blocks on top change nothing: the seed stays the commit block's.
        let h = s.height();
        let seed = s.synthetic_seed_for(&step_commitment_hash(7), DOMAIN, ids[1].peer_id(), h);
        let other = commitment(&ids[1], &uncommitted(&s, 9));
        let on_top = commit_block(&s, &ids[1], &[other], after_tip(&s, 10.0));
        s.apply_block(&on_top).expect("valid");
        assert_eq!(s.quorum_for(DOMAIN, a.peer_id(), h).as_ref(), Ok(&q));
        assert_eq!(
            s.synthetic_seed_for(&step_commitment_hash(7), DOMAIN, ids[1].peer_id(), h),
            seed
        );
        quorums.insert(q);
    }
    assert!(quorums.len() > 1, "{quorums:?}");
}
