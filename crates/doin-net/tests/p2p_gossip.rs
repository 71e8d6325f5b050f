//! Gossipsub between in-process nodes on loopback: discovery from one bootstrap peer,
//! blocks received exactly once, nothing forwarded before the validator accepts it, and a
//! peer that keeps sending invalid blocks banned and disconnected.

mod p2p_net;

use std::sync::Arc;

use doin_net::p2p::{GossipKind, P2pConfig, P2pEvent};
use doin_net::scoring::Verdict;
use p2p_net::{accept_all, no_blocks, no_discovery, TestNode, Validator};

/// Rejects blocks whose bytes start with `bad`, as an invalid block.
fn reject_bad() -> Validator {
    Arc::new(|m| {
        if m.data.starts_with(b"bad") {
            Verdict::InvalidBlock
        } else {
            Verdict::Valid
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_find_each_other_and_each_gets_a_block_once() {
    let mut a = TestNode::start(P2pConfig::loopback(), accept_all(), no_blocks()).await;
    let via_a = || P2pConfig {
        bootstrap: vec![a.dial_addr()],
        ..P2pConfig::loopback()
    };
    let mut b = TestNode::start(via_a(), accept_all(), no_blocks()).await;
    let mut c = TestNode::start(via_a(), accept_all(), no_blocks()).await;

    // B and C only know A; the DHT introduces them.
    b.identified_all(&[&a, &c]).await;
    c.identified_all(&[&a, &b]).await;
    a.identified_all(&[&b, &c]).await;
    c.subscribed_all(GossipKind::Block, &[&a, &b]).await;

    let first = c
        .handle
        .publish(GossipKind::Block, None, b"block 1".to_vec())
        .await
        .expect("publish");
    let got_a = a.gossip().await;
    let got_b = b.gossip().await;
    for got in [&got_a, &got_b] {
        assert_eq!(got.id, first);
        assert_eq!(got.kind, GossipKind::Block);
        assert_eq!(got.data, b"block 1");
    }
    // Exactly once: the next message each node gets is the second block, not a copy of
    // the first relayed by the third node.
    let second = c
        .handle
        .publish(GossipKind::Block, None, b"block 2".to_vec())
        .await
        .expect("publish");
    assert_ne!(first, second);
    assert_eq!(a.gossip().await.id, second);
    assert_eq!(b.gossip().await.id, second);
    for n in [&a, &b, &c] {
        n.handle.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_block_is_not_forwarded_and_costs_its_sender() {
    // A line: A - B - C. B validates; C accepts everything it is given.
    let mut b = TestNode::start(no_discovery(), reject_bad(), no_blocks()).await;
    let mut a = TestNode::start(no_discovery(), accept_all(), no_blocks()).await;
    let mut c = TestNode::start(no_discovery(), accept_all(), no_blocks()).await;
    a.handle.dial(b.dial_addr()).await.expect("dial");
    c.handle.dial(b.dial_addr()).await.expect("dial");
    a.subscribed_all(GossipKind::Block, &[&b]).await;
    b.subscribed_all(GossipKind::Block, &[&a, &c]).await;
    // The DOIN id of a message's source is known once the source's key is.
    b.identified_all(&[&a, &c]).await;

    a.handle
        .publish(GossipKind::Block, None, b"bad block".to_vec())
        .await
        .expect("publish");
    let bad = b.gossip().await;
    assert_eq!(bad.source, a.peer());
    assert_eq!(bad.source_doin_id.as_ref(), Some(a.identity.peer_id()));

    let good = a
        .handle
        .publish(GossipKind::Block, None, b"good block".to_vec())
        .await
        .expect("publish");
    // C's first message is the good block: the bad one, published first, never came.
    assert_eq!(c.gossip().await.id, good);

    let view = b.handle.peers().await;
    let of_a = view
        .iter()
        .find(|p| p.peer == a.peer())
        .expect("A connected");
    // -30 for the invalid block, +1 for the valid one.
    assert!(of_a.app_score < -20.0, "{of_a:?}");
    assert!(of_a.gossip_score < 0.0, "{of_a:?}");
    let of_c = view
        .iter()
        .find(|p| p.peer == c.peer())
        .expect("C connected");
    assert!(of_c.app_score >= 0.0, "{of_c:?}");
    for n in [&a, &b, &c] {
        n.handle.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_keeps_sending_invalid_blocks_is_banned_and_disconnected() {
    let mut b = TestNode::start(no_discovery(), reject_bad(), no_blocks()).await;
    let mut a = TestNode::start(no_discovery(), accept_all(), no_blocks()).await;
    a.handle.dial(b.dial_addr()).await.expect("dial");
    a.subscribed_all(GossipKind::Block, &[&b]).await;

    // Each invalid block costs 30; the ban line is -50.
    for i in 0..2 {
        a.handle
            .publish(
                GossipKind::Block,
                None,
                format!("bad block {i}").into_bytes(),
            )
            .await
            .expect("publish");
    }
    let banned = b
        .next(|e| match e {
            P2pEvent::PeerBanned { peer } => Some(*peer),
            _ => None,
        })
        .await;
    assert_eq!(banned, a.peer());
    a.next(|e| match e {
        P2pEvent::PeerDisconnected { peer } if *peer == b.peer() => Some(()),
        _ => None,
    })
    .await;
    b.next(|e| match e {
        P2pEvent::PeerDisconnected { peer } if *peer == a.peer() => Some(()),
        _ => None,
    })
    .await;

    // Its next attempt is refused: set up and closed at once, or failed.
    a.handle.dial(b.dial_addr()).await.expect("dial starts");
    a.next(|e| match e {
        P2pEvent::DialFailed { .. } => Some(()),
        P2pEvent::PeerDisconnected { peer } if *peer == b.peer() => Some(()),
        _ => None,
    })
    .await;
    assert!(b.handle.peers().await.iter().all(|p| p.peer != a.peer()));
    for n in [&a, &b] {
        n.handle.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gossip_over_the_size_limit_is_neither_sent_nor_taken() {
    let small = || P2pConfig {
        max_message_bytes: 4096,
        ..no_discovery()
    };
    let mut b = TestNode::start(small(), accept_all(), no_blocks()).await;
    let mut c = TestNode::start(small(), accept_all(), no_blocks()).await;
    // A allows more than B and C: what it sends over their limit, they drop unread.
    let mut a = TestNode::start(
        P2pConfig {
            max_message_bytes: 64 << 10,
            ..no_discovery()
        },
        accept_all(),
        no_blocks(),
    )
    .await;
    a.handle.dial(b.dial_addr()).await.expect("dial");
    c.handle.dial(b.dial_addr()).await.expect("dial");
    a.handle.dial(c.dial_addr()).await.expect("dial");
    a.subscribed_all(GossipKind::Block, &[&b, &c]).await;
    c.subscribed_all(GossipKind::Block, &[&b]).await;

    // Our own limit: B cannot publish past it.
    let err = b
        .handle
        .publish(GossipKind::Block, None, vec![b'x'; 8 << 10])
        .await;
    assert!(err.is_err(), "{err:?}");

    // A's large block reaches neither B nor C; a small one from C, published after it,
    // is the first thing B's validator gets.
    a.handle
        .publish(GossipKind::Block, None, vec![b'y'; 16 << 10])
        .await
        .expect("within A's limit");
    let small_block = c
        .handle
        .publish(GossipKind::Block, None, b"small block".to_vec())
        .await
        .expect("publish");
    assert_eq!(b.gossip().await.id, small_block);
    for n in [&a, &b, &c] {
        n.handle.shutdown().await;
    }
}
