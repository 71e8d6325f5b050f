//! A new node syncing a long chain from a peer over loopback, over HTTP and over libp2p in
//! the same run: node A holds a `DOIN_BENCH_BLOCKS`-block chain (default 10,000) and serves
//! it both ways; one new node starts empty with A's HTTP endpoint as its only peer
//! (`/chain/blocks`, libp2p off), then another with A's libp2p multiaddr as its only peer
//! (`/doin/sync/1` over TCP, noise, yamux). Prints how long each takes to pull and fully
//! validate every block, the CPU time the process spent meanwhile (both nodes, serving and
//! syncing: on a machine shared with other work, the figure the load does not move), and
//! the ratio.
//!
//! How a page is validated: over libp2p its blocks are parsed on every core (rayon); each
//! block's ids, hashes and signatures are checked on every core as soon as the page
//! arrives, while the chain service applies the page before it (every rule that needs the
//! chain, block after block), so fetching, the stateless checks and the stateful ones
//! overlap; each check runs once. The bench runs on the node binary's allocator (mimalloc).
//!
//! `cargo bench -p doin-node --bench sync` (`DOIN_BENCH_BLOCKS`, default 10,000). The
//! figures, measured on a two-core machine shared with other builds, are in the README's
//! Benchmarks; the 3 s target needs less CPU per block, not more cores.

use std::time::{Duration, Instant};

use doin_node::chain_params::chain_params;
use doin_node::config::{DomainRole, NodeConfig};
use doin_node::node::{start, RunningNode};

/// The node binary's allocator (see `src/main.rs`), so that the figures are the node's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// libp2p over TCP on a port the system picks (what the in-process test networks use).
const LOOPBACK_TCP: &str = "/ip4/127.0.0.1/tcp/0";

/// CPU seconds (user and system) this process has used, from `/proc/self/stat` (Linux;
/// 0 elsewhere).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // After the command name's closing parenthesis: fields 3.., utime and stime are 14, 15.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Clock ticks of 1/100 s (USER_HZ on Linux).
    (ticks(11) + ticks(12)) / 100.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Starts a node from `cfg` and waits until it holds `target` blocks; returns the seconds
/// and the CPU seconds the process used meanwhile.
async fn sync_one(cfg: NodeConfig, target: i64) -> (f64, f64) {
    // Each new node verifies every seal, as one on another machine would: forget the
    // seals this process verified building the chain or syncing the previous node.
    doin_primitives::seal_cache::clear();
    let cpu = cpu_seconds();
    let started = Instant::now();
    let node = start(cfg).await.expect("new node");
    loop {
        if node.chain.view().height >= target {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "sync too slow"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    node.shutdown().await;
    (secs, cpu)
}

/// A's libp2p multiaddr with its `/p2p/<id>`, once it listens.
async fn p2p_addr(node: &RunningNode) -> String {
    let p2p = node.p2p.as_ref().expect("node A runs libp2p");
    let started = Instant::now();
    loop {
        if let Some(a) = p2p.listen_addrs().await.first() {
            return format!("{a}/p2p/{}", p2p.local_peer());
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "node A does not listen on libp2p"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn main() {
    let n: u64 = std::env::var("DOIN_BENCH_BLOCKS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = NodeConfig::embedded_default();
    cfg.host = "127.0.0.1".into();
    cfg.port = 0;
    cfg.initial_threshold = 1e-6;
    cfg.target_block_time = 10.0;
    cfg.domains = vec![DomainRole {
        domain_id: "bench".into(),
        optimize: false,
        evaluate: false,
        ..DomainRole::default()
    }];
    let mut a = cfg.clone();
    a.data_dir = dir.path().join("a");
    a.listen_addrs = Some(vec![LOOPBACK_TCP.into()]);
    std::fs::create_dir_all(&a.data_dir).expect("dir");
    let build = Instant::now();
    doin_node::testnet::build_chain(&a.data_dir.join("chain.db"), &chain_params(&a), "bench", n)
        .expect("chain");
    eprintln!("built a {n}-block chain in {:.1?}", build.elapsed());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let node_a = start(a).await.expect("node a");
        let target = n as i64 + 1;

        let mut over_http = cfg.clone();
        over_http.data_dir = dir.path().join("b-http");
        over_http.listen_addrs = Some(Vec::new());
        over_http.bootstrap_peers = vec![node_a.endpoint()];
        let (http, http_cpu) = sync_one(over_http, target).await;
        println!(
            "sync over HTTP (loopback) with full validation: {n} blocks in {http:.2} s = {:.0} blocks/s; \
             {http_cpu:.2} s of CPU; load average {}",
            n as f64 / http,
            load_average()
        );

        let mut over_p2p = cfg.clone();
        over_p2p.data_dir = dir.path().join("b-p2p");
        over_p2p.listen_addrs = Some(vec![LOOPBACK_TCP.into()]);
        over_p2p.bootstrap_peers = vec![p2p_addr(&node_a).await];
        let (p2p, p2p_cpu) = sync_one(over_p2p, target).await;
        println!(
            "sync over libp2p /doin/sync/1 (loopback TCP) with full validation: {n} blocks in {p2p:.2} s = {:.0} blocks/s; \
             {p2p_cpu:.2} s of CPU; load average {}",
            n as f64 / p2p,
            load_average()
        );
        println!("libp2p / HTTP time: {:.2}", p2p / http);
        node_a.shutdown().await;
    });
}
