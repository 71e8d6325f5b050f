//! Finality on a network chain needs an optimizer and a quorum: a branch one optimizer
//! minted alone, verifying itself while it is the only peer the branch has seen (the solo
//! rule of a young chain's quorums), never finalizes, however deep; the same blocks on a
//! solo chain do, and a network chain minted by three peers does
//! (`doin_consensus::finality::min_attesters`).

mod common;

use common::*;
use doin_consensus::ChainState;
use doin_primitives::identity::Identity;

/// Quorums of two: a network chain.
fn network_params() -> doin_consensus::ChainParams {
    let mut p = solo_params();
    p.quorum_min_evaluators = 2;
    p
}

/// `a` opens a chain of `params` and mints `n` steps of its own, verifying itself.
fn lone_chain(params: doin_consensus::ChainParams, a: &Identity, n: u64) -> ChainState {
    let mut state = ChainState::new(params);
    open_chain(&mut state, a, &[step_commitment(a, 1)]);
    for k in 1..=n {
        let b = solo_block(&state, a, k);
        state.apply_block(&b).expect("valid");
    }
    state
}

#[test]
fn a_lone_optimizer_does_not_finalize_a_network_chain() {
    let a = identity(1);
    let solo = lone_chain(solo_params(), &a, 30);
    assert_eq!(
        solo.finalized_height(),
        24,
        "a solo chain finalizes as deep as before"
    );
    let network = lone_chain(network_params(), &a, 30);
    assert_eq!(network.height(), 31);
    assert!(network.is_young(a.peer_id(), network.height()));
    assert_eq!(
        network.finalized_height(),
        0,
        "one peer holds all the weight of its own branch: it finalizes nothing alone"
    );
}

#[test]
fn a_network_chain_minted_by_an_optimizer_and_its_quorum_finalizes() {
    let peers = [1, 2, 3].map(identity);
    let a = &peers[0];
    let mut state = ChainState::new(network_params());
    open_chain(&mut state, a, &[step_commitment(a, 1)]);
    for k in 1..=20u64 {
        let quorum = state
            .quorum_for(DOMAIN, a.peer_id(), state.height())
            .expect("quorum");
        let evaluators: Vec<&Identity> = peers
            .iter()
            .filter(|p| quorum.iter().any(|q| q == p.peer_id()))
            .collect();
        let r = reveal(&state, parameters(k), k);
        let tx = accepted_tx(&state, a, &r, &evaluators);
        let generator = &peers[(k % 3) as usize];
        let b = step_block(&state, generator, a, tx, k);
        state.apply_block(&b).expect("valid");
    }
    assert_eq!(state.height(), 21);
    assert_eq!(state.finalized_height(), 12, "{state:?}");
}
