//! Connection limits: a node whose inbound slots are full refuses the next peer; a node
//! whose outbound slots are full does not even start the next dial (no handshake); one
//! address range holds at most its share of the inbound slots, and of the peers we dial
//! however many of it the DHT offers; a banned peer's address stays refused under a fresh
//! key.

mod p2p_net;

use std::collections::HashSet;

use doin_net::p2p::{P2pConfig, P2pEvent};
use doin_net::scoring::Verdict;
use libp2p::multiaddr::Protocol;
use libp2p::Multiaddr;
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
async fn one_address_range_holds_at_most_its_share_of_inbound_slots() {
    let mut victim = quic_node_at(
        [127, 0, 0, 1],
        P2pConfig {
            max_per_range: 2,
            ..no_discovery()
        },
    )
    .await;
    // Three keys from 127.0.7.0/24: the first two get in, the third is refused.
    let first = quic_node_at([127, 0, 7, 1], no_discovery()).await;
    let second = quic_node_at([127, 0, 7, 2], no_discovery()).await;
    let mut third = quic_node_at([127, 0, 7, 3], no_discovery()).await;
    for n in [&first, &second] {
        n.handle.dial(victim.dial_addr()).await.expect("dial");
    }
    victim.identified_all(&[&first, &second]).await;
    refused_by(&mut third, &victim).await;
    // Another range still gets in.
    let other = quic_node_at([127, 0, 8, 1], no_discovery()).await;
    other.handle.dial(victim.dial_addr()).await.expect("dial");
    victim.identified_all(&[&other]).await;

    let mut peers: Vec<_> = victim.handle.peers().await.iter().map(|p| p.peer).collect();
    peers.sort();
    let mut expected = vec![first.peer(), second.peer(), other.peer()];
    expected.sort();
    assert_eq!(peers, expected);
    for n in [&victim, &first, &second, &third, &other] {
        n.handle.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_banned_peer_is_refused_under_a_fresh_key_from_its_address() {
    let mut victim = quic_node_at([127, 0, 0, 1], no_discovery()).await;
    let offender = quic_node_at([127, 0, 9, 1], no_discovery()).await;
    offender
        .handle
        .dial(victim.dial_addr())
        .await
        .expect("dial");
    victim.identified_all(&[&offender]).await;
    // Bad data until the ban line.
    let banned = offender.peer();
    for _ in 0..20 {
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
    offender.handle.shutdown().await;

    // A fresh key from the same address: refused. From the next address: welcome.
    let mut fresh = quic_node_at([127, 0, 9, 1], no_discovery()).await;
    refused_by(&mut fresh, &victim).await;
    let neighbour = quic_node_at([127, 0, 9, 2], no_discovery()).await;
    neighbour
        .handle
        .dial(victim.dial_addr())
        .await
        .expect("dial");
    victim.identified_all(&[&neighbour]).await;
    let peers: Vec<_> = victim.handle.peers().await.iter().map(|p| p.peer).collect();
    assert_eq!(peers, vec![neighbour.peer()]);
    for n in [&victim, &fresh, &neighbour] {
        n.handle.shutdown().await;
    }
}

/// Whether `address` lies in 127.0.14.0/24.
fn in_attacking_range(address: &Multiaddr) -> bool {
    address
        .iter()
        .any(|p| matches!(p, Protocol::Ip4(ip) if ip.octets()[..3] == [127, 0, 14]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_dials_at_most_its_share_of_one_range_the_dht_offers() {
    const RANGE_PEERS: u8 = 10;
    // The cap under test: the default, 4.
    let per_range = P2pConfig::default().max_per_range as usize;
    // A hub on the node's own machine (no range) that knows ten peers of 127.0.14.0/24.
    let mut hub = TestNode::start(
        P2pConfig {
            max_per_range: 64,
            ..P2pConfig::loopback()
        },
        accept_all(),
        no_blocks(),
    )
    .await;
    let mut range = Vec::new();
    for i in 1..=RANGE_PEERS {
        // One outbound slot, taken by the hub: they never dial the node themselves, so
        // every connection the node holds to them is one it dialed.
        let config = P2pConfig {
            bootstrap: vec![hub.dial_addr()],
            max_outbound: 1,
            ..P2pConfig::loopback()
        };
        range.push(quic_node_at([127, 0, 14, i], config).await);
    }
    hub.identified_all(&range.iter().collect::<Vec<_>>()).await;

    // The node walks the DHT from the hub, hungry for peers: it learns all ten.
    let mut node = TestNode::start(
        P2pConfig {
            bootstrap: vec![hub.dial_addr()],
            min_peers: 32,
            ..P2pConfig::loopback()
        },
        accept_all(),
        no_blocks(),
    )
    .await;
    let mut connected = HashSet::new();
    while connected.len() < per_range {
        let (peer, up) = node
            .next(|e| match e {
                P2pEvent::PeerConnected { peer, address } if in_attacking_range(address) => {
                    Some((*peer, true))
                }
                P2pEvent::PeerDisconnected { peer } => Some((*peer, false)),
                _ => None,
            })
            .await;
        if up {
            connected.insert(peer);
        } else {
            connected.remove(&peer);
        }
        assert!(
            connected.len() <= per_range,
            "{} peers of one range",
            connected.len()
        );
    }
    // The range is full: a dial to any other peer of it does not start.
    for r in range.iter().filter(|r| !connected.contains(&r.peer())) {
        assert!(
            node.handle.dial(r.dial_addr()).await.is_err(),
            "a dial past the range's share started"
        );
    }
    let held = node
        .handle
        .peers()
        .await
        .iter()
        .filter(|p| in_attacking_range(&p.address))
        .count();
    assert_eq!(held, per_range);
    hub.handle.shutdown().await;
    node.handle.shutdown().await;
    for r in &range {
        r.handle.shutdown().await;
    }
}
