//! 200 throwaway libp2p identities cannot keep an honest peer out.
//!
//! A victim node mints on its own; an honest node (its own /24, `127.0.200.1`) follows its
//! chain over libp2p. Then 200 fresh P-256 identities (each a bare swarm running identify
//! and ping, so the victim takes them for DOIN nodes) spread over ten /24s
//! (`127.0.N.1`, N = 1..10: a QUIC swarm dials from the socket it listens on) connect to
//! the victim over QUIC and reconnect whenever they are refused or dropped. While they do:
//!
//! * the victim never holds more than `max_peers_per_range` (4) peers of one attacking
//!   range, nor more inbound peers than its slots (34) plus the eviction headroom (4);
//! * the honest node keeps its connection (long-lived peers are protected), and blocks
//!   keep reaching it;
//! * a second honest node (`127.0.201.1`) that arrives in the middle of the attack gets in
//!   (it evicts an attacker of the most crowded range) and syncs the chain;
//! * the victim answers `/health` throughout and the process's memory stays bounded.
//!
//! The attack must be real for the test to pass: the attackers hold at least 30 of the
//! victim's slots at some point, and their reconnections are refused many times.

mod hostile_net;
mod hostile_peer;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use doin_net::p2p::P2pHandle;
use doin_net::slots::AddressRange;
use doin_node::config::NodeConfig;
use doin_node::node::{start_with_plugins, RunningNode};
use doin_plugins::PluginRegistry;
use futures_util::StreamExt;
use hostile_net::{rss_mib, HealthProbe};
use hostile_peer::{runtime, solo_template, wait_for_height};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{identify, identity::Keypair, ping, Multiaddr, PeerId, SwarmBuilder};

/// Identities in the attack.
const IDENTITIES: usize = 200;
/// Address ranges they come from.
const RANGES: u8 = 10;
/// The victim's inbound slots and per-range cap (the defaults).
const MAX_INBOUND: usize = 34;
const PER_RANGE: usize = 4;
const HEADROOM: usize = 4;

#[derive(NetworkBehaviour)]
struct Throwaway {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
}

/// What the attackers achieved.
#[derive(Default)]
struct Tally {
    established: AtomicU64,
    refused: AtomicU64,
}

