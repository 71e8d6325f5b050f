//! A reveal needs its commitment carried on chain, by the block it names, under its
//! optimizer and domain.

use super::*;
use doin_consensus::{ChainState, ConsensusError, Reveal};

#[test]
fn a_reveal_whose_commitment_is_not_on_chain_is_refused() {
    let node = identity(1);

    // Genesis carries no commitment: a new chain's first optimae cannot be revealed.
    let fresh = ChainState::new(solo_params());
    let r = reveal(&fresh, parameters(1), 1);
    assert_eq!(r.commit_height, 0);
    let tx = accepted_tx(&fresh, &node, &r, &[&node]);
    let err = fresh
        .build_block(&node, vec![tx], time(19))
        .expect_err("nothing committed at genesis");
    assert_eq!(
        err.root(),
        &ConsensusError::CommitmentNotOnChain {
            commitment: r.commitment_hash(),
            commit_height: 0
        }
    );

    // On a chain whose tip carries step 4's commitment, step 4 under another nonce.
    let (state, _) = solo_chain(&node, 3);
    let good = solo_block(&state, &node, 4);
    state
        .validate_block(&good)
        .expect("the committed reveal is valid");
    let r = uncommitted(&state, 4);
    let expected = ConsensusError::CommitmentNotOnChain {
        commitment: r.commitment_hash(),
        commit_height: state.height(),
    };
    let tx = accepted_tx(&state, &node, &r, &[&node]);
    assert_eq!(
        state
            .check_accepted_tx(&tx)
            .as_ref()
            .map_err(ConsensusError::root),
        Err(&expected)
    );
    let err = state
        .build_block(&node, vec![tx.clone()], time(49))
        .expect_err("not committed");
    assert_eq!(err.root(), &expected);
    // The same transaction in the valid block's place (the forger reseals).
    let mut forged = good.clone();
    forged.transactions = vec![tx];
    assert_eq!(refused(&state, &reseal(forged, &node)), expected);
}

#[test]
fn a_reveal_must_name_the_block_that_carries_its_commitment() {
    let node = identity(1);
    let (mut state, _) = solo_chain(&node, 4);
    // Block 5 (the tip) carries step 5's commitment; block 6 is a commitment block
    // carrying someone's other commitment.
    let carrier = state.height();
    let other = commitment(&identity(2), &uncommitted(&state, 9));
    let b = commit_block(&state, &node, &[other], after_tip(&state, 10.0));
    state.apply_block(&b).expect("a commitment block");
    assert_eq!(state.height(), carrier + 1);

    let named = |commit_height: u64| {
        let r = Reveal {
            commit_height,
            ..reveal(&state, parameters(5), 5)
        };
        let tx = accepted_tx(&state, &node, &r, &[&node]);
        state.build_block(&node, vec![tx], after_tip(&state, 5.0))
    };
    for wrong in [carrier - 1, carrier + 1] {
        let err = named(wrong).expect_err("another block than the commit block");
        assert!(
            matches!(
                err.root(),
                ConsensusError::CommitmentNotOnChain { commit_height, .. } if *commit_height == wrong
            ),
            "{err}"
        );
    }
    let block = named(carrier).expect("the commit block, one block below the tip");
    state.apply_block(&block).expect("valid");
    assert_eq!(state.domain(DOMAIN).expect("domain").accepted, 5);
}

#[test]
fn a_copier_cannot_reveal_a_commitment_carried_under_another_optimizer() {
    let honest = identity(1);
    let copier = identity(2);
    let (state, _) = solo_chain(&honest, 2);
    // The tip carries the honest optimizer's commitment to step 3; the copier saw the
    // reveal (parameters and nonce) and submits it as its own.
    let r = reveal(&state, parameters(3), 3);
    let copied = accepted_tx(&state, &copier, &r, &[&copier]);
    let err = state
        .build_block(&copier, vec![copied], time(39))
        .expect_err("committed under the honest optimizer");
    assert_eq!(
        err.root(),
        &ConsensusError::CommitmentNotOnChain {
            commitment: r.commitment_hash(),
            commit_height: state.height()
        }
    );
    // Nor does committing to the copied reveal under its own id help: the commitment
    // goes on chain (it is bound to the copier, so it squats nothing), but the honest
    // optimizer bound the same reference commitment in an earlier block, and the first
    // commitment wins.
    let mine = commitment(&copier, &r);
    assert_ne!(
        mine.bound_commitment,
        commitment(&honest, &r).bound_commitment
    );
    let mut later = state.clone();
    let block = later
        .build_block_with_commitments(
            &copier,
            Vec::new(),
            Vec::new(),
            Vec::new(),
            &[mine],
            after_tip(&state, 10.0),
        )
        .expect("the copier's own commitment");
    later.apply_block(&block).expect("valid");
    let copied = Reveal {
        commit_height: later.height(),
        ..r.clone()
    };
    let tx = accepted_tx_unscored(&later, &copier, &copied);
    let err = later
        .build_block(&copier, vec![tx], after_tip(&later, 1.0))
        .expect_err("a copy of an earlier commitment");
    assert_eq!(
        err.root(),
        &ConsensusError::CommitmentCopied {
            commitment: r.commitment_hash(),
            first: honest.peer_id().to_string(),
            height: state.height(),
        }
    );
    let mut relabelled = commitment(&honest, &uncommitted(&state, 3));
    relabelled.optimizer_id = copier.peer_id().to_string();
    let err = state
        .build_block_with_commitments(
            &copier,
            Vec::new(),
            Vec::new(),
            Vec::new(),
            &[relabelled],
            after_tip(&state, 10.0),
        )
        .expect_err("sealed by another key");
    let (_, source) = in_commitment(&err);
    assert!(
        matches!(source, ConsensusError::BadCommitmentSeal(_)),
        "{source}"
    );

    // The honest reveal is accepted, whoever generates the block.
    let tx = accepted_tx(&state, &honest, &r, &[&honest]);
    let block = state
        .build_block(&copier, vec![tx], time(39))
        .expect("the honest reveal builds");
    let mut next = state.clone();
    let summary = next.apply_block(&block).expect("valid");
    assert_eq!(summary.optimae[0].optimizer_id, honest.peer_id());
}
