//! Commitments on chain, through whole blocks built and validated by `ChainState`: a
//! reveal needs its commitment carried, by the block it names, under its optimizer and
//! domain; a commitment is sealed, carried once and used once; a commitment block (no
//! optimae, at least one commitment, one target block time after its parent) pays no
//! block reward, adds no work and leaves the difficulty; chains with commitment blocks
//! replay; quorum and synthetic-data seeds follow the commit block's hash.

mod common;

use common::*;
use doin_consensus::commitment::OptimaeCommitment;
use doin_consensus::quorum::{select_quorum, selection_seed};
use doin_consensus::{ChainState, ConsensusError, Reveal};
use doin_primitives::identity::Identity;
use doin_primitives::models::{Block, TransactionType, Transfer, WireModel};
use doin_primitives::seal::SealKind;
use doin_primitives::timestamp::Timestamp;

/// Recomputes the merkle root, the hash and the generator's seal after a forger edited
/// the block (as a forging generator can).
/// A reveal's transaction verified by its optimizer alone, with numbers that need not
/// score (for reveals refused before their scoring is checked).
fn accepted_tx_unscored(
    state: &ChainState,
    optimizer: &Identity,
    r: &Reveal,
) -> doin_primitives::models::Transaction {
    let v = votes(state, optimizer, r, &[optimizer]);
    let scoring = doin_consensus::Scoring {
        verified_performance: r.reported_performance,
        increment: 1.0,
        effective_increment: 1.0,
        reward_fraction: 1.0,
        ..Default::default()
    };
    doin_consensus::AcceptedOptimae::build(optimizer, r, &scoring, &v, &experiment(r.commit_height))
}

fn reseal(mut b: Block, generator: &Identity) -> Block {
    b.header.merkle_root = b.compute_merkle_root();
    b.hash = b.header.compute_hash();
    b.seal = Some(generator.seal(SealKind::Block, &b.hash));
    b
}

/// `b` carrying `commitments` (as `optimae_announced` transactions) instead of its own,
/// resealed.
fn carrying(b: &Block, generator: &Identity, commitments: &[OptimaeCommitment]) -> Block {
    let mut b = b.clone();
    let at = b.layout().expect("layout").accepted.len();
    b.transactions
        .retain(|tx| tx.tx_type != TransactionType::OptimaeAnnounced);
    b.transactions
        .splice(at..at, commitments.iter().map(OptimaeCommitment::to_tx));
    reseal(b, generator)
}

/// The rule a block's commitment breaks, with its index.
fn in_commitment(e: &ConsensusError) -> (usize, &ConsensusError) {
    match e {
        ConsensusError::InCommitment { index, source } => (*index, &**source),
        other => panic!("expected a refused commitment, got {other:?}"),
    }
}

/// The root reason `state` refuses `b`.
/// Asserts `err` refuses the block's first commitment for its seal.
fn refused_for_its_seal(err: &ConsensusError) {
    assert!(
        matches!(
            in_commitment(err),
            (0, ConsensusError::BadCommitmentSeal(_))
        ),
        "{err}"
    );
}

fn refused(state: &ChainState, b: &Block) -> ConsensusError {
    state
        .validate_block(b)
        .expect_err("the block must be refused")
        .root()
        .clone()
}

/// The tip's time plus `secs`.
fn after_tip(state: &ChainState, secs: f64) -> Timestamp {
    Timestamp::from_unix_micros(state.tip_time_micros() + (secs * 1e6) as i64)
}

/// Step `k`'s reveal with another nonce: a commitment nobody put on chain.
fn uncommitted(state: &ChainState, k: u64) -> Reveal {
    Reveal {
        nonce: "f".repeat(32),
        ..reveal(state, parameters(k), k)
    }
}

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
            first: honest.peer_id().to_owned(),
            height: state.height(),
        }
    );
    let mut relabelled = commitment(&honest, &uncommitted(&state, 3));
    relabelled.optimizer_id = copier.peer_id().to_owned();
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
    stolen.optimizer_id = identity(2).peer_id().to_owned();
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
    assert_eq!(paid, vec![(bob.peer_id(), tip)]);
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
