//! A reference node follows a DOIN chain: every kind of block DOIN mints (a commitment
//! block; accepted optimae with commitments; accepted optimae with a transfer, a channel
//! operation, rejection evidence and a commitment) passes the reference's sync — its
//! models and its append rule ([`doin_consensus::reference::sync`]) — and the reference's
//! derived state (reputation, fork choice, chain metrics) reads DOIN's transactions as
//! DOIN does. Blocks of the earlier layout, DOIN-only transaction types and repeated ids
//! are refused, as a reference node refuses them.

mod common;

use common::*;
use doin_consensus::accepted::AcceptedOptimae;
use doin_consensus::commitment::OptimaeCommitment;
use doin_consensus::reference::sync::{ReferenceFollower, ReferenceSyncError};
use doin_consensus::rejection::RejectedOptimae;
use doin_consensus::ConsensusError;
use doin_primitives::json::parse;
use doin_primitives::merkle::merkle_root;
use doin_primitives::models::{Block, BlockError, ChannelAction, ChannelOp, Transfer, WireModel};
use doin_primitives::value::Value;
use std::collections::BTreeMap;

/// A quorum chain, then one block carrying every extension: `a`'s honest step `k + 1`,
/// a transfer from `c` to `d`, a channel `a` opens to `b`, the evidence of `a`'s inflated
/// claim on step `k + 2`, and `a`'s commitment to step `k + 3`.
fn every_kind_of_block() -> (Vec<Block>, doin_consensus::ChainState) {
    let [a, b, c, d] = [1, 2, 3, 4].map(identity);
    let (mut state, k, mut blocks) = quorum_chain(&a, [&b, &c, &d]);
    let q = [&b, &c, &d];
    let transfer = Transfer::signed(
        &c,
        d.peer_id(),
        (state.balance(c.peer_id()) / 10) as i64,
        state.base_fee() as i64,
        1,
        time(0),
    );
    let open = ChannelOp::signed(
        &a,
        ChannelAction::Open {
            receiver: b.peer_id().into(),
            deposit: (state.balance(a.peer_id()) / 4) as i64,
            dispute_period: 100,
        },
        state.base_fee() as i64,
        1,
    );
    let r = reveal(&state, parameters(k + 1), k + 1);
    let tx = accepted_tx(&state, &a, &r, &q);
    let rejection = inflated_claim(&state, &a, &q, k + 2);
    let built = state
        .build_block_with_commitments(
            &b,
            vec![tx],
            vec![transfer],
            vec![open],
            &[step_commitment(&a, k + 3)],
            time((k as i64 + 1) * BLOCK_SECS + 9),
        )
        .expect("builds");
    let block = state
        .add_rejections(&b, built, std::slice::from_ref(&rejection))
        .expect("evidence fits");
    let summary = state.apply_block(&block).expect("valid");
    assert_eq!(summary.rejections.len(), 1);
    assert_eq!(summary.transfers.transfers.len(), 1);
    assert_eq!(summary.channels.ops.len(), 1);
    blocks.push(block);
    (blocks, state)
}

fn wire(b: &Block) -> Value {
    parse(&b.to_wire_json()).expect("wire JSON parses")
}

