//! Full doin nodes at scale on libp2p: `DOIN_BENCH_NODES` (default 64) whole nodes — chain
//! service, store, HTTP API, optimizer and evaluator loops — **in this one process**, on a
//! tokio runtime of two workers, each on libp2p over loopback TCP
//! ([`TestNet::add_node_bootstrapped`]: bootstrapped from `DOIN_BENCH_BOOTSTRAPS`
//! (default 4) of the nodes started before it, spread over them, no HTTP peer; the others
//! it finds through kademlia). The quadratic domain: `DOIN_BENCH_OPTIMIZERS` nodes optimize (default 4),
//! `DOIN_BENCH_EVALUATORS` evaluate (default 12, quorums of two), the rest only relay
//! (they keep the chain and forward the domain's gossip). Blocks come from the network's
//! own minting (`DOIN_BENCH_BLOCK_TIME`, default 5 s target; evaluators poll as often),
//! travel in their gossipsub announcements and are pulled over `/doin/sync/1` when they
//! do not extend the receiver's tip; optimizers run a round every `DOIN_BENCH_ROUND`
//! seconds (default 0.5).
//!
//! Once every node holds the chain and `DOIN_BENCH_SETTLE` seconds have passed (default
//! 10), it measures for `DOIN_BENCH_SECS` (default 60) and prints:
//! * block propagation: for each block of the agreed chain minted meanwhile, the time from
//!   its minter's adoption (the minter's chain view moving to it) to each other node's
//!   adoption, p50 / p95 / p99, and the time until the last node adopted it;
//! * duplicates: per gossipsub topic, copies received beyond the first per message per
//!   node (gossipsub's own counters), beside the mesh degree D;
//! * gossip bytes per node in (every copy) and out over the window, and per second
//!   (gossipsub's counters: sync pages and task calls are not in them, see
//!   `doin_net::p2p::traffic`);
//! * the load average before and after.
//!
//! Adoption times are taken by one watcher per node on the same runtime, so they include
//! the time the watcher waits for a worker: on a loaded machine, an upper bound.
//!
//! `cargo bench -p doin-node --bench p2p_scale`.
//!
//! Release build, two-core machine (figures and their history in the README's Benchmarks
//! section): 64 nodes (4 optimizers, 12 evaluators, 48 relays) with 5 s blocks converge
//! on one chain, but the machine is saturated (load 5.5) and propagation to each node is
//! p50 / p95 12.5 / 31 s; 32 nodes, 0.6 / 6.7 s; 16 nodes with 1 s blocks, 0.05 / 1.6 s.
//! With 1 s blocks 32 nodes still stall in a storm of rival blocks.
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use doin_net::p2p::TrafficCounts;
use doin_node::config::NodeConfig;
use doin_node::testnet::{minting_template, runtime, TestNet};
use tokio::sync::mpsc;

