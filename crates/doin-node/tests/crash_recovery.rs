//! Crash test: the real binary is killed with SIGKILL 20 times at random moments while it
//! produces blocks; every restart recovers a valid chain that still holds every block the
//! API had reported, and the node goes on from its tip.

mod common;

use std::time::{Duration, Instant};

use common::{free_port, NodeProcess};
use doin_consensus::state::ChainState;
use doin_node::chain_params::chain_params;
use doin_node::config::NodeConfig;

const CONFIG: &str = r#"{
  "target_block_time": 1,
  "initial_threshold": 0.05,
  "quorum_min_evaluators": 0,
  "domains": [{
    "domain_id": "quadratic",
    "optimize": true,
    "evaluate": true,
    "optimization_plugin": "simple_quadratic",
    "inference_plugin": "simple_quadratic",
    "synthetic_data_plugin": "simple_quadratic",
    "has_synthetic_data": true,
    "optimization_config": {"n_params": 10, "step_size": 0.5, "seed": 7, "round_interval_seconds": 0.005},
    "param_bounds": {"x": [-20.0, 20.0]}
  }]
}"#;

/// A tiny xorshift so the kill moments vary without a dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn twenty_kill_9_restarts_keep_a_valid_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = dir.path().join("config.json");
    std::fs::write(&config_path, CONFIG).expect("config");
    let data = dir.path().join("data");
    let config_arg = config_path.to_str().expect("utf8 path");
    let mut rng = 0x9e37_79b9_7f4a_7c15u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
    let mut seen_height = 0i64;
    let mut kills = 0;
    let started = Instant::now();
    while kills < 20 {
        let mut node = NodeProcess::start(&data, free_port(), &["--config", config_arg]);
        let status = node.wait_status(Duration::from_secs(30), "the API after restart", |_| true);
        let height = status["chain_height"].as_i64().expect("height");
        assert!(
            height >= seen_height,
            "restart {kills}: height {height} < {seen_height} reported before the kill"
        );
        // Let it run into block production, then kill at a random moment.
        std::thread::sleep(Duration::from_millis(50 + next(&mut rng) % 700));
        if let Some(s) = node.get("/status") {
            seen_height = seen_height.max(s["chain_height"].as_i64().unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(next(&mut rng) % 100));
        node.kill9();
        kills += 1;
    }
    let mut node = NodeProcess::start(&data, free_port(), &["--config", config_arg]);
    node.wait_ready();
    let blocks = node.all_blocks();
    assert!(
        blocks.len() as i64 >= seen_height,
        "chain has {} blocks, {} were reported",
        blocks.len(),
        seen_height
    );
    assert!(
        seen_height > 3,
        "blocks were produced during the test ({seen_height})"
    );
    let cfg = NodeConfig::load(&config_path).expect("config").config;
    let mut state = ChainState::new(chain_params(&cfg));
    for b in &blocks[1..] {
        state
            .apply_block(b)
            .unwrap_or_else(|e| panic!("block {} invalid after crashes: {e}", b.header.index));
    }
    eprintln!(
        "20 kills in {:?}; final height {}",
        started.elapsed(),
        blocks.len()
    );
}
