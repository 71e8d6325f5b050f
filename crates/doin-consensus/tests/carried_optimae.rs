//! Carried optimae ([`doin_consensus::carried`]): a block generator carries another
//! optimizer's verified optimae, sealing the transaction itself, with the optimizer's claim
//! seal inside. Valid when both seals hold; refused when the claim is forged, belongs to
//! another optimizer, or no longer covers what the carrier wrote, and when the transaction
//! is sealed by anyone but the block's generator.

mod common;

use common::*;
use doin_consensus::accepted::{AcceptedOptimae, Reveal};
use doin_consensus::carried::VerifiedOptimae;
use doin_consensus::coinbase::Role;
use doin_consensus::validate::verify_block_signatures;
use doin_consensus::{ChainState, ConsensusError};
use doin_primitives::identity::Identity;
use doin_primitives::models::{Block, Transaction};
use doin_primitives::seal::SealKind;

/// A chain `a` opened with its commitment to step 1, the step revealed at the tip and
/// verified by `a` (a solo chain's quorum), and `a`'s verified optimae of it.
fn verified_step(a: &Identity) -> (ChainState, Reveal, VerifiedOptimae) {
    let mut state = ChainState::new(solo_params());
    open_chain(&mut state, a, &[step_commitment(a, 1)]);
    let r = reveal(&state, parameters(1), 1);
    let v = votes(&state, a, &r, &[a]);
    let verified = VerifiedOptimae::sealed(a, &r, &v, &experiment(1));
    (state, r, verified)
}

/// `verified` carried by `generator` at the tip.
fn carried_tx(state: &ChainState, generator: &Identity, verified: &VerifiedOptimae) -> Transaction {
    let scoring = state
        .score_optimae_by(
            &[],
            &verified.reveal,
            &verified.optimizer_id,
            &verified.votes,
            time(BLOCK_SECS + 9).unix_micros(),
            generator.peer_id(),
        )
        .expect("scored");
    verified.carry(generator, &scoring)
}

/// The root cause of a block's refusal, by full validation and by the stateless seal
/// check (which must agree when the cause is a seal).
fn refusal(state: &ChainState, block: &Block) -> ConsensusError {
    state
        .validate_block(block)
        .expect_err("refused")
        .root()
        .clone()
}

/// `block` with its first transaction replaced by `tx` (same id, so the block hash, and
/// the generator's seal over it, still hold).
fn with_tx(block: &Block, tx: Transaction) -> Block {
    let mut b = block.clone();
    assert_eq!(b.transactions[0].id, tx.id, "same content");
    b.transactions[0] = tx;
    b
}

#[test]
fn a_generator_carries_another_optimizers_optimae() {
    let [a, b] = [1, 2].map(identity);
    let (mut state, _, verified) = verified_step(&a);
    verified.check_seals().expect("claim and votes sealed");
    let tx = carried_tx(&state, &b, &verified);
    assert_eq!(
        tx.peer_id,
        a.peer_id(),
        "the optimizer stays the transaction's peer"
    );
    // Outside a block, or for another generator, a carried transaction does not hold.
    assert_eq!(
        state.check_accepted_tx(&tx).map_err(|e| e.root().clone()),
        Err(ConsensusError::CarriedOutsideBlock)
    );
    let at = time(BLOCK_SECS + 9).unix_micros();
    assert!(state
        .pending_sum_by(std::slice::from_ref(&tx), at, b.peer_id())
        .is_ok());
    assert!(matches!(
        state
            .pending_sum_by(std::slice::from_ref(&tx), at, a.peer_id())
            .map_err(|e| e.root().clone()),
        Err(ConsensusError::BadCarrierSeal(_))
    ));

    let block = step_block(&state, &b, &a, tx, 1);
    verify_block_signatures(&block).expect("seals hold");
    let summary = state.apply_block(&block).expect("carried optimae accepted");
    assert_eq!(summary.generator_id, b.peer_id());
    assert_eq!(summary.optimae.len(), 1);
    assert_eq!(summary.optimae[0].optimizer_id, a.peer_id());
    // The coinbase pays the optimizer and its evaluator, the generator as generator.
    let paid = |who: &Identity, role: Role| {
        summary
            .coinbase
            .outputs
            .iter()
            .any(|o| o.recipient == who.peer_id() && o.role == role && o.amount > 0)
    };
    assert!(paid(&a, Role::Optimizer));
    assert!(paid(&a, Role::Evaluator));
    assert!(paid(&b, Role::Generator));
    assert!(!paid(&b, Role::Optimizer));
    // A node replaying its stored chain (trusting checked signatures) accepts it too.
    let mut replayed = ChainState::new(solo_params());
    open_chain(&mut replayed, &a, &[step_commitment(&a, 1)]);
    replayed
        .apply_stored_block(&block)
        .expect("stored carried block");
}

