//! One minter carries everyone's verified optimae: three nodes on libp2p, each optimizing
//! and evaluating; an optimizer whose proposal has its quorum's votes gossips the verified
//! optimae on its domain's `optimae` topic, the other nodes keep it pending, and whichever
//! node mints next carries it, sealing the transaction as generator with the optimizer's
//! claim seal inside. The test waits until a block holds an optimae whose optimizer is not
//! the block's generator, then checks that every node holds that block, and that every
//! node's stored chain replays (each block validated again) to the same state.

use std::time::Duration;

use doin_node::config::NodeConfig;
use doin_node::testnet::{minting_template, runtime, TestNet};

/// Quorums of two, so that each optimae is re-measured by the two other nodes.
fn template() -> NodeConfig {
    let mut c = minting_template(2, 0.5);
    c.network_protocol = "gossipsub".into();
    c
}

/// The first block of node `i`'s chain that carries an optimae of another optimizer than
/// its generator: its index, generator and that optimizer.
fn carried_block(net: &TestNet, i: usize) -> Option<(i64, String, String)> {
    net.accepted_optimae(i)
        .into_iter()
        .find(|(_, generator, a)| a.optimizer_id != *generator && a.claim_seal.is_some())
        .map(|(index, generator, a)| (index, generator, a.optimizer_id))
}

#[test]
fn a_block_carries_another_optimizers_optimae_and_every_node_accepts_it() {
    let rt = runtime();
    rt.block_on(async {
        let net = TestNet::start(3, &template()).await.expect("network");
        net.wait_for(
            Duration::from_secs(240),
            "a block carrying another optimizer's optimae",
            |_| carried_block(&net, 0).is_some(),
        )
        .await
        .expect("a carried optimae on chain");
        let (index, generator, optimizer) = carried_block(&net, 0).expect("found");
        let ids: Vec<String> = net
            .identities()
            .iter()
            .map(|id| id.peer_id().to_string())
            .collect();
        assert!(ids.contains(&generator) && ids.contains(&optimizer));
        assert_ne!(generator, optimizer);
        // Every node holds that very block: accepted, not merely received.
        net.wait_for_common_block(
            index,
            Duration::from_secs(120),
            "the carried block everywhere",
        )
        .await
        .expect("every node accepts the carried block");
        for i in 0..3 {
            assert_eq!(
                carried_block(&net, i).map(|(at, ..)| at),
                Some(index),
                "node {i}"
            );
        }
        // Each node's stored chain up to the block validates again from genesis.
        let states = net
            .replayed(&template(), index)
            .expect("every chain replays");
        assert!(states
            .windows(2)
            .all(|w| w[0].tip_hash() == w[1].tip_hash()));
        eprintln!(
            "block {index} by {:.8} carries an optimae of {:.8}",
            generator, optimizer
        );
        net.shutdown().await;
    });
}
