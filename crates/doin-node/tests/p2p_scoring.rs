//! A peer that forwards invalid blocks over libp2p is scored down by the node's verdicts
//! and, past the ban line, disconnected: the node admits libp2p gossip as it admits a
//! `POST /message` body, and reports what it found to gossipsub.

use std::time::{Duration, Instant};

use doin_net::p2p::{GossipKind, P2pConfig, P2pEvent, P2pNode};
use doin_node::testnet::{minting_template, runtime, TestNet};
use doin_primitives::identity::Identity;
use doin_primitives::models::message::Message;
use doin_primitives::models::payload::{BlockAnnouncement, Payload};
use doin_primitives::models::WireModel;
use doin_primitives::value::Map;
use doin_primitives::Timestamp;

/// A block announcement sealed by `key`, then altered: its seal no longer verifies.
fn forged_announcement(key: &Identity, index: i64) -> Vec<u8> {
    let payload = Payload::BlockAnnouncement(BlockAnnouncement {
        block_index: index,
        block_hash: format!("{index:064x}"),
        previous_hash: format!("{:064x}", index - 1),
        generator_id: key.peer_id().to_owned(),
        transaction_count: 0,
        weighted_performance_sum: 1.0,
        threshold: 0.001,
        extra: Map::new(),
    });
    let mut m = Message::new(key.peer_id(), Timestamp::now_utc(), &payload);
    m.sign(key);
    m.payload
        .insert("block_index".into(), (index + 1_000_000).into());
    m.to_wire_json().into_bytes()
}

#[test]
fn a_peer_forwarding_invalid_blocks_over_libp2p_is_scored_down_then_banned() {
    let rt = runtime();
    rt.block_on(async {
        let net = TestNet::start_p2p(1, &minting_template(0, 0.5))
            .await
            .expect("a node");
        let node = net.node(0);
        let p2p = node.p2p.clone().expect("libp2p");
        let addr = net.p2p_addr(0).await.expect("its address");

        let key = Identity::generate();
        let mut attacker = P2pNode::start(
            &key,
            P2pConfig {
                bootstrap: vec![addr.parse().expect("multiaddr")],
                discovery: false,
                ..P2pConfig::loopback()
            },
        )
        .expect("the attacker's libp2p node");
        let attacker_id = attacker.handle.local_peer();

        // The first forged block, published once the node is on the topic.
        let start = Instant::now();
        while attacker
            .handle
            .publish(GossipKind::Block, None, forged_announcement(&key, 1))
            .await
            .is_err()
        {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the node never joined the blocks topic"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Scored down by the node's verdict (a bad seal).
        let score = loop {
            let peers = p2p.peers().await;
            if let Some(p) = peers.iter().find(|p| p.peer == attacker_id) {
                if p.app_score < 0.0 {
                    break p.app_score;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the attacker was never scored down: {peers:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(score <= -19.0, "one bad seal costs 20, got {score}");
        // Nothing of it reached the chain, and no sync went to the attacker for it.
        assert!(node.chain.view().tip_index < 1_000_000);

        // Two more, and it is below the ban line: disconnected.
        for index in [2, 3] {
            let _ = attacker
                .handle
                .publish(GossipKind::Block, None, forged_announcement(&key, index))
                .await;
        }
        let deadline = Duration::from_secs(60);
        let banned = tokio::time::timeout(deadline, async {
            while let Some(e) = attacker.events.recv().await {
                if matches!(e, P2pEvent::PeerDisconnected { .. }) {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(banned, Ok(true), "the attacker was never disconnected");
        let start = Instant::now();
        while p2p.peers().await.iter().any(|p| p.peer == attacker_id) {
            assert!(
                start.elapsed() < deadline,
                "the node still lists the attacker"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        attacker.handle.shutdown().await;
        let _ = attacker.task.await;
    });
}
