//! Property: over random connected graphs of 2 to 32 in-process routers, every published
//! message reaches every node exactly once, for GossipSub (with and without mesh rebuilds
//! before publishing) and for flooding. Duplicate copies per node are counted and printed.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::time::Duration;

use common::announcement;
use doin_net::sim::{node_ids, random_connected_graph, SimNetwork};
use doin_net::{FloodRouter, GossipConfig, GossipRouter, Router};
use doin_primitives::models::message::MAX_TTL;
use proptest::prelude::*;

const HOP: Duration = Duration::from_millis(10);
const JITTER: Duration = Duration::from_millis(5);
const HEARTBEAT: Duration = Duration::from_secs(1);

fn gossip_net(n: usize, edges: &[(usize, usize)], seed: u64) -> SimNetwork<GossipRouter> {
    let ids = node_ids(n);
    let routers = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            GossipRouter::with_seed(id.clone(), GossipConfig::default(), seed ^ i as u64)
        })
        .collect();
    let mut net = SimNetwork::new(routers, ids, HOP, JITTER, seed);
    net.subscribe_all("blocks");
    net.connect(edges);
    // Connections and SUBSCRIBE announcements settle (no heartbeat runs here).
    net.run_until_idle();
    net
}

fn flood_net(n: usize, edges: &[(usize, usize)], seed: u64) -> SimNetwork<FloodRouter> {
    let ids = node_ids(n);
    let routers = ids.iter().map(|id| FloodRouter::new(id.clone())).collect();
    let mut net = SimNetwork::new(routers, ids, HOP, JITTER, seed);
    net.connect(edges);
    // Connections and SUBSCRIBE announcements settle (no heartbeat runs here).
    net.run_until_idle();
    net
}

/// Publishes `count` announcements from random nodes; returns mean duplicates per node.
fn check_all_reached<R: Router>(net: &mut SimNetwork<R>, count: usize, seed: u64, ttl: i64) -> f64 {
    let n = net.len();
    let mut ids = Vec::new();
    for k in 0..count {
        let origin = (seed as usize).wrapping_add(k * 7) % n;
        let mut m = announcement(&format!("node-{origin}"), k as i64 + 1);
        m.ttl = ttl;
        ids.push(net.publish(origin, "blocks", m));
        net.run_for(Duration::from_millis(300), HEARTBEAT);
    }
    // Let lazy gossip repair what the mesh missed.
    net.run_for(Duration::from_secs(4), HEARTBEAT);
    let mut dups = 0.0;
    for id in &ids {
        let s = net.stats(id).unwrap_or_else(|| panic!("no stats for {id}"));
        assert_eq!(
            s.reached(),
            n - 1,
            "not every node got {id}: {:?}",
            s.deliveries
        );
        assert!(
            s.deliveries.iter().all(|d| *d <= 1),
            "delivered twice: {:?}",
            s.deliveries
        );
        dups += s.duplicates_per_node();
    }
    dups / count as f64
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_message_reaches_every_node(
        n in 2usize..=32,
        extra_per_node in 0usize..=2,
        rebuilds in 0usize..=3,
        seed in any::<u64>(),
    ) {
        let edges = random_connected_graph(n, extra_per_node * n / 2, seed);
        let mut mesh = gossip_net(n, &edges, seed);
        for _ in 0..rebuilds {
            mesh.run_for(HEARTBEAT, HEARTBEAT);
        }
        let mesh_dups = check_all_reached(&mut mesh, 3, seed, 7);
        let mut flood = flood_net(n, &edges, seed);
        let flood_dups = check_all_reached(&mut flood, 3, seed, MAX_TTL);
        println!(
            "n={n:2} edges={:3} rebuilds={rebuilds} duplicates/node/message: mesh {mesh_dups:.2} flooding {flood_dups:.2}",
            edges.len()
        );
    }
}

#[test]
fn dense_graph_duplicates_mesh_vs_flooding() {
    // 32 nodes, average degree ~10: the mesh bounds the fan-out, flooding does not.
    let n = 32;
    let edges = random_connected_graph(n, 5 * n - n, 42);
    let mut mesh = gossip_net(n, &edges, 42);
    mesh.run_for(Duration::from_secs(3), HEARTBEAT);
    let mesh_dups = check_all_reached(&mut mesh, 10, 42, 7);
    let mut flood = flood_net(n, &edges, 42);
    let flood_dups = check_all_reached(&mut flood, 10, 42, MAX_TTL);
    println!("dense n=32 duplicates/node/message: mesh {mesh_dups:.2} flooding {flood_dups:.2}");
    assert!(mesh_dups < flood_dups);
}
