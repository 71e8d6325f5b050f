//! Measure 9, fork choice by validated weight, against a real node: hostile peers serve
//! a longer, heavier-looking branch whose first block is forged in one way each (forged
//! weight, inflated increment, forged hash, duplicated transaction with an unchanged
//! merkle root and hash, wrong threshold, wrong coinbase, a timestamp from the future, no
//! generator seal). The node refuses each for that block's broken rule (read back as a
//! typed error), keeps minting, and then adopts the same branch served untouched: the
//! weight that wins is the one recomputed from valid blocks, and a mutated copy of a
//! block does not poison the real one. A peer claiming a weight its blocks do not have is
//! refused for it, and a shorter but heavier valid branch replaces a longer chain.

mod hostile_peer;

use std::time::Duration;

use doin_consensus::coinbase::COINBASE_KEY;
use doin_consensus::{ChainState, ConsensusError};
use doin_node::chain_params::chain_params;
use doin_node::chain_service::ImportError;
use doin_node::sync::SyncError;
use doin_node::testnet::TestNet;
use doin_primitives::identity::Identity;
use doin_primitives::models::{Block, BlockError};
use doin_primitives::seal::SealKind;
use doin_primitives::value::Value;
use doin_primitives::Timestamp;
use hostile_peer::{
    fetch_blocks, mint_on, runtime, solo_template, wait_for_block, wait_until, HostilePeer,
};

/// Recomputes the header hash and the generator's seal (what a forging generator can do).
fn reseal(mut b: Block, forger: &Identity) -> Block {
    b.hash = b.header.compute_hash();
    b.seal = Some(forger.seal(SealKind::Block, &b.hash));
    b
}

/// Re-ids and re-seals the accepted optimae (the other transactions carry sealed objects),
/// then the merkle root, hash and seal.
fn reseal_all(mut b: Block, forger: &Identity) -> Block {
    for tx in &mut b.transactions {
        if tx.tx_type == doin_primitives::models::TransactionType::OptimaeAccepted {
            tx.id = tx.compute_id();
            tx.seal = Some(forger.seal(SealKind::Transaction, &tx.id));
        }
    }
    b.header.merkle_root = b.compute_merkle_root();
    reseal(b, forger)
}

type Forgery = fn(&Block, &Identity) -> Block;
type Expected = fn(&ConsensusError) -> bool;

fn forgeries() -> Vec<(&'static str, Forgery, Expected)> {
    vec![
        (
            "forged weight",
            |b, f| {
                let mut b = b.clone();
                b.header.weighted_performance_sum *= 1e6;
                reseal(b, f)
            },
            |e| matches!(e, ConsensusError::WrongWeightedSum { .. }),
        ),
        (
            "inflated increment",
            |b, f| {
                let mut b = b.clone();
                let p = &mut b.transactions[0].payload;
                let inc = p["effective_increment"].as_f64().unwrap_or(1.0);
                p.insert("effective_increment".into(), Value::Float(inc * 1e3));
                reseal_all(b, f)
            },
            |e| {
                matches!(
                    e,
                    ConsensusError::WrongNumber {
                        field: "effective_increment",
                        ..
                    }
                )
            },
        ),
        (
            "forged hash",
            |b, _| {
                let mut b = b.clone();
                b.hash = "ab".repeat(32);
                b
            },
            |e| matches!(e, ConsensusError::Content(BlockError::HashMismatch { .. })),
        ),
        (
            "duplicated transaction, same merkle root and hash",
            |b, _| {
                let mut b = b.clone();
                let last = b.transactions.last().cloned();
                b.transactions.extend(last);
                b
            },
            |e| {
                matches!(
                    e,
                    ConsensusError::Content(BlockError::DuplicateTransaction(_))
                )
            },
        ),
        (
            "wrong threshold",
            |b, f| {
                let mut b = b.clone();
                b.header.threshold /= 2.0;
                reseal(b, f)
            },
            |e| matches!(e, ConsensusError::WrongThreshold { .. }),
        ),
        (
            "wrong coinbase",
            |b, _| {
                let mut b = b.clone();
                if let Some(Value::Object(cb)) = b.extensions.get_mut(COINBASE_KEY) {
                    if let Some(Value::Array(outs)) = cb.get_mut("outputs") {
                        if let Some(Value::Object(first)) = outs.first_mut() {
                            let amount = first["amount"].as_i64().unwrap_or(0);
                            first.insert("amount".into(), Value::Int(amount * 2 + 1));
                        }
                    }
                }
                b
            },
            |e| matches!(e, ConsensusError::WrongCoinbase { .. }),
        ),
        (
            "timestamp an hour ahead",
            |b, f| {
                let mut b = b.clone();
                b.header.timestamp =
                    Timestamp::from_unix_micros(Timestamp::now_utc().unix_micros() + 3_600_000_000);
                reseal(b, f)
            },
            |e| matches!(e, ConsensusError::TimestampInFuture { .. }),
        ),
        (
            "no generator seal",
            |b, _| {
                let mut b = b.clone();
                b.seal = None;
                b
            },
            |e| matches!(e, ConsensusError::BadGeneratorSeal(_)),
        ),
    ]
}