#[test]
fn the_optimizers_own_form_stays_valid_in_anyones_block() {
    let [a, b] = [1, 2].map(identity);
    let (mut state, r, _) = verified_step(&a);
    let tx = accepted_tx(&state, &a, &r, &[&a]);
    assert!(AcceptedOptimae::from_tx(&tx)
        .expect("parses")
        .claim_seal
        .is_none());
    assert!(
        !tx.payload.contains_key("claim_seal"),
        "old payloads unchanged"
    );
    let block = step_block(&state, &b, &a, tx, 1);
    verify_block_signatures(&block).expect("seals hold");
    state.apply_block(&block).expect("own form accepted");
}

#[test]
fn a_forged_claim_is_refused() {
    let [a, b, c] = [1, 2, 3].map(identity);
    let (state, _, verified) = verified_step(&a);
    // `c` seals the claim in `a`'s name.
    let forged = VerifiedOptimae {
        claim_seal: Some(c.seal(SealKind::CarriedClaim, &verified.claim_id())),
        ..verified.clone()
    };
    assert!(matches!(
        forged.check_seals(),
        Err(ConsensusError::BadOptimizerSeal(_))
    ));
    let good = step_block(&state, &b, &a, carried_tx(&state, &b, &verified), 1);
    let scoring = state
        .score_optimae_by(
            &[],
            &verified.reveal,
            &verified.optimizer_id,
            &verified.votes,
            time(BLOCK_SECS + 9).unix_micros(),
            b.peer_id(),
        )
        .expect("scored");
    // A claim seal over another kind (the transaction's own seal kind) is no claim either.
    let wrong_kind = VerifiedOptimae {
        claim_seal: Some(a.seal(SealKind::Claim, &verified.claim_id())),
        ..verified.clone()
    };
    for v in [forged, wrong_kind] {
        let tx = v.carry(&b, &scoring);
        let block = state
            .build_block_with_commitments(
                &b,
                vec![tx.clone()],
                Vec::new(),
                Vec::new(),
                &[step_commitment(&a, 2)],
                time(BLOCK_SECS + 9),
            )
            .expect_err("the builder refuses it");
        assert!(matches!(block.root(), ConsensusError::BadOptimizerSeal(_)));
        // Forced into a block (its payload differs, so the block is rebuilt by hand).
        let mut forced = good.clone();
        forced.transactions[0] = tx;
        forced.header.merkle_root = String::new();
        let forced = reseal(forced, &b);
        assert!(matches!(
            refusal(&state, &forced),
            ConsensusError::BadOptimizerSeal(_)
        ));
        assert!(matches!(
            verify_block_signatures(&forced).map_err(|e| e.root().clone()),
            Err(ConsensusError::BadOptimizerSeal(_))
        ));
    }
}

/// `block` with its merkle root and hash recomputed, sealed by `generator`.
fn reseal(mut block: Block, generator: &Identity) -> Block {
    block.header.merkle_root = doin_primitives::merkle::merkle_root(
        &block
            .transactions
            .iter()
            .map(|t| t.id.clone())
            .collect::<Vec<_>>(),
    );
    block.hash = block.header.compute_hash();
    block.seal = Some(generator.seal(SealKind::Block, &block.hash));
    block
}

