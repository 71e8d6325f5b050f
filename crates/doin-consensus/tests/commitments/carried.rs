//! A commitment is sealed by its optimizer, carried once and used once.

use super::*;
use doin_consensus::commitment::OptimaeCommitment;
use doin_consensus::{ChainState, ConsensusError, Reveal};
use doin_primitives::seal::SealKind;

#[test]
fn a_commitment_with_a_broken_seal_is_refused() {
    let node = identity(1);
    let (state, _) = solo_chain(&node, 2);
    let at = after_tip(&state, 10.0);
    let good = commitment(&node, &uncommitted(&state, 3));
    let block = commit_block(&state, &node, std::slice::from_ref(&good), at);
    state
        .validate_block(&block)
        .expect("a valid commitment block");

    // Altered after sealing: another hash under the same seal.
    let mut altered = good.clone();
    altered.bound_commitment = "0".repeat(64);
    let err = state
        .build_block_with_commitments(
            &node,
            Vec::new(),
            Vec::new(),
            Vec::new(),
            std::slice::from_ref(&altered),
            at,
        )
        .expect_err("broken seal");
    refused_for_its_seal(&err);
    let forged = carrying(&block, &node, &[altered]);
    let err = state.validate_block(&forged).expect_err("broken seal");
    refused_for_its_seal(&err);
    // Sync's signature check catches it too.
    let err = doin_consensus::validate::verify_block_signatures(&forged).expect_err("broken seal");
    refused_for_its_seal(&err);

    // Sealed by a key that is not its optimizer's: refused even for a stored block (seals
    // trusted, keys still matched to ids).
    let mut stolen = good.clone();
    stolen.optimizer_id = identity(2).peer_id().to_string();
    let forged = carrying(&block, &node, &[stolen]);
    let err = state
        .clone()
        .apply_stored_block(&forged)
        .expect_err("another key");
    refused_for_its_seal(&err);
    let err = state.validate_block(&forged).expect_err("another key");
    refused_for_its_seal(&err);

    // No seal at all, and a malformed hash.
    let mut unsealed = good.clone();
    unsealed.seal = None;
    let err = state
        .validate_block(&carrying(&block, &node, &[unsealed]))
        .expect_err("no seal");
    refused_for_its_seal(&err);
    let mut upper = good.clone();
    upper.bound_commitment = "AB".repeat(32);
    upper.seal = Some(node.seal(SealKind::Commitment, &upper.id()));
    let err = state
        .validate_block(&carrying(&block, &node, &[upper]))
        .expect_err("not lowercase hex");
    assert!(
        matches!(
            in_commitment(&err),
            (0, ConsensusError::MalformedCommitment(_))
        ),
        "{err}"
    );
}

#[test]
fn a_commitment_is_carried_once() {
    let node = identity(1);
    let (mut state, _) = solo_chain(&node, 2);
    let at = after_tip(&state, 10.0);
    let r3 = uncommitted(&state, 3);
    let c = commitment(&node, &r3);
    let reused = ConsensusError::CommitmentReused(c.bound_commitment.clone());

    // Twice in one block: the same object (a repeated merkle leaf), or the same hash
    // committed again at another time.
    let err = state
        .build_block_with_commitments(
            &node,
            Vec::new(),
            Vec::new(),
            Vec::new(),
            &[c.clone(), c.clone()],
            at,
        )
        .expect_err("twice");
    assert_eq!(in_commitment(&err), (1, &reused));
    let again = OptimaeCommitment::sealed(&node, DOMAIN, &r3.commitment_hash(), time(1));
    assert_ne!(again.id(), c.id());
    let err = state
        .build_block_with_commitments(
            &node,
            Vec::new(),
            Vec::new(),
            Vec::new(),
            &[c.clone(), again.clone()],
            at,
        )
        .expect_err("twice");
    assert_eq!(in_commitment(&err), (1, &reused));
    let once = commit_block(&state, &node, std::slice::from_ref(&c), at);
    let err = state
        .validate_block(&carrying(&once, &node, &[c.clone(), again.clone()]))
        .expect_err("twice");
    assert_eq!(in_commitment(&err), (1, &reused));
    assert!(matches!(
        state.validate_block(&carrying(&once, &node, &[c.clone(), c.clone()])),
        Err(ConsensusError::Content(
            doin_primitives::models::BlockError::DuplicateTransaction(_)
        ))
    ));

    // Once on chain, not again in a later block (while it is recent, nor once used).
    state.apply_block(&once).expect("carried once");
    let later = commit_block(
        &state,
        &node,
        &[commitment(&node, &uncommitted(&state, 4))],
        after_tip(&state, 10.0),
    );
    let err = state
        .validate_block(&carrying(&later, &node, std::slice::from_ref(&again)))
        .expect_err("already carried");
    assert_eq!(in_commitment(&err), (0, &reused));
    // Used by an accepted optimae, long after the block that carried it left the recent
    // window: the very same commitment never lands again (its transaction id would repeat
    // in the chain), and one sealed afresh for the same reveal lands but is inert, since
    // its reveal is used on chain.
    let (mut solo, blocks) = solo_chain(&node, 25);
    let used = OptimaeCommitment::read_block(&blocks[0]).expect("commitments")[0].clone();
    let first = reveal(&ChainState::new(solo_params()), parameters(1), 1);
    assert_eq!(
        solo.committed_at(&first.commitment_hash(), node.peer_id()),
        None
    );
    assert!(solo.commitment_landed(&used));
    let err = solo
        .build_block_with_commitments(
            &node,
            Vec::new(),
            Vec::new(),
            Vec::new(),
            std::slice::from_ref(&used),
            after_tip(&solo, 10.0),
        )
        .expect_err("the same commitment again");
    assert_eq!(
        in_commitment(&err),
        (
            0,
            &ConsensusError::CommitmentReused(used.bound_commitment.clone())
        )
    );
    let resealed = OptimaeCommitment::sealed(
        &node,
        DOMAIN,
        &first.commitment_hash(),
        after_tip(&solo, 5.0),
    );
    let again = solo
        .build_block_with_commitments(
            &node,
            Vec::new(),
            Vec::new(),
            Vec::new(),
            std::slice::from_ref(&resealed),
            after_tip(&solo, 10.0),
        )
        .expect("an old reveal committed afresh");
    solo.apply_block(&again).expect("valid");
    // A fresh timestamp, so that it is not refused as the same optimae first.
    let replayed = Reveal {
        commit_height: solo.height(),
        timestamp: after_tip(&solo, 1.0),
        ..first.clone()
    };
    let tx = accepted_tx_unscored(&solo, &node, &replayed);
    let err = solo
        .build_block(&node, vec![tx], after_tip(&solo, 1.0))
        .expect_err("used");
    assert_eq!(
        err.root(),
        &ConsensusError::CommitmentReused(first.commitment_hash())
    );
}