#[test]
fn a_reference_node_follows_every_kind_of_block_and_reads_it_as_doin_does() {
    let (blocks, state) = every_kind_of_block();
    let last = blocks.last().expect("blocks");
    let layout = last.check_layout().expect("layout");
    assert_eq!(
        (
            layout.accepted.len(),
            layout.announced.len(),
            layout.rejected.len()
        ),
        (1, 1, 1)
    );
    assert!(layout.extension_commit.is_some());
    assert!(blocks[0]
        .check_layout()
        .expect("layout")
        .accepted
        .is_empty());

    let mut reference = ReferenceFollower::new();
    let mut served = Vec::new();
    for b in &blocks {
        // DOIN's own round trip first: the wire form parses back to the same block.
        assert_eq!(&Block::from_value(&wire(b)).expect("parses"), b);
        let stored = reference
            .append(&wire(b))
            .unwrap_or_else(|e| panic!("reference refuses block {}: {e}", b.header.index));
        served.push(stored.to_value());
    }
    assert_eq!(reference.height(), state.height() as i64 + 1);
    assert_eq!(reference.tip_hash(), state.tip_hash());

    // What DOIN's blocks say, read with DOIN's models.
    let mut accepted: BTreeMap<String, u64> = BTreeMap::new();
    let mut rejected: BTreeMap<String, u64> = BTreeMap::new();
    let mut effective = 0.0;
    let mut optimae = Vec::new();
    for b in &blocks {
        for tx in b.check_layout().expect("layout").accepted {
            let o = AcceptedOptimae::from_tx(tx).expect("accepted optimae");
            *accepted.entry(o.optimizer_id.clone()).or_default() += 1;
            effective += o.effective_increment.abs();
            optimae.push(o);
        }
        for r in RejectedOptimae::read_block(b).expect("evidence") {
            *rejected.entry(r.claim.optimizer_id.clone()).or_default() += 1;
        }
    }
    let derived = reference.derived();
    // Reputation: +1 per accepted optimae and −3 per rejection, against the optimizer;
    // commitments and the extension commit move nobody.
    assert_eq!(derived.accepted, accepted);
    assert_eq!(derived.rejected, rejected);
    assert_eq!(rejected.len(), 1);
    assert!(derived.evaluations.is_empty());
    // Fork choice: the same work, optimae by optimae.
    assert_eq!(derived.accepted_count, optimae.len() as u64);
    assert_eq!(
        derived.accepted_count,
        state.domain(DOMAIN).expect("domain").accepted
    );
    assert_eq!(derived.cumulative_increment, effective);
    // Chain metrics: the experiment metrics are where the reference reads them.
    assert_eq!(derived.chain_metrics.len(), optimae.len());
    for (row, o) in derived.chain_metrics.iter().zip(&optimae) {
        let e = &o.experiment;
        assert_eq!(row.optimizer_id, o.optimizer_id);
        assert_eq!(row.experiment_id, Some(Value::Str(e.experiment_id.clone())));
        assert_eq!(row.round_number, Some(Value::Int(e.round_number)));
        assert_eq!(
            row.time_to_this_result_seconds,
            Some(Value::Float(e.time_to_this_result_seconds))
        );
        assert_eq!(
            row.optimization_config_hash,
            Some(Value::Str(e.optimization_config_hash.clone()))
        );
        assert_eq!(row.data_hash, Some(Value::Str(e.data_hash.clone())));
        assert_eq!(
            row.verified_performance,
            Some(Value::Float(o.verified_performance))
        );
        assert_eq!(
            row.quorum_agree_fraction,
            Some(Value::Float(o.quorum_agree_fraction))
        );
    }

    // A reference node re-serves what it stored; another reference node follows that.
    let mut second = ReferenceFollower::new();
    for v in &served {
        second
            .append(v)
            .expect("a reference node follows a reference node");
    }
    assert_eq!(second.tip_hash(), state.tip_hash());
    assert_eq!(second.derived(), derived);
    // What it re-serves lacks DOIN's seals and extension data: consistent content, but a
    // DOIN node never takes it for a signed block.
    let stripped = Block::from_value(&served[1]).expect("parses");
    assert_eq!(stripped.validate_content(), Ok(()));
    assert!(stripped.seal.is_none());
    let mut replay = doin_consensus::ChainState::new(state.params().clone());
    replay.apply_block(&blocks[0]).expect("valid");
    assert!(matches!(
        replay.apply_block(&stripped),
        Err(ConsensusError::BadGeneratorSeal(_))
    ));
}