/// One throwaway identity at `ip`: dials `target` over QUIC, and again within a second
/// of every refusal or drop, until `stop` (the 200 of them share the test's two cores
/// with the three nodes: faster, they would starve the victim's optimizer of CPU rather
/// than test its slots).
fn throwaway(ip: Ipv4Addr, target: Multiaddr, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
    tokio::spawn(async move {
        let key = Keypair::generate_ecdsa();
        let mut swarm = SwarmBuilder::with_existing_identity(key)
            .with_tokio()
            .with_quic()
            .with_behaviour(|key| Throwaway {
                identify: identify::Behaviour::new(identify::Config::new(
                    "/doin/1.0.0".into(),
                    key.public(),
                )),
                ping: ping::Behaviour::new(ping::Config::new()),
            })
            .expect("behaviour")
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build();
        let listen = Multiaddr::empty()
            .with(Protocol::Ip4(ip))
            .with(Protocol::Udp(0))
            .with(Protocol::QuicV1);
        swarm.listen_on(listen).expect("listen");
        let mut retry = tokio::time::interval(Duration::from_secs(1));
        let mut connected = false;
        let mut dialing = false;
        while !stop.load(Ordering::Relaxed) {
            tokio::select! {
                e = swarm.select_next_some() => match e {
                    SwarmEvent::ConnectionEstablished { .. } => {
                        connected = true;
                        dialing = false;
                        tally.established.fetch_add(1, Ordering::Relaxed);
                    }
                    SwarmEvent::ConnectionClosed { num_established: 0, .. } => {
                        connected = false;
                        tally.refused.fetch_add(1, Ordering::Relaxed);
                    }
                    SwarmEvent::OutgoingConnectionError { .. } => {
                        dialing = false;
                        tally.refused.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                },
                _ = retry.tick() => {
                    // Listening first, so that the dial leaves from `ip`.
                    if !connected && !dialing && swarm.listeners().next().is_some() {
                        dialing = swarm.dial(target.clone()).is_ok();
                    }
                }
            }
        }
    });
}

/// A node config on loopback, listening on `listen`, bootstrapped to `bootstrap`.
fn config(
    dir: &std::path::Path,
    name: &str,
    listen: Vec<String>,
    bootstrap: Vec<String>,
) -> NodeConfig {
    let mut c = solo_template(3);
    c.host = "127.0.0.1".into();
    c.port = 0;
    c.data_dir = dir.join(name);
    c.network_protocol = "gossipsub".into();
    c.listen_addrs = Some(listen);
    c.bootstrap_peers = bootstrap;
    c
}

/// A follower: keeps and relays the chain, optimizes and evaluates nothing.
fn follower(dir: &std::path::Path, name: &str, ip: &str, victim: &str) -> NodeConfig {
    // QUIC dials leave from the listening socket: the victim sees the node at `ip`.
    let listen = vec![format!("/ip4/{ip}/udp/0/quic-v1")];
    let mut c = config(dir, name, listen, vec![victim.into()]);
    for d in &mut c.domains {
        d.optimize = false;
        d.evaluate = false;
    }
    c
}

async fn start(c: NodeConfig) -> RunningNode {
    start_with_plugins(c, PluginRegistry::with_builtins())
        .await
        .expect("node starts")
}

async fn quic_addr(p2p: &P2pHandle) -> Multiaddr {
    for _ in 0..600 {
        let found = p2p
            .listen_addrs()
            .await
            .into_iter()
            .find(|a| a.iter().any(|p| matches!(p, Protocol::QuicV1)));
        if let Some(a) = found {
            return a.with_p2p(p2p.local_peer()).expect("p2p");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the victim never listened");
}

/// The victim's peers per attacking /24, its inbound count, and whether it holds `peers`.
async fn census(
    victim: &P2pHandle,
    honest: &[PeerId],
) -> (HashMap<AddressRange, usize>, usize, Vec<bool>) {
    let peers = victim.peers().await;
    let mut ranges = HashMap::new();
    for p in &peers {
        let ip = p.address.iter().find_map(|p| match p {
            Protocol::Ip4(ip) => Some(ip),
            _ => None,
        });
        if let Some(ip) = ip.filter(|ip| (1..=RANGES).contains(&ip.octets()[2])) {
            *ranges.entry(AddressRange::of(ip.into())).or_insert(0) += 1;
        }
    }
    let held = honest
        .iter()
        .map(|h| peers.iter().any(|p| p.peer == *h))
        .collect();
    (ranges, peers.len(), held)
}

/// The bounds the victim must keep; returns how many attackers it holds.
fn check(ranges: &HashMap<AddressRange, usize>, total: usize) -> usize {
    assert!(
        ranges.values().all(|n| *n <= PER_RANGE),
        "an attacking range holds more than {PER_RANGE} slots: {ranges:?}"
    );
    assert!(total <= MAX_INBOUND + HEADROOM, "{total} peers");
    ranges.values().sum()
}

#[test]
fn throwaway_identities_cannot_keep_an_honest_peer_out() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = start(config(
            dir.path(),
            "victim",
            vec!["/ip4/127.0.0.1/udp/0/quic-v1".into()],
            Vec::new(),
        ))
        .await;
        let vp2p = victim.p2p.clone().expect("libp2p");
        let quic = quic_addr(&vp2p).await;

        let honest = start(follower(dir.path(), "honest", "127.0.200.1", &quic.to_string())).await;
        let honest_peer = honest.p2p.as_ref().expect("libp2p").local_peer();
        wait_for_height(&honest, 3, Duration::from_secs(120), "the honest node follows").await;
        let (_, _, held) = census(&vp2p, &[honest_peer]).await;
        assert!(held[0], "the honest node is the victim's peer");
        // It is seen from its own range, so the range rules apply to it as to anyone.
        let row = vp2p.peers().await.into_iter().find(|p| p.peer == honest_peer).expect("row");
        assert!(row.address.to_string().starts_with("/ip4/127.0.200.1/"), "{}", row.address);

        let (rss_before, _) = rss_mib();
        let attack_start = std::time::Instant::now();
        let probe = HealthProbe::start(&victim.endpoint());
        let tally = Arc::new(Tally::default());
        let stop = Arc::new(AtomicBool::new(false));
        for i in 0..IDENTITIES {
            let ip = Ipv4Addr::new(127, 0, 1 + (i % RANGES as usize) as u8, 1);
            throwaway(ip, quic.clone(), tally.clone(), stop.clone());
        }

        // The slots fill with attackers; the honest node keeps its own.
        let mut most_inbound = 0;
        let mut waited = 0;
        loop {
            let (ranges, total, held) = census(&vp2p, &[honest_peer]).await;
            most_inbound = most_inbound.max(check(&ranges, total));
            assert!(held[0], "the honest node lost its connection to the victim");
            if most_inbound >= 30 {
                break;
            }
            waited += 1;
            assert!(waited < 1200, "the attackers never filled the slots: {ranges:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let filled = attack_start.elapsed();
        // A second honest node arrives in the middle of the attack, gets in and syncs.
        let start_height = victim.chain.view().height;
        let late = start(follower(dir.path(), "late", "127.0.201.1", &quic.to_string())).await;
        let late_peer = late.p2p.as_ref().expect("libp2p").local_peer();
        let target = start_height + 5;
        let late_start = std::time::Instant::now();
        let mut late_in = None;
        let mut waited = 0;
        loop {
            let (ranges, total, held) = census(&vp2p, &[honest_peer, late_peer]).await;
            most_inbound = most_inbound.max(check(&ranges, total));
            assert!(held[0], "the honest node lost its connection to the victim");
            if held[1] && late_in.is_none() {
                late_in = Some(late_start.elapsed());
            }
            let done = [&honest, &late]
                .iter()
                .all(|n| n.chain.view().height >= target);
            if done && held[1] {
                break;
            }
            waited += 1;
            assert!(
                waited < 2400,
                "blocks stopped reaching the honest nodes (victim {}, honest {}, late {} held {held:?})",
                victim.chain.view().height,
                honest.chain.view().height,
                late.chain.view().height
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let established = tally.established.load(Ordering::Relaxed);
        let refused = tally.refused.load(Ordering::Relaxed);
        stop.store(true, Ordering::Relaxed);
        let (worst, probes) = probe.finish().await;
        let (rss_after, peak) = rss_mib();
        eprintln!(
            "attack: {established} connections, {refused} refused or dropped; most attackers \
             held {most_inbound} (after {filled:?}); the late node in after {late_in:?}, \
             both honest nodes 5 blocks further after {:?}; /health worst {worst:?} over {probes} probes; RSS \
             {rss_before:.0} -> {rss_after:.0} MiB (peak {peak:.0})",
            attack_start.elapsed()
        );
        assert!(refused >= 200, "the attackers were hardly refused: {refused}");
        assert!(
            peak - rss_before < 512.0,
            "memory grew by {:.0} MiB",
            peak - rss_before
        );
        for n in [late, honest, victim] {
            n.shutdown().await;
        }
    });
}
