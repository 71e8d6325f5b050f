//! A ban earned on one transport holds on the other. An attacker at `127.0.0.21` holds a
//! libp2p connection to a node and posts garbage to its `POST /message`: once the node
//! answers `403`, the libp2p connection is closed and a new one refused. An attacker at
//! `127.0.0.22` gossips forged blocks over libp2p until the node bans it: then its
//! `POST /message` gets `403` before its body is looked at, while `127.0.0.23` (same /24)
//! is served as before.
//!
//! By key as well as by address: a key banned on libp2p for its gossip has what it signs
//! refused on `POST /message` from any address, and a key banned on `POST /message` for
//! what it signed loses its libp2p connection from another address.

mod hostile_net;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use doin_net::p2p::{GossipKind, P2pConfig, P2pEvent, P2pHandle, P2pNode};
use doin_node::testnet::{minting_template, runtime, TestNet};
use doin_plugins::PluginRegistry;
use doin_primitives::identity::Identity;
use doin_primitives::models::message::Message;
use doin_primitives::models::payload::{BlockAnnouncement, Payload};
use doin_primitives::models::WireModel;
use doin_primitives::value::Map;
use doin_primitives::Timestamp;
use hostile_net::{address_row, client_from, peers_json, post_message};
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::mpsc;

/// How long any one expected event may take (two shared cores).
const WAIT: Duration = Duration::from_secs(60);

/// A block announcement sealed by `key`; `forged`: altered after sealing.
fn announcement(key: &Identity, index: i64, forged: bool) -> String {
    let payload = Payload::BlockAnnouncement(BlockAnnouncement {
        block_index: index,
        block_hash: format!("{index:064x}"),
        previous_hash: format!("{:064x}", index - 1),
        generator_id: key.peer_id().to_string(),
        transaction_count: 0,
        weighted_performance_sum: 1.0,
        threshold: 0.001,
        extra: Map::new(),
    });
    let mut m = Message::new(key.peer_id(), Timestamp::now_utc(), &payload);
    m.sign(key);
    if forged {
        m.payload
            .insert("block_index".into(), (index + 1_000_000).into());
    }
    m.to_wire_json()
}

/// One minting node listening for libp2p on QUIC at 127.0.0.1.
async fn quic_node() -> TestNet {
    TestNet::start_custom(1, &minting_template(0, 0.5), |_, c| {
        c.listen_addrs = Some(vec!["/ip4/127.0.0.1/udp/0/quic-v1".into()]);
        PluginRegistry::with_builtins()
    })
    .await
    .expect("a node")
}

/// A libp2p attacker listening (and so dialing: QUIC dials from its socket) on QUIC at
/// `ip`, connected to `node`.
async fn attacker_at(ip: [u8; 4], node: &str) -> (Identity, P2pNode) {
    let key = Identity::generate();
    let listen = Multiaddr::empty()
        .with(Protocol::Ip4(ip.into()))
        .with(Protocol::Udp(0))
        .with(Protocol::QuicV1);
    let mut attacker = P2pNode::start(
        &key,
        P2pConfig {
            listen_addrs: vec![listen],
            discovery: false,
            ..P2pConfig::loopback()
        },
    )
    .expect("the attacker's libp2p node");
    // Listening first, so that the dial leaves from `ip`.
    event(&mut attacker.events, |e| {
        matches!(e, P2pEvent::Listening(_))
    })
    .await;
    attacker
        .handle
        .dial(node.parse().expect("multiaddr"))
        .await
        .expect("dial");
    (key, attacker)
}

