//! One key: a connection between two nodes proves each side's DOIN id, over TCP and QUIC.

mod p2p_net;

use doin_net::p2p::config::loopback_quic;
use doin_net::p2p::{keypair_of, P2pConfig, P2pEvent};
use p2p_net::{accept_all, no_blocks, TestNode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_connection_proves_both_doin_ids() {
    let mut a = TestNode::start(P2pConfig::loopback(), accept_all(), no_blocks()).await;
    let mut b = TestNode::start(P2pConfig::loopback(), accept_all(), no_blocks()).await;
    // The libp2p peer id is the DOIN key's.
    assert_eq!(
        keypair_of(&a.identity).expect("key").public().to_peer_id(),
        a.peer()
    );
    assert_eq!(a.handle.doin_id(), a.identity.peer_id());

    a.handle.dial(b.dial_addr()).await.expect("dial");
    a.identified_all(&[&b]).await;
    b.identified_all(&[&a]).await;

    let peers = a.handle.peers().await;
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].peer, b.peer());
    assert_eq!(peers[0].doin_id.as_ref(), Some(b.identity.peer_id()));
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quic_connection_proves_both_doin_ids() {
    let quic = || P2pConfig {
        listen_addrs: vec![loopback_quic()],
        ..P2pConfig::loopback()
    };
    let mut a = TestNode::start(quic(), accept_all(), no_blocks()).await;
    let mut b = TestNode::start(quic(), accept_all(), no_blocks()).await;
    a.handle.dial(b.dial_addr()).await.expect("dial");
    let address = a
        .next(|e| match e {
            P2pEvent::PeerConnected { peer, address } if *peer == b.peer() => Some(address.clone()),
            _ => None,
        })
        .await;
    assert!(address.to_string().contains("quic-v1"), "{address}");
    a.identified_all(&[&b]).await;
    b.identified_all(&[&a]).await;
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}
