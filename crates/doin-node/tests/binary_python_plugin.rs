//! The real `doin-node` binary running a domain whose optimizer, evaluator and synthetic
//! data are the example Python plugin, served through the SDK: a solo chain mints blocks.
//! A second domain's optimizer crashes every third call: the node logs why, restarts it,
//! and keeps minting.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{free_port, NodeProcess};

fn python_domain(id: &str, optimizer: &str, python_path: &str) -> serde_json::Value {
    let q = "python:quadratic_plugin:";
    serde_json::json!({
        "domain_id": id,
        "optimize": true,
        "evaluate": true,
        "optimization_plugin": optimizer,
        "inference_plugin": format!("{q}QuadraticInferencer"),
        "synthetic_data_plugin": format!("{q}QuadraticSyntheticData"),
        "has_synthetic_data": true,
        "optimization_config": {
            "n_params": 10,
            "target_seed": 7,
            "round_interval_seconds": 0.5,
            "plugin_command": "python3",
            "plugin_env": {"PYTHONPATH": python_path},
            "plugin_timeout_seconds": 20
        },
        "param_bounds": {"x": [-20.0, 20.0]},
        "resource_limits": {"max_memory_mb": 1024}
    })
}

#[test]
fn a_python_plugin_through_the_sdk_mints_blocks_in_a_solo_chain() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python_path = std::env::join_paths([
        repo.join("python/doin-plugin-sdk/src"),
        repo.join("python/examples"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
    ])
    .expect("paths")
    .to_string_lossy()
    .into_owned();
    let config = serde_json::json!({
        "bootstrap_peers": [],
        "target_block_time": 10,
        "initial_threshold": 0.5,
        "quorum_min_evaluators": 0,
        "quorum_tolerance": 0.1,
        "discovery_enabled": false,
        "domains": [
            python_domain(
                "quadratic-py",
                "python:quadratic_plugin:QuadraticOptimizer",
                &python_path,
            ),
            python_domain("flaky-py", "python:flaky_plugin:FlakyOptimizer", &python_path),
        ]
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = dir.path().join("python-node.json");
    std::fs::write(&config_path, config.to_string()).expect("config");
    let mut node = NodeProcess::start(
        &dir.path().join("data"),
        free_port(),
        &["--config", config_path.to_str().expect("utf-8 path")],
    );
    // Blocks and the flaky plugin's crash (its third call) come in either order.
    let log_path = node.log.clone();
    let crash_logged = move || {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        log.contains("optimizer round failed")
            && log.contains("crashed")
            && log.contains("crashing on purpose")
    };
    let status = node.wait_status(
        Duration::from_secs(90),
        "height >= 4 and the flaky plugin's crash logged",
        |s| s["chain_height"].as_i64().unwrap_or(0) >= 4 && crash_logged(),
    );
    assert_eq!(status["chain"]["solo"], true, "{status}");
    let blocks = node.all_blocks();
    assert!(blocks.len() >= 4);
    let log = std::fs::read_to_string(&node.log).unwrap_or_default();
    assert!(
        log.contains("optimizer round failed")
            && log.contains("crashed")
            && log.contains("crashing on purpose"),
        "the flaky plugin's crashes are logged with the reason:\n{}",
        node.log_text()
    );
    let took = node.terminate();
    assert!(took < Duration::from_secs(5), "SIGTERM took {took:?}");
}