/// Waits until `node` holds a connection from `peer` at `ip`.
async fn connected_from(node: &P2pHandle, peer: PeerId, ip: [u8; 4]) {
    let start = Instant::now();
    loop {
        let peers = node.peers().await;
        if let Some(p) = peers.iter().find(|p| p.peer == peer) {
            let at = p.address.iter().find_map(|p| match p {
                Protocol::Ip4(a) => Some(IpAddr::V4(a)),
                _ => None,
            });
            assert_eq!(at, Some(IpAddr::from(ip)), "the attacker's address");
            return;
        }
        assert!(start.elapsed() < WAIT, "the attacker never connected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `node` knows the DOIN id `peer`'s connection proved (its identify record).
async fn identified(node: &P2pHandle, peer: PeerId) {
    let start = Instant::now();
    while !node
        .peers()
        .await
        .iter()
        .any(|p| p.peer == peer && p.doin_id.is_some())
    {
        assert!(start.elapsed() < WAIT, "the attacker was never identified");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Posts junk signed by `key` to `endpoint` from addresses `127.0.<subnet>.x`, one each
/// (so that no address is banned before the key), until a message of the key gets 403.
async fn ban_over_http(endpoint: &str, key: &Identity, subnet: u8) {
    let mut statuses = Vec::new();
    for n in 0..40u8 {
        let mut extra = Map::new();
        let mut junk = Map::new();
        junk.insert("junk".into(), i64::from(n).into());
        extra.insert("transfer".into(), junk.into());
        let client = client_from([127, 0, subnet, 10 + n]);
        let status = post_message(
            &client,
            endpoint,
            hostile_net::sealed_status(key, extra).to_wire_json(),
        )
        .await;
        statuses.push(status);
        if status == 403 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the key was never banned: {statuses:?}");
}

/// Gossips blocks forged under `key` (altered after sealing), numbered from `index`,
/// until the node closes the attacker's connection; the next unused number.
async fn gossip_forged_blocks_until_banned(
    key: &Identity,
    attacker: &mut P2pNode,
    mut index: i64,
) -> i64 {
    let start = Instant::now();
    loop {
        let _ = attacker
            .handle
            .publish(
                GossipKind::Block,
                None,
                announcement(key, index, true).into_bytes(),
            )
            .await;
        index += 1;
        let closed = tokio::time::timeout(Duration::from_millis(200), async {
            while let Some(e) = attacker.events.recv().await {
                if matches!(e, P2pEvent::PeerDisconnected { .. }) {
                    return true;
                }
            }
            false
        })
        .await;
        if closed == Ok(true) {
            break;
        }
        assert!(start.elapsed() < WAIT, "the attacker was never banned");
    }
    index
}

/// Waits for the first event `pick` accepts.
async fn event(events: &mut mpsc::Receiver<P2pEvent>, pick: impl Fn(&P2pEvent) -> bool) {
    let found = tokio::time::timeout(WAIT, async {
        while let Some(e) = events.recv().await {
            if pick(&e) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "expected event never came");
}

#[test]
fn an_address_banned_over_http_is_cut_off_libp2p() {
    let rt = runtime();
    rt.block_on(async {
        let net = quic_node().await;
        let node = net.node(0);
        let p2p = node.p2p.clone().expect("libp2p");
        let addr = net.p2p_addr(0).await.expect("its address");
        let (_, mut attacker) = attacker_at([127, 0, 0, 21], &addr).await;
        let attacker_id = attacker.handle.local_peer();
        connected_from(&p2p, attacker_id, [127, 0, 0, 21]).await;

        // Garbage over HTTP from the same address, until the node answers 403.
        let client = client_from([127, 0, 0, 21]);
        let mut statuses = Vec::new();
        while !statuses.contains(&403) {
            statuses.push(post_message(&client, &node.endpoint(), "garbage".into()).await);
            assert!(statuses.len() < 100, "never banned: {statuses:?}");
        }
        assert!(statuses[..statuses.len() - 1].iter().all(|s| *s == 400));

        // The libp2p connection closes, and a new one from there is refused.
        event(&mut attacker.events, |e| {
            matches!(e, P2pEvent::PeerDisconnected { .. })
        })
        .await;
        attacker
            .handle
            .dial(addr.parse().expect("multiaddr"))
            .await
            .expect("dial");
        event(&mut attacker.events, |e| {
            matches!(
                e,
                P2pEvent::DialFailed { .. } | P2pEvent::PeerDisconnected { .. }
            )
        })
        .await;
        assert!(!p2p.peers().await.iter().any(|p| p.peer == attacker_id));
        attacker.handle.shutdown().await;
        let _ = attacker.task.await;
    });
}

#[test]
fn a_peer_banned_for_its_gossip_is_refused_over_http() {
    let rt = runtime();
    rt.block_on(async {
        let net = quic_node().await;
        let node = net.node(0);
        let p2p = node.p2p.clone().expect("libp2p");
        let addr = net.p2p_addr(0).await.expect("its address");
        let (key, mut attacker) = attacker_at([127, 0, 0, 22], &addr).await;
        connected_from(&p2p, attacker.handle.local_peer(), [127, 0, 0, 22]).await;

        // Before the ban its address is served like any other.
        let client = client_from([127, 0, 0, 22]);
        let honest = Identity::generate();
        let ok = post_message(&client, &node.endpoint(), announcement(&honest, 1, false)).await;
        assert_eq!(ok, 200);

        // Forged blocks over libp2p until the node bans it (three bad seals).
        gossip_forged_blocks_until_banned(&key, &mut attacker, 1).await;

        // Over HTTP: 403 for its address, whatever it posts; its neighbour is served.
        let refused =
            post_message(&client, &node.endpoint(), announcement(&honest, 2, false)).await;
        assert_eq!(refused, 403);
        // `/peers` lists the address the other transport banned.
        let peers = peers_json(&node.endpoint()).await;
        assert_eq!(
            address_row(&peers, "127.0.0.22").map(|(_, banned)| banned),
            Some(true),
            "{peers}"
        );
        let neighbour = client_from([127, 0, 0, 23]);
        let served = post_message(
            &neighbour,
            &node.endpoint(),
            announcement(&honest, 3, false),
        )
        .await;
        assert_eq!(served, 200);
        attacker.handle.shutdown().await;
        let _ = attacker.task.await;
    });
}

#[test]
fn a_key_banned_for_its_gossip_is_refused_over_http_from_any_address() {
    let rt = runtime();
    rt.block_on(async {
        let net = quic_node().await;
        let node = net.node(0);
        let p2p = node.p2p.clone().expect("libp2p");
        let addr = net.p2p_addr(0).await.expect("its address");
        let (key, mut attacker) = attacker_at([127, 0, 0, 24], &addr).await;
        identified(&p2p, attacker.handle.local_peer()).await;

        // Before the ban, what the key signs is served from another address.
        let elsewhere = client_from([127, 0, 0, 25]);
        let ok = post_message(&elsewhere, &node.endpoint(), announcement(&key, 1, false)).await;
        assert_eq!(ok, 200);

        // Forged blocks over libp2p until the node bans the connection.
        let index = gossip_forged_blocks_until_banned(&key, &mut attacker, 2).await;

        // Its key is refused over HTTP from an address never banned; another key from
        // that address is served.
        let refused = post_message(
            &elsewhere,
            &node.endpoint(),
            announcement(&key, index, false),
        )
        .await;
        assert_eq!(refused, 403, "a message signed by the banned key");
        // `/peers` lists the key the other transport banned.
        let peers = peers_json(&node.endpoint()).await;
        assert!(
            peers["banned_peers"]
                .as_array()
                .is_some_and(|b| b.iter().any(|p| p["peer_id"] == key.peer_id().as_str()
                    && p["seconds_left"].as_u64() > Some(60))),
            "{peers}"
        );
        let honest = Identity::generate();
        let served = post_message(
            &elsewhere,
            &node.endpoint(),
            announcement(&honest, index + 1, false),
        )
        .await;
        assert_eq!(served, 200, "another key from the same address");
        attacker.handle.shutdown().await;
        let _ = attacker.task.await;
    });
}

#[test]
fn a_key_banned_over_http_loses_its_libp2p_connection_from_another_address() {
    let rt = runtime();
    rt.block_on(async {
        let net = quic_node().await;
        let node = net.node(0);
        let p2p = node.p2p.clone().expect("libp2p");
        let addr = net.p2p_addr(0).await.expect("its address");
        let (key, mut attacker) = attacker_at([127, 0, 0, 26], &addr).await;
        let attacker_id = attacker.handle.local_peer();
        identified(&p2p, attacker_id).await;

        ban_over_http(&node.endpoint(), &key, 10).await;

        // Its libp2p connection, from an address nobody banned, closes, and a new one is
        // refused once its key is known.
        event(&mut attacker.events, |e| {
            matches!(e, P2pEvent::PeerDisconnected { .. })
        })
        .await;
        let _ = attacker.handle.dial(addr.parse().expect("multiaddr")).await;
        let start = Instant::now();
        loop {
            let peers = p2p.peers().await;
            let held = peers.iter().any(|p| p.peer == attacker_id);
            if !held && start.elapsed() > Duration::from_secs(2) {
                break;
            }
            assert!(
                start.elapsed() < WAIT,
                "the banned key kept a libp2p connection"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        attacker.handle.shutdown().await;
        let _ = attacker.task.await;
    });
}

#[test]
fn a_key_banned_over_http_is_refused_when_it_first_connects_over_libp2p() {
    let rt = runtime();
    rt.block_on(async {
        let net = quic_node().await;
        let node = net.node(0);
        let p2p = node.p2p.clone().expect("libp2p");
        let addr = net.p2p_addr(0).await.expect("its address");
        let key = Identity::generate();
        ban_over_http(&node.endpoint(), &key, 11).await;

        // Its first libp2p connection, from an address nobody banned, is closed once its
        // identify record proves the key.
        let listen = Multiaddr::empty()
            .with(Protocol::Ip4([127, 0, 0, 28].into()))
            .with(Protocol::Udp(0))
            .with(Protocol::QuicV1);
        let mut attacker = P2pNode::start(
            &key,
            P2pConfig {
                listen_addrs: vec![listen],
                discovery: false,
                ..P2pConfig::loopback()
            },
        )
        .expect("the attacker's libp2p node");
        event(&mut attacker.events, |e| {
            matches!(e, P2pEvent::Listening(_))
        })
        .await;
        let _ = attacker.handle.dial(addr.parse().expect("multiaddr")).await;
        event(&mut attacker.events, |e| {
            matches!(
                e,
                P2pEvent::DialFailed { .. } | P2pEvent::PeerDisconnected { .. }
            )
        })
        .await;
        let attacker_id = attacker.handle.local_peer();
        assert!(!p2p.peers().await.iter().any(|p| p.peer == attacker_id));
        attacker.handle.shutdown().await;
        let _ = attacker.task.await;
    });
}