/// A node's chain view moved to `tip` (at `height`) at `at`.
struct Adoption {
    node: usize,
    height: i64,
    tip: String,
    at: Instant,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn quantiles(label: &str, mut v: Vec<Duration>) {
    v.sort();
    println!(
        "{label} (n={}): p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        v.len(),
        ms(percentile(&v, 0.50)),
        ms(percentile(&v, 0.95)),
        ms(percentile(&v, 0.99)),
        ms(v.last().copied().unwrap_or_default())
    );
}

/// The template of node `i`: optimizers first, then evaluators, then relays; blocks every
/// `block_time` seconds, evaluators given as long to vote, an optimizer round every `round`
/// seconds.
fn role_of(
    i: usize,
    optimizers: usize,
    evaluators: usize,
    block_time: f64,
    round: f64,
) -> NodeConfig {
    let mut c = minting_template(2, round);
    c.network_protocol = "gossipsub".into();
    c.target_block_time = block_time;
    c.eval_poll_interval = block_time;
    for d in &mut c.domains {
        d.optimize = i < optimizers;
        d.evaluate = (optimizers..optimizers + evaluators).contains(&i);
    }
    c
}

/// For each node, when it first held each block of `chain` (height → hash): the first
/// view at or above that height whose tip is the agreed chain's block there.
fn adoption_times(
    adoptions: &[Adoption],
    chain: &BTreeMap<i64, String>,
    nodes: usize,
) -> Vec<BTreeMap<i64, Instant>> {
    let mut held: Vec<BTreeMap<i64, Instant>> = vec![BTreeMap::new(); nodes];
    for a in adoptions {
        if chain.get(&a.height) != Some(&a.tip) {
            continue;
        }
        for h in chain.range(..=a.height).map(|(h, _)| *h) {
            held[a.node].entry(h).or_insert(a.at);
        }
    }
    held
}

/// Prints duplicates per message per node for each topic, from the window's counters.
fn print_gossip(window: &[TrafficCounts]) {
    let mut topics: BTreeMap<&str, (u64, u64, f64)> = BTreeMap::new();
    for node in window {
        for (topic, c) in &node.topics {
            let e = topics.entry(topic).or_default();
            e.0 += c.first;
            e.1 += c.duplicates();
            if c.first > 0 {
                e.2 = e.2.max(c.duplicates() as f64 / c.first as f64);
            }
        }
    }
    let mesh = libp2p::gossipsub::Config::default();
    println!(
        "gossipsub mesh degree D = {} (D_low {}, D_high {}); copies beyond the first, per \
         message per node:",
        mesh.mesh_n(),
        mesh.mesh_n_low(),
        mesh.mesh_n_high()
    );
    for (topic, (first, dups, worst)) in topics {
        if first == 0 {
            continue;
        }
        println!(
            "  {topic}: {first} first copies over all nodes, {:.2} duplicates per message per \
             node (worst node {worst:.2})",
            dups as f64 / first as f64
        );
    }
}

/// Prints gossip bytes per node over `secs`.
fn print_bytes(window: &[TrafficCounts], secs: f64, blocks: usize) {
    let kib = |b: u64| b as f64 / 1024.0;
    for (dir, pick) in [
        ("in", TrafficCounts::bytes_in as fn(&TrafficCounts) -> u64),
        ("out", TrafficCounts::bytes_out),
    ] {
        let mut v: Vec<u64> = window.iter().map(pick).collect();
        v.sort();
        let mean = v.iter().sum::<u64>() as f64 / v.len().max(1) as f64;
        println!(
            "gossip bytes {dir} per node over {secs:.0} s: mean {:.0} KiB ({:.1} KiB/s, {:.1} KiB per \
             block), min {:.0} KiB, median {:.0} KiB, max {:.0} KiB",
            mean / 1024.0,
            mean / 1024.0 / secs,
            mean / 1024.0 / blocks.max(1) as f64,
            kib(v[0]),
            kib(v[v.len() / 2]),
            kib(v[v.len() - 1])
        );
    }
}

/// The `k` nodes before node `i` it bootstraps from: spread evenly over `0..i`, starting
/// at an offset of its own (all of them when there are no more than `k`).
fn bootstrap_peers(i: usize, k: usize) -> Vec<usize> {
    if i <= k {
        return (0..i).collect();
    }
    let offset = (i.wrapping_mul(2_654_435_761) >> 7) % i;
    let mut peers: Vec<usize> = (0..k).map(|m| (offset + m * i / k) % i).collect();
    peers.sort_unstable();
    peers.dedup();
    peers
}

fn main() {
    let n: usize = env_or("DOIN_BENCH_NODES", 64).max(2);
    let optimizers: usize = env_or("DOIN_BENCH_OPTIMIZERS", 4).clamp(1, n);
    let evaluators: usize = env_or("DOIN_BENCH_EVALUATORS", 12).min(n - optimizers);
    let secs: f64 = env_or("DOIN_BENCH_SECS", 60.0);
    let settle: f64 = env_or("DOIN_BENCH_SETTLE", 10.0);
    let bootstraps: usize = env_or("DOIN_BENCH_BOOTSTRAPS", 4).max(1);
    let block_time: f64 = env_or("DOIN_BENCH_BLOCK_TIME", 5.0_f64).max(0.1);
    let round: f64 = env_or("DOIN_BENCH_ROUND", 0.5_f64).max(0.05);
    println!(
        "{n} full doin nodes in one process (tokio, 2 workers), libp2p on loopback TCP; domain \
         quadratic: {optimizers} optimizers, {evaluators} evaluators, {} relays; target block \
         time {block_time} s, an optimizer round every {round} s; load average {}",
        n - optimizers - evaluators,
        load_average()
    );
    runtime().block_on(async move {
        let started = Instant::now();
        let mut net = TestNet::start(0, &minting_template(2, 0.5))
            .await
            .expect("network");
        let (tx, mut rx) = mpsc::channel::<Adoption>(1 << 20);
        let mut peer_index = HashMap::new();
        for i in 0..n {
            // Each node bootstraps from a few of the nodes before it, spread over all of
            // them (every node dialing the first ones filled their inbound slots, and the
            // nodes after them, refused there, formed networks of their own).
            let peers = bootstrap_peers(i, bootstraps);
            let at = net
                .add_node_bootstrapped(
                    &role_of(i, optimizers, evaluators, block_time, round),
                    &peers,
                )
                .await
                .expect("node");
            let node = net.node(at);
            peer_index.insert(node.peer_id.clone(), at);
            let (mut views, tx) = (node.chain.watch(), tx.clone());
            tokio::spawn(async move {
                while views.changed().await.is_ok() {
                    let at = Instant::now();
                    let v = views.borrow_and_update().clone();
                    let adoption = Adoption {
                        node: i,
                        height: v.tip_index,
                        tip: v.tip_hash.clone(),
                        at,
                    };
                    if tx.send(adoption).await.is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        println!(
            "{n} nodes started in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let ready = Instant::now();
        net.wait_for_common_block(3, Duration::from_secs(300), "every node at height 3")
            .await
            .expect("the network mints and every node follows");
        println!(
            "every node holds block 3 after {:.1} s more; settling {settle:.0} s",
            ready.elapsed().as_secs_f64()
        );
        tokio::time::sleep(Duration::from_secs_f64(settle)).await;

        let counters = |net: &TestNet| -> Vec<TrafficCounts> {
            net.nodes
                .iter()
                .flatten()
                .map(|node| node.p2p.as_ref().map(|p| p.traffic()).unwrap_or_default())
                .collect()
        };
        let load_before = load_average();
        let from = net.views().iter().map(|v| v.tip_index).max().unwrap_or(0);
        let before = counters(&net);
        // Adoptions before the window are dropped: only blocks minted in it are measured.
        while rx.try_recv().is_ok() {}
        let measuring = Instant::now();
        let mut adoptions = Vec::new();
        let window_end = measuring + Duration::from_secs_f64(secs);
        while let Ok(Some(a)) = tokio::time::timeout_at(window_end.into(), rx.recv()).await {
            adoptions.push(a);
        }
        let after = counters(&net);
        let load_after = load_average();
        let to = net.views().iter().map(|v| v.tip_index).max().unwrap_or(0);
        // The agreed chain up to two blocks below the highest tip (the newest may still be
        // raced for), once every node holds it; adoptions keep being recorded meanwhile.
        let last = to - 2;
        // Adoptions wait in the channel meanwhile (it holds a million); on a fork that does
        // not resolve, the error names each node's block and view.
        net.wait_for_common_block(last, Duration::from_secs(120), "the nodes to agree")
            .await
            .expect("the nodes agree on the window's blocks");
        while let Ok(a) = rx.try_recv() {
            adoptions.push(a);
        }
        let reader = doin_store::ChainReader::open(&net.data_dir(0).join("chain.db"))
            .expect("node 0's store");
        let blocks = reader.blocks(from + 1, last).expect("blocks");
        let chain: BTreeMap<i64, String> = blocks
            .iter()
            .map(|b| (b.header.index, b.hash.clone()))
            .collect();
        let held = adoption_times(&adoptions, &chain, n);
        let (mut per_node, mut to_all) = (Vec::new(), Vec::new());
        let mut unattributed = 0;
        for b in &blocks {
            let h = b.header.index;
            let Some(t0) = peer_index
                .get(&b.header.generator_id)
                .and_then(|m| held[*m].get(&h))
            else {
                unattributed += 1;
                continue;
            };
            let delays: Vec<Duration> = (0..n)
                .filter(|i| Some(i) != peer_index.get(&b.header.generator_id))
                .filter_map(|i| held[i].get(&h).map(|t| t.saturating_duration_since(*t0)))
                .collect();
            if delays.len() == n - 1 {
                to_all.push(delays.iter().max().copied().unwrap_or_default());
            }
            per_node.extend(delays);
        }
        println!(
            "measured {secs:.0} s: blocks {}..={last} of the agreed chain ({} blocks, {} without \
             their minter's adoption seen); load average {load_before} before, {load_after} after",
            from + 1,
            blocks.len(),
            unattributed
        );
        quantiles(
            "propagation, minter's adoption to each node's adoption",
            per_node,
        );
        quantiles(&format!("propagation to all {} other nodes", n - 1), to_all);
        let window: Vec<TrafficCounts> =
            after.iter().zip(&before).map(|(a, b)| a.since(b)).collect();
        print_gossip(&window);
        print_bytes(&window, secs, blocks.len());
        net.shutdown().await;
    });
}
