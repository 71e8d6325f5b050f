//! Block-announcement propagation over simulated 8- and 32-node networks, GossipSub mesh
//! versus flooding.
//!
//! This runs the real routers in-process on the simulated network of `doin_net::sim`, not
//! over HTTP. Delay model: each hop takes 10 ms ± 5 ms (uniform, deterministic per seed);
//! heartbeats every 1 s; the graph is a random connected graph of average degree ~8; three
//! heartbeats run before the first publish. Figures: the time until *every* node has a
//! message (p50/p95 over messages), the per-node delivery latency (p50/p95 over all
//! node-message pairs), duplicate copies per node per message, and frames sent.
//! Run: `cargo bench -p doin-net --bench propagation`.

use std::time::Duration;

use doin_net::sim::{node_ids, random_connected_graph, SimNetwork};
use doin_net::{FloodRouter, GossipConfig, GossipRouter, Router};
use doin_primitives::models::payload::{BlockAnnouncement, Payload};
use doin_primitives::models::Message;
use doin_primitives::value::Map;
use doin_primitives::Timestamp;

const HOP: Duration = Duration::from_millis(10);
const JITTER: Duration = Duration::from_millis(5);
const HEARTBEAT: Duration = Duration::from_secs(1);
const MESSAGES: usize = 300;

fn announcement(sender: &str, index: i64) -> Message {
    Message::new(
        sender,
        Timestamp::from_unix_secs(1_800_000_000 + index),
        &Payload::from(BlockAnnouncement {
            block_index: index,
            block_hash: format!("{index:064x}"),
            previous_hash: format!("{:064x}", index - 1),
            generator_id: sender.to_owned(),
            transaction_count: 3,
            weighted_performance_sum: 2.5,
            threshold: 1.0,
            extra: Map::new(),
        }),
    )
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

fn run<R: Router>(label: &str, mut net: SimNetwork<R>, seed: u64) {
    let n = net.len();
    net.run_until_idle();
    net.run_for(3 * HEARTBEAT, HEARTBEAT);
    let sends_before = net.sends;
    let mut ids = Vec::new();
    for k in 0..MESSAGES {
        let origin = (seed as usize + k * 13) % n;
        ids.push(net.publish(
            origin,
            "blocks",
            announcement(&format!("node-{origin}"), k as i64 + 1),
        ));
        net.run_for(Duration::from_millis(250), HEARTBEAT);
    }
    net.run_for(4 * HEARTBEAT, HEARTBEAT);
    let (mut all, mut per_node, mut dups, mut reached) = (Vec::new(), Vec::new(), 0.0, 0usize);
    for id in &ids {
        let Some(s) = net.stats(id) else { continue };
        let lat: Vec<Duration> = s
            .latency
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != s.origin)
            .filter_map(|(_, l)| *l)
            .collect();
        if s.reached() == n - 1 {
            reached += 1;
            all.push(lat.iter().copied().max().unwrap_or_default());
        }
        per_node.extend(lat);
        dups += s.duplicates_per_node();
    }
    let frames = (net.sends - sends_before) as f64 / MESSAGES as f64;
    println!(
        "{label:<9} n={n:2}  all-nodes p50 {:>5.1} ms p95 {:>5.1} ms | per-node p50 {:>5.1} ms p95 {:>5.1} ms | dup/node/msg {:>5.2} | frames/msg {:>6.1} | reached all {reached}/{MESSAGES}",
        pct(&mut all, 0.5).as_secs_f64() * 1e3,
        pct(&mut all, 0.95).as_secs_f64() * 1e3,
        pct(&mut per_node, 0.5).as_secs_f64() * 1e3,
        pct(&mut per_node, 0.95).as_secs_f64() * 1e3,
        dups / MESSAGES as f64,
        frames,
    );
}

fn main() {
    println!("simulated network: hop 10 ms ± 5 ms, heartbeat 1 s, random graph avg degree ~8");
    for n in [8usize, 32] {
        let seed = 7;
        let edges = random_connected_graph(
            n,
            (4 * n).saturating_sub(n).min(n * (n - 1) / 2 - (n - 1)),
            seed,
        );
        let ids = node_ids(n);
        let gossip: Vec<GossipRouter> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                GossipRouter::with_seed(id.clone(), GossipConfig::default(), seed + i as u64)
            })
            .collect();
        let mut net = SimNetwork::new(gossip, ids.clone(), HOP, JITTER, seed);
        net.subscribe_all("blocks");
        net.connect(&edges);
        run("gossipsub", net, seed);
        let flood: Vec<FloodRouter> = ids.iter().map(|id| FloodRouter::new(id.clone())).collect();
        let mut net = SimNetwork::new(flood, ids, HOP, JITTER, seed);
        net.connect(&edges);
        run("flooding", net, seed);
    }
}
