//! Connection limits: a node whose inbound slots are full refuses the next peer; a node
//! whose outbound slots are full does not even start the next dial (no handshake).

mod p2p_net;

use doin_net::p2p::{P2pConfig, P2pEvent};
use p2p_net::{accept_all, no_blocks, no_discovery, TestNode};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_full_outbound_slots_dials_nobody_new() {
    let mut dialer = TestNode::start(
        P2pConfig {
            max_outbound: 1,
            discovery: false,
            ..P2pConfig::loopback()
        },
        accept_all(),
        no_blocks(),
    )
    .await;
    let mut first = TestNode::start(no_discovery(), accept_all(), no_blocks()).await;
    let mut second = TestNode::start(no_discovery(), accept_all(), no_blocks()).await;
    let third = TestNode::start(no_discovery(), accept_all(), no_blocks()).await;

    dialer.handle.dial(first.dial_addr()).await.expect("dial");
    first.identified_all(&[&dialer]).await;
    dialer.identified_all(&[&first]).await;

    // The slot is taken: refused before a packet is sent.
    let refused = dialer.handle.dial(second.dial_addr()).await;
    assert!(refused.is_err(), "a dial past the outbound slots started");
    // A peer that dials `second` afterwards gets in, and `second` never saw the dialer: a
    // dial refused only after its handshake would have reached it first.
    third.handle.dial(second.dial_addr()).await.expect("dial");
    second.identified_all(&[&third]).await;
    let dialer_peer = dialer.peer();
    let saw_dialer = second
        .backlog
        .iter()
        .any(|e| matches!(e, P2pEvent::PeerConnected { peer, .. } if *peer == dialer_peer));
    assert!(!saw_dialer, "the refused dial reached the other node");
    let peers = dialer.handle.peers().await;
    assert_eq!(peers.len(), 1, "{peers:?}");
    assert_eq!(peers[0].peer, first.peer());
    for n in [&dialer, &first, &second, &third] {
        n.handle.shutdown().await;
    }
}
