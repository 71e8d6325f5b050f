//! Time to target on the quadratic domain for 1, 2 and 4 in-process nodes with the same
//! budget per node (one optimizer round every 50 ms each), and the speed-up: nodes cooperate
//! through the chain (island migration: every optimizer starts each round from the best
//! optimae on chain, whoever found it).

use std::time::{Duration, Instant};

use doin_node::config::NodeConfig;
use doin_node::testnet::TestNet;

const TARGET: f64 = -2.0;

fn config(nodes: usize) -> NodeConfig {
    let mut c = NodeConfig::embedded_default();
    c.quorum_min_evaluators = if nodes == 1 { 0 } else { 1 };
    c.eval_poll_interval = 1.0;
    c.initial_threshold = 0.01;
    c.target_block_time = 1.0;
    for d in &mut c.domains {
        d.target_performance = Some(TARGET);
        d.optimization_config
            .insert("n_params".into(), serde_json::json!(30));
        d.optimization_config
            .insert("round_interval_seconds".into(), serde_json::json!(0.05));
    }
    c
}

fn time_to_target(nodes: usize) -> Duration {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let started = Instant::now();
        let net = TestNet::start(nodes, &config(nodes))
            .await
            .expect("network");
        net.wait_for(Duration::from_secs(600), "the target on chain", |v| {
            v.iter()
                .any(|v| v.domain_best.get("quadratic").is_some_and(|b| *b >= TARGET))
        })
        .await
        .expect("reaches the target");
        let took = started.elapsed();
        net.shutdown().await;
        took
    })
}

fn main() {
    let runs: usize = std::env::var("DOIN_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let mut results = Vec::new();
    for nodes in [1usize, 2, 4] {
        let mut times: Vec<f64> = (0..runs)
            .map(|_| time_to_target(nodes).as_secs_f64())
            .collect();
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!("quadratic (30 params, target {TARGET}), {nodes} node(s): median time to target {median:.1} s over {runs} runs {times:?}");
        results.push((nodes, median));
    }
    let base = results[0].1;
    for (nodes, t) in &results[1..] {
        println!("speed-up with {nodes} nodes: {:.2}x", base / t);
    }
}