#[test]
fn a_claim_of_another_optimizer_is_refused() {
    let [a, b, c] = [1, 2, 3].map(identity);
    let (state, _, verified) = verified_step(&a);
    let good_tx = carried_tx(&state, &b, &verified);
    let good = step_block(&state, &b, &a, good_tx.clone(), 1);
    // `a`'s claim seal on a transaction naming `c` as its optimizer.
    let mut renamed = AcceptedOptimae::from_tx(&good_tx).expect("parses");
    renamed.optimizer_id = c.peer_id().to_string();
    let mut forced = good.clone();
    forced.transactions[0] = renamed.to_tx(&b);
    let forced = reseal(forced, &b);
    assert!(matches!(
        verify_block_signatures(&forced).map_err(|e| e.root().clone()),
        Err(ConsensusError::BadOptimizerSeal(_))
    ));
    assert!(matches!(
        refusal(&state, &forced),
        ConsensusError::BadOptimizerSeal(_)
    ));
    // `c` claims `a`'s reveal as its own, sealing its claim: the votes and the commitment
    // are `a`'s, so the rules refuse it all the same.
    let stolen =
        VerifiedOptimae::sealed(&c, &verified.reveal, &verified.votes, &verified.experiment);
    stolen.check_seals().expect("c's own seal holds");
    let scoring = state
        .score_optimae_by(
            &[],
            &verified.reveal,
            a.peer_id(),
            &verified.votes,
            time(BLOCK_SECS + 9).unix_micros(),
            b.peer_id(),
        )
        .expect("scored");
    let tx = stolen.carry(&b, &scoring);
    let at = time(BLOCK_SECS + 9).unix_micros();
    let err = state
        .pending_sum_by(&[tx], at, b.peer_id())
        .expect_err("refused");
    assert!(
        matches!(err.root(), ConsensusError::CommitmentNotOnChain { .. }),
        "{err}"
    );
}

#[test]
fn what_the_carrier_changes_in_the_claim_is_refused() {
    let [a, b] = [1, 2].map(identity);
    let (state, _, verified) = verified_step(&a);
    let good_tx = carried_tx(&state, &b, &verified);
    let good = step_block(&state, &b, &a, good_tx.clone(), 1);
    let original = AcceptedOptimae::from_tx(&good_tx).expect("parses");
    let edits: [fn(&mut AcceptedOptimae); 5] = [
        |x| x.experiment.round_number += 1,
        |x| x.experiment.experiment_id.push('!'),
        |x| x.experiment.time_to_this_result_seconds += 1.0,
        |x| {
            x.experiment
                .champion_metrics
                .insert("round".into(), doin_primitives::value::Value::Int(99));
        },
        |x| x.experiment.data_hash = "00".repeat(32),
    ];
    for edit in edits {
        let mut changed = original.clone();
        edit(&mut changed);
        let mut forced = good.clone();
        forced.transactions[0] = changed.to_tx(&b);
        let forced = reseal(forced, &b);
        assert!(
            matches!(
                refusal(&state, &forced),
                ConsensusError::BadOptimizerSeal(_)
            ),
            "{:?}",
            refusal(&state, &forced)
        );
    }
}

#[test]
fn a_carried_transaction_sealed_by_another_than_the_generator_is_refused() {
    let [a, b, c] = [1, 2, 3].map(identity);
    let (state, _, verified) = verified_step(&a);
    let good = step_block(&state, &b, &a, carried_tx(&state, &b, &verified), 1);
    // The same transaction sealed by `c` (or by the optimizer) in `b`'s block.
    for sealer in [&c, &a] {
        let mut tx = good.transactions[0].clone();
        tx.seal = Some(sealer.seal(SealKind::Transaction, &tx.id));
        let forced = with_tx(&good, tx);
        assert!(matches!(
            refusal(&state, &forced),
            ConsensusError::BadCarrierSeal(_)
        ));
        assert!(matches!(
            verify_block_signatures(&forced).map_err(|e| e.root().clone()),
            Err(ConsensusError::BadCarrierSeal(_))
        ));
    }
    // Unsealed.
    let mut tx = good.transactions[0].clone();
    tx.seal = None;
    assert!(matches!(
        refusal(&state, &with_tx(&good, tx)),
        ConsensusError::BadCarrierSeal(_)
    ));
}

#[test]
fn a_verified_optimae_round_trips_its_wire_form() {
    let a = identity(1);
    let (_, _, verified) = verified_step(&a);
    let back = VerifiedOptimae::from_value(&verified.to_value()).expect("parses");
    assert_eq!(back, verified);
    back.check_seals().expect("seals survive the wire");
    let mut tampered = verified.to_value();
    if let doin_primitives::value::Value::Object(m) = &mut tampered {
        m.insert(
            "round_number".into(),
            doin_primitives::value::Value::Int(1000),
        );
    }
    let tampered = VerifiedOptimae::from_value(&tampered).expect("parses");
    assert!(matches!(
        tampered.check_seals(),
        Err(ConsensusError::BadOptimizerSeal(_))
    ));
}