#[test]
fn forged_branches_are_refused_for_the_rule_they_break() {
    runtime().block_on(async {
        // Finality deep enough that every branch below may legally replace the tip.
        let config = solo_template(200);
        let params = chain_params(&config);
        let net = TestNet::start(1, &config).await.expect("node");
        let node = net.node(0);
        wait_until(Duration::from_secs(30), "a few blocks", || {
            node.chain.view().height >= 4
        })
        .await;
        let view = node.chain.view();
        let ours = fetch_blocks(&node.endpoint(), view.tip_index).await;
        let forger = Identity::generate();
        let branch = mint_on(&params, &ours, &forger, 40, 1);
        // The branch opens with a commitment block; the forgeries are of the first block
        // of optimae.
        let first = &branch[1];
        assert!(!first.check_layout().expect("layout").accepted.is_empty());

        for (name, forge, expected) in forgeries() {
            let forged = forge(first, &forger);
            assert_ne!(&forged, first, "{name}: nothing was forged");
            if name.starts_with("duplicated") {
                assert_eq!(forged.hash, first.hash, "the mutation keeps the block hash");
            }
            let mut served = ours.clone();
            served.push(branch[0].clone());
            served.push(forged);
            served.extend(branch[2..].iter().cloned());
            let hostile = HostilePeer::start(&view.params_hash).await;
            hostile.serve(served);
            node.peers.add(&hostile.endpoint);
            wait_until(Duration::from_secs(15), name, || {
                node.peers.sync_refusals().contains_key(&hostile.endpoint)
            })
            .await;
            let refusal = node.peers.sync_refusals()[&hostile.endpoint].clone();
            match &refusal.last {
                SyncError::Import(ImportError::InvalidBlock { index, source }) => {
                    assert_eq!(*index, first.header.index, "{name}: wrong block blamed");
                    assert!(expected(source.root()), "{name}: refused for {source}");
                }
                other => panic!("{name}: refused for {other}"),
            }
            node.peers.block(&hostile.endpoint);
            let tip = node.chain.view().tip_hash.clone();
            assert!(
                branch.iter().all(|b| b.hash != tip),
                "{name}: the node follows the forged branch"
            );
        }
        assert!(
            node.chain.view().height > view.height,
            "the node stopped minting under attack"
        );

        // The same branch, untouched, is heavier than what the node minted meanwhile and
        // is adopted: including the real block whose mutated copy was refused.
        let mut served = ours.clone();
        served.extend(branch.iter().cloned());
        let fair = HostilePeer::start(&view.params_hash).await;
        fair.serve(served);
        node.peers.add(&fair.endpoint);
        wait_for_block(&node.endpoint(), first, Duration::from_secs(20)).await;
        wait_for_block(
            &node.endpoint(),
            branch.last().expect("blocks"),
            Duration::from_secs(20),
        )
        .await;
        assert!(!node.peers.sync_refusals().contains_key(&fair.endpoint));
        net.shutdown().await;
    });
}

#[test]
fn a_shorter_heavier_branch_wins_and_an_unbacked_weight_claim_is_refused() {
    runtime().block_on(async {
        let config = solo_template(200);
        let params = chain_params(&config);
        let net = TestNet::start(1, &config).await.expect("node");
        let node = net.node(0);
        wait_until(Duration::from_secs(30), "a few blocks", || {
            node.chain.view().height >= 4
        })
        .await;
        let view = node.chain.view();
        let ours = fetch_blocks(&node.endpoint(), view.tip_index).await;
        let forger = Identity::generate();
        // Two blocks of 24 optimae each: heavier than many honest blocks.
        let branch = mint_on(&params, &ours, &forger, 2, 24);
        let mut theirs = ours.clone();
        theirs.extend(branch.iter().cloned());
        let their_state = ChainState::replay(params.clone(), &theirs).expect("valid branch");
        let longer = view.tip_index + branch.len() as i64 + 2;
        wait_until(
            Duration::from_secs(30),
            "the node to outgrow the branch",
            || node.chain.view().tip_index >= longer,
        )
        .await;
        assert!(
            their_state.cumulative_work() > node.chain.view().cumulative_work,
            "the branch must be the heavier one"
        );

        // A peer that claims a weight its blocks do not have is refused for it.
        let liar = HostilePeer::start(&view.params_hash).await;
        liar.serve(ours.clone());
        liar.claim_work(1e300);
        node.peers.add(&liar.endpoint);
        wait_until(Duration::from_secs(15), "the claim to be refused", || {
            node.peers.sync_refusals().contains_key(&liar.endpoint)
        })
        .await;
        let refusal = node.peers.sync_refusals()[&liar.endpoint].clone();
        assert!(
            matches!(refusal.last, SyncError::WeightNotShown { .. }),
            "refused for {}",
            refusal.last
        );
        node.peers.block(&liar.endpoint);

        // So is a peer on a shorter, lighter chain that claims a finality its blocks do not
        // have (fork choice ranks finality first: the claim makes the node fetch them).
        let finality_liar = HostilePeer::start(&view.params_hash).await;
        finality_liar.serve(ours.clone());
        finality_liar.claim_finalized(node.chain.view().tip_index + 100);
        node.peers.add(&finality_liar.endpoint);
        wait_until(
            Duration::from_secs(15),
            "the finality claim to be refused",
            || {
                node.peers
                    .sync_refusals()
                    .contains_key(&finality_liar.endpoint)
            },
        )
        .await;
        let refusal = node.peers.sync_refusals()[&finality_liar.endpoint].clone();
        assert!(
            matches!(refusal.last, SyncError::FinalityNotShown { .. }),
            "refused for {}",
            refusal.last
        );
        node.peers.block(&finality_liar.endpoint);

        // The shorter, heavier, valid branch replaces the node's longer chain.
        let fair = HostilePeer::start(&view.params_hash).await;
        fair.serve(theirs);
        fair.claim_work(their_state.cumulative_work());
        node.peers.add(&fair.endpoint);
        wait_for_block(
            &node.endpoint(),
            branch.last().expect("blocks"),
            Duration::from_secs(20),
        )
        .await;
        assert!(!node.peers.sync_refusals().contains_key(&fair.endpoint));
        net.shutdown().await;
    });
}
