//! One ban for both transports: an address that lost its score on `POST /message` has
//! its libp2p connections closed and new ones refused, and the address of a libp2p peer
//! banned for its gossip is refused on `POST /message`. Bans are by exact address: the
//! neighbour in the same /24 is welcome on both.

mod p2p_net;

use std::net::SocketAddr;

use doin_net::p2p::{P2pConfig, P2pEvent};
use doin_net::scoring::Verdict;
use doin_net::service::{spawn, InboundError, NetConfig, NetHandle};
use p2p_net::{accept_all, no_blocks, no_discovery, TestNode};

/// A node listening on QUIC at `ip` (a QUIC node dials from the socket it listens on, so
/// the peers it dials see it at `ip`).
async fn quic_node_at(ip: [u8; 4], config: P2pConfig) -> TestNode {
    let addr = format!("/ip4/{}.{}.{}.{}/udp/0/quic-v1", ip[0], ip[1], ip[2], ip[3]);
    TestNode::start(
        P2pConfig {
            listen_addrs: vec![addr.parse().expect("multiaddr")],
            ..config
        },
        accept_all(),
        no_blocks(),
    )
    .await
}

/// The HTTP bridge of `node`, banning into the libp2p node's list (as doin-node wires it).
fn http_bridge_of(node: &TestNode) -> NetHandle {
    let mut config = NetConfig::new(node.identity.peer_id().clone(), 0);
    config.address_bans = node.handle.address_bans().clone();
    spawn(config).expect("HTTP bridge starts").0
}

/// A `POST /message` peer at `ip`.
fn from(ip: [u8; 4]) -> SocketAddr {
    SocketAddr::from((ip, 40_000))
}

/// Waits until `node`'s dial to `target` is refused: the dial fails, or the connection
/// closes as soon as it is set up.
async fn refused_by(node: &mut TestNode, target: &TestNode) {
    node.handle.dial(target.dial_addr()).await.expect("dial");
    let target = target.peer();
    node.next(|e| match e {
        P2pEvent::DialFailed { .. } => Some(()),
        P2pEvent::PeerDisconnected { peer } if *peer == target => Some(()),
        _ => None,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_banned_over_http_is_closed_and_refused_on_libp2p() {
    let mut victim = quic_node_at([127, 0, 0, 1], no_discovery()).await;
    let http = http_bridge_of(&victim);
    let mut offender = quic_node_at([127, 0, 12, 1], no_discovery()).await;
    let neighbour = quic_node_at([127, 0, 12, 2], no_discovery()).await;
    for n in [&offender, &neighbour] {
        n.handle.dial(victim.dial_addr()).await.expect("dial");
    }
    victim.identified_all(&[&offender, &neighbour]).await;

    // Garbage over HTTP from the offender's address until the bridge bans it (403).
    let mut posted = 0;
    loop {
        match http.inbound(b"not a message", from([127, 0, 12, 1])).await {
            Err(InboundError::Banned) => break,
            Err(InboundError::Malformed(_)) => posted += 1,
            other => panic!("unexpected answer {other:?}"),
        }
        assert!(posted < 100, "never banned");
    }

    // Its libp2p connection is closed, and it cannot come back, under any key.
    let (banned, target) = (offender.peer(), victim.peer());
    victim
        .next(|e| match e {
            P2pEvent::PeerDisconnected { peer } if *peer == banned => Some(()),
            _ => None,
        })
        .await;
    offender
        .next(|e| match e {
            P2pEvent::PeerDisconnected { peer } if *peer == target => Some(()),
            _ => None,
        })
        .await;
    refused_by(&mut offender, &victim).await;
    offender.handle.shutdown().await;
    let mut fresh = quic_node_at([127, 0, 12, 1], no_discovery()).await;
    refused_by(&mut fresh, &victim).await;

    // The neighbour in the same /24 keeps its connection.
    let peers: Vec<_> = victim.handle.peers().await.iter().map(|p| p.peer).collect();
    assert_eq!(peers, vec![neighbour.peer()]);
    for n in [&victim, &fresh, &neighbour] {
        n.handle.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_address_of_a_peer_banned_for_its_gossip_is_refused_over_http() {
    let mut victim = quic_node_at([127, 0, 13, 1], no_discovery()).await;
    let http = http_bridge_of(&victim);
    let offender = quic_node_at([127, 0, 13, 7], no_discovery()).await;
    offender
        .handle
        .dial(victim.dial_addr())
        .await
        .expect("dial");
    victim.identified_all(&[&offender]).await;
    // Before its ban, the offender's address is only charged for what it posts.
    assert!(matches!(
        http.inbound(b"not a message", from([127, 0, 13, 7])).await,
        Err(InboundError::Malformed(_))
    ));

    let banned = offender.peer();
    for _ in 0..3 {
        victim
            .handle
            .report_peer(banned, Verdict::InvalidSignature)
            .await
            .expect("report");
    }
    victim
        .next(|e| match e {
            P2pEvent::PeerBanned { peer } if *peer == banned => Some(()),
            _ => None,
        })
        .await;

    // Over HTTP the address is refused before its body is looked at; its neighbour is not.
    assert!(matches!(
        http.inbound(b"not a message", from([127, 0, 13, 7])).await,
        Err(InboundError::Banned)
    ));
    assert!(matches!(
        http.inbound(b"not a message", from([127, 0, 13, 8])).await,
        Err(InboundError::Malformed(_))
    ));
    for n in [&victim, &offender] {
        n.handle.shutdown().await;
    }
}
