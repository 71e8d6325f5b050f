//! Connection limits: a node whose inbound slots are full refuses the next peer.

mod p2p_net;

use doin_net::p2p::{P2pConfig, P2pEvent};
use p2p_net::{accept_all, no_blocks, TestNode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_full_inbound_slots_refuses_the_next_peer() {
    let mut full = TestNode::start(
        P2pConfig {
            max_inbound: 1,
            discovery: false,
            ..P2pConfig::loopback()
        },
        accept_all(),
        no_blocks(),
    )
    .await;
    let first = TestNode::start(P2pConfig::loopback(), accept_all(), no_blocks()).await;
    let mut second = TestNode::start(P2pConfig::loopback(), accept_all(), no_blocks()).await;

    first.handle.dial(full.dial_addr()).await.expect("dial");
    full.identified_all(&[&first]).await;

    second.handle.dial(full.dial_addr()).await.expect("dial");
    // Refused: the dial fails, or the connection closes as soon as it is set up.
    second
        .next(|e| match e {
            P2pEvent::DialFailed { .. } => Some(()),
            P2pEvent::PeerDisconnected { peer } if *peer == full.peer() => Some(()),
            _ => None,
        })
        .await;
    let peers = full.handle.peers().await;
    assert_eq!(peers.len(), 1, "{peers:?}");
    assert_eq!(peers[0].peer, first.peer());
    for n in [&full, &first, &second] {
        n.handle.shutdown().await;
    }
}