#[test]
fn a_commitment_replayed_after_the_recent_window_is_refused_so_no_transaction_id_repeats() {
    let node = identity(1);
    let (mut state, blocks) = solo_chain(&node, 25);
    let first = OptimaeCommitment::read_block(&blocks[0]).expect("commitments")[0].clone();
    // The window of recent blocks no longer holds the block that carried it.
    assert!(state
        .bound_committed_at(&first.bound_commitment, node.peer_id())
        .is_none());
    let at =
        doin_primitives::Timestamp::from_unix_micros(state.tip_time_micros() + 3_600 * 1_000_000);
    assert!(state.commitment_block_due(at.unix_micros()));
    match state.build_block_with_commitments(
        &node,
        Vec::new(),
        Vec::new(),
        Vec::new(),
        std::slice::from_ref(&first),
        at,
    ) {
        Err(ConsensusError::InCommitment { source, .. }) => {
            assert!(matches!(*source, ConsensusError::CommitmentReused(_)))
        }
        other => panic!("expected the replay refused, got {other:?}"),
    }
    // A fresh commitment lands, and every transaction id of the chain stays unique.
    let fresh = step_commitment(&node, 1_000);
    let block = state
        .build_block_with_commitments(&node, Vec::new(), Vec::new(), Vec::new(), &[fresh], at)
        .expect("a fresh commitment lands");
    state.apply_block(&block).expect("valid");
    let mut reference = ReferenceFollower::new();
    for b in blocks.iter().chain([&block]) {
        reference.append(&wire(b)).expect("follows");
    }
}

#[test]
fn the_reference_refuses_old_layout_blocks_foreign_types_and_repeated_ids() {
    let (blocks, _) = every_kind_of_block();
    let mut reference = ReferenceFollower::new();
    for b in &blocks[..blocks.len() - 1] {
        reference.append(&wire(b)).expect("follows");
    }
    let last = blocks.last().expect("blocks");

    // The earlier layout: extension ids among the merkle leaves. A reference node stops
    // there, and DOIN's validator refuses it too.
    let mut old = last.clone();
    old.transactions
        .retain(|t| t.tx_type != doin_primitives::models::EXTENSION_COMMIT_TYPE);
    let mut leaves = old.merkle_leaves();
    leaves.extend(old.extension_leaves().expect("extensions"));
    old.header.merkle_root = merkle_root(&leaves);
    old.hash = old.header.compute_hash();
    assert!(matches!(
        reference.append(&wire(&old)),
        Err(ReferenceSyncError::MerkleMismatch { .. })
    ));
    assert_eq!(
        old.check_layout().err(),
        Some(BlockError::ExtensionsNotCommitted)
    );

    // A transaction type the reference's models do not have.
    let mut foreign = wire(last);
    let Value::Object(m) = &mut foreign else {
        panic!("object")
    };
    let Some(Value::Array(txs)) = m.get_mut("transactions") else {
        panic!("transactions")
    };
    let Value::Object(tx) = &mut txs[0] else {
        panic!("tx")
    };
    tx.insert("tx_type".into(), Value::Str("transfer".into()));
    match reference.append(&foreign) {
        Err(ReferenceSyncError::Model { field, .. }) => {
            assert_eq!(field, "transactions[0].tx_type")
        }
        other => panic!("expected a model error, got {other:?}"),
    }

    // The genuine block is followed; a later block repeating one of its ids is not.
    let stored = reference.append(&wire(last)).expect("follows");
    let mut repeat = last.clone();
    repeat.header.index += 1;
    repeat.header.previous_hash = stored.hash.clone();
    repeat.transactions.truncate(1);
    repeat.header.merkle_root = repeat.compute_merkle_root();
    repeat.hash = repeat.header.compute_hash();
    assert!(matches!(
        reference.append(&wire(&repeat)),
        Err(ReferenceSyncError::DuplicateTxId(_))
    ));
    // Nothing moved on refusal.
    assert_eq!(reference.tip_hash(), stored.hash);
}
