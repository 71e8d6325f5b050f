//! Domains are gossip topics: work on a domain reaches the nodes that serve it and no
//! other, while every node gets blocks.

mod p2p_net;

use doin_net::p2p::{GossipKind, P2pEvent, P2pHandle};
use p2p_net::{accept_all, no_blocks, no_discovery, TestNode};

/// Waits until `node` saw `peer` subscribe to the commitments of `domain`.
async fn saw_domain(node: &mut TestNode, peer: &P2pHandle, domain: &str) {
    let peer = peer.local_peer();
    node.next(|e| match e {
        P2pEvent::PeerSubscribed {
            peer: p,
            kind: GossipKind::Commitment,
            domain: Some(d),
        } if *p == peer && d == domain => Some(()),
        _ => None,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_work_reaches_only_the_nodes_serving_the_domain() {
    // A serves quadratic; B serves quadratic; C serves another domain. All connected.
    let mut a = TestNode::start(no_discovery(), accept_all(), no_blocks()).await;
    let mut b = TestNode::start(no_discovery(), accept_all(), no_blocks()).await;
    let mut c = TestNode::start(no_discovery(), accept_all(), no_blocks()).await;
    a.handle.subscribe_domain("quadratic").await.expect("sub");
    b.handle.subscribe_domain("quadratic").await.expect("sub");
    c.handle.subscribe_domain("wine").await.expect("sub");
    b.handle.dial(a.dial_addr()).await.expect("dial");
    c.handle.dial(a.dial_addr()).await.expect("dial");
    c.handle.dial(b.dial_addr()).await.expect("dial");
    saw_domain(&mut a, &b.handle, "quadratic").await;
    a.subscribed_all(GossipKind::Block, &[&b, &c]).await;

    // A domain's topic checks its domain name.
    assert!(a
        .handle
        .publish(GossipKind::Commitment, None, b"c".to_vec())
        .await
        .is_err());
    let commit = a
        .handle
        .publish(
            GossipKind::Commitment,
            Some("quadratic"),
            b"commitment".to_vec(),
        )
        .await
        .expect("publish");
    let got = b.gossip().await;
    assert_eq!(got.id, commit);
    assert_eq!(got.kind, GossipKind::Commitment);
    assert_eq!(got.domain.as_deref(), Some("quadratic"));

    // Then a block from each of A and B. A commitment sent to C on either connection
    // would come before that connection's block: C's first two messages are the blocks.
    let block_a = a
        .handle
        .publish(GossipKind::Block, None, b"block from A".to_vec())
        .await
        .expect("publish");
    let block_b = b
        .handle
        .publish(GossipKind::Block, None, b"block from B".to_vec())
        .await
        .expect("publish");
    let mut firsts = [c.gossip().await, c.gossip().await];
    firsts.sort_by_key(|m| m.data.clone());
    assert_eq!(firsts[0].id, block_a);
    assert_eq!(firsts[1].id, block_b);
    assert!(firsts.iter().all(|m| m.kind == GossipKind::Block));
    for n in [&a, &b, &c] {
        n.handle.shutdown().await;
    }
}
