//! In-process networks (N full nodes in this test process on loopback): a 6-node network
//! partitioned 3+3 and healed converges on one chain without reverting a finalized block;
//! a stopped node catches up after the others minted 20 blocks.

use std::collections::BTreeMap;
use std::time::Duration;

use doin_node::config::NodeConfig;
use doin_node::testnet::{minting_template, runtime, TestNet};

/// A network chain (quorums of `quorum` other nodes) on a domain without a target whose
/// optimum stays minutes away (100 parameters, two optimizer rounds a second: a converged
/// domain stops the chain for good, see the attack arena's template), so that blocks keep
/// coming; finality is deep enough that a short partition stays reversible.
fn template(quorum: u32) -> NodeConfig {
    let mut c = minting_template(quorum, 0.5);
    c.finality_confirmation_depth = 30;
    c.network_protocol = "gossipsub".into();
    c
}

/// The networks of this file run one at a time: each is ten threads of real nodes.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn partition_3_3_then_heal_converges_on_one_chain() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    runtime().block_on(async {
        let net = TestNet::start(6, &template(1)).await.expect("network");
        net.wait_for(Duration::from_secs(60), "every node past height 4", |v| {
            v.len() == 6 && v.iter().all(|v| v.height >= 5)
        })
        .await
        .expect("warm-up");
        net.partition(&[&[0, 1, 2], &[3, 4, 5]])
            .await
            .expect("partition");
        let split = net.views();
        // A half mints on its own when its quorums can be drawn inside it (the evaluators
        // eligible on chain, above the minimum reputation, decide which half can).
        net.wait_for(Duration::from_secs(60), "a half to mint", |v| {
            v.iter().zip(&split).any(|(v, s)| v.height >= s.height + 3)
        })
        .await
        .expect("a half mints");
        let _ = net
            .wait_for(Duration::from_secs(10), "both halves to mint", |v| {
                v.iter().zip(&split).all(|(v, s)| v.height > s.height)
            })
            .await;
        let during = net.views();
        let tips: std::collections::BTreeSet<_> =
            during.iter().map(|v| v.tip_hash.clone()).collect();
        eprintln!(
            "during the partition: {} distinct tips, heights {:?}",
            tips.len(),
            during.iter().map(|v| v.height).collect::<Vec<_>>()
        );
        let finalized: BTreeMap<usize, i64> = during
            .iter()
            .enumerate()
            .map(|(i, v)| (i, v.finalized_height))
            .collect();
        net.heal().await.expect("heal");
        // One chain: every node holds the same block two past the partition's highest
        // tip, so the halves' branches are resolved (the newest block of a network that
        // keeps minting once a second may still be raced for; that is not a partition).
        let past = during.iter().map(|v| v.height).max().unwrap_or(0) + 1;
        let took = net
            .wait_for_common_block(past, Duration::from_secs(60), "one chain after healing")
            .await
            .expect("converges");
        eprintln!(
            "converged {took:?} after healing; heights {:?}",
            net.views().iter().map(|v| v.height).collect::<Vec<_>>()
        );
        for (i, v) in net.views().iter().enumerate() {
            assert!(
                v.finalized_height >= finalized[&i],
                "node {i} finalized height went back from {} to {}",
                finalized[&i],
                v.finalized_height
            );
        }
        net.shutdown().await;
    });
}

#[test]
fn a_stopped_node_catches_up() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    runtime().block_on(async {
        let mut net = TestNet::start(4, &template(1)).await.expect("network");
        net.wait_for(Duration::from_secs(60), "height 3 everywhere", |v| {
            v.len() == 4 && v.iter().all(|v| v.height >= 3)
        })
        .await
        .expect("warm-up");
        net.stop(3).await;
        let h = net.views().iter().map(|v| v.height).max().unwrap_or(0);
        net.wait_for(Duration::from_secs(120), "20 more blocks", |v| {
            v.iter().all(|v| v.height >= h + 20)
        })
        .await
        .expect("the others mint 20 blocks");
        net.restart(3).await.expect("restart");
        let took = net
            .wait_for_common_block(
                h + 19,
                Duration::from_secs(60),
                "the restarted node to catch up",
            )
            .await
            .expect("catches up");
        eprintln!("caught up in {took:?}");
        net.shutdown().await;
    });
}
