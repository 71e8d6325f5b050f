//! A new node syncing a long chain from a peer over loopback: node A holds a
//! `DOIN_BENCH_BLOCKS`-block chain (default 10,000), node B starts empty with A as its
//! bootstrap peer; prints how long B takes to pull (`/chain/blocks`, 50 per page) and fully
//! validate every block (signatures checked on all cores, then every rule in order).

use std::time::{Duration, Instant};

use doin_node::chain_params::chain_params;
use doin_node::config::{DomainRole, NodeConfig};
use doin_node::node::start;

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
        let mut b = cfg.clone();
        b.data_dir = dir.path().join("b");
        b.bootstrap_peers = vec![node_a.endpoint()];
        let started = Instant::now();
        let node_b = start(b).await.expect("node b");
        let target = n as i64 + 1;
        loop {
            if node_b.chain.view().height >= target {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(600),
                "sync too slow"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "sync over loopback with full validation: {n} blocks in {secs:.2} s = {:.0} blocks/s",
            n as f64 / secs
        );
        node_b.shutdown().await;
        node_a.shutdown().await;
    });
}
