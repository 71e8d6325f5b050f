//! The reference topics: a reference node's unsealed message, relayed by the doin node
//! that took it over HTTP, travels on `doin/1/ref/...` to the nodes that join those topics
//! (`reference_topics`, what `accept_unsigned_messages` sets) and never reaches a node that
//! does not; a bad one is refused and counted against the connection that delivered it.

mod p2p_net;

use std::sync::Arc;
use std::time::{Duration, Instant};

use doin_net::p2p::{GossipKind, Origin, P2pConfig};
use doin_net::scoring::Verdict;
use p2p_net::{no_blocks, no_discovery, TestNode, Validator, WAIT};

/// Refuses messages whose bytes start with `bad`.
fn reject_bad() -> Validator {
    Arc::new(|m| {
        if m.data.starts_with(b"bad") {
            Verdict::InvalidMessage
        } else {
            Verdict::Valid
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_gossip_reaches_only_the_nodes_that_take_it() {
    let with_reference = || P2pConfig {
        reference_topics: true,
        ..no_discovery()
    };
    // A bridges; B takes reference gossip; C does not. B and C know A only.
    let mut a = TestNode::start(with_reference(), reject_bad(), no_blocks()).await;
    let mut b = TestNode::start(with_reference(), reject_bad(), no_blocks()).await;
    let mut c = TestNode::start(no_discovery(), reject_bad(), no_blocks()).await;
    b.handle.dial(a.dial_addr()).await.expect("dial");
    c.handle.dial(a.dial_addr()).await.expect("dial");
    a.subscribed_all(GossipKind::Block, &[&b, &c]).await;

    // B's reference subscriptions came with its others; publishing waits until A has them.
    let deadline = Instant::now() + WAIT;
    let reference_block = loop {
        let published = a
            .handle
            .publish_of(
                Origin::Reference,
                GossipKind::Block,
                None,
                b"ref 1".to_vec(),
            )
            .await;
        match published {
            Ok(id) => break id,
            Err(e) => assert!(Instant::now() < deadline, "never published: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let got = b.gossip().await;
    assert_eq!(got.id, reference_block);
    assert_eq!(got.origin, Origin::Reference);
    assert_eq!(got.kind, GossipKind::Block);

    // A sealed block after it: C gets that one first, so it never got the reference one
    // (both went out over the same connection, in order, had C been on the topic).
    let sealed_block = a
        .handle
        .publish(GossipKind::Block, None, b"sealed 1".to_vec())
        .await
        .expect("publish");
    for n in [&mut b, &mut c] {
        let got = n.gossip().await;
        assert_eq!(got.id, sealed_block);
        assert_eq!(got.origin, Origin::Sealed);
    }

    // A bad reference message costs the peer that delivered it, and is counted.
    a.handle
        .publish_of(
            Origin::Reference,
            GossipKind::Block,
            None,
            b"bad 1".to_vec(),
        )
        .await
        .expect("publish");
    let got = b.gossip().await;
    assert_eq!(got.origin, Origin::Reference);
    let deadline = Instant::now() + WAIT;
    loop {
        let peers = b.handle.peers().await;
        let row = peers.iter().find(|p| p.peer == a.peer()).expect("A");
        if row.refused == 1 {
            assert!(row.app_score < 2.0, "{row:?}");
            break;
        }
        assert_eq!(row.refused, 0, "{row:?}");
        assert!(Instant::now() < deadline, "B never counted A's bad message");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for n in [&a, &b, &c] {
        n.handle.shutdown().await;
    }
}
