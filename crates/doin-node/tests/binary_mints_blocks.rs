//! The real `doin-node` binary, started as a user would: on its embedded defaults it mints
//! blocks that are valid when re-read through the API; with the reference's single-node
//! example config it reaches the domain's target and stops; SIGTERM stops it quickly.

mod common;

use std::time::Duration;

use common::{free_port, NodeProcess};
use doin_consensus::state::ChainState;
use doin_node::chain_params::chain_params;
use doin_node::config::NodeConfig;

/// Replays blocks through full validation from genesis.
fn replay(
    params: doin_consensus::params::ChainParams,
    blocks: &[doin_primitives::models::Block],
) -> ChainState {
    assert_eq!(blocks[0].hash, doin_primitives::models::GENESIS_HASH);
    let mut state = ChainState::new(params);
    for b in &blocks[1..] {
        state
            .apply_block(b)
            .unwrap_or_else(|e| panic!("block {} invalid: {e}", b.header.index));
    }
    state
}

#[test]
fn default_config_mints_valid_blocks_within_90_s() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut node = NodeProcess::start(dir.path(), free_port(), &[]);
    let status = node.wait_status(Duration::from_secs(90), "height >= 3", |s| {
        s["chain_height"].as_i64().unwrap_or(0) >= 4
    });
    assert_eq!(
        status["chain"]["solo"], true,
        "the default chain is solo: {status}"
    );
    let blocks = node.all_blocks();
    assert!(blocks.len() >= 4);
    let params = chain_params(&NodeConfig::embedded_default());
    let state = replay(params, &blocks);
    // Rewards: every coinbase pays exactly the block reward, split 65/30/5 by role.
    let (mut minted, mut paid) = (0u64, 0u64);
    for b in &blocks[1..] {
        let cb = &b.extensions["coinbase"];
        let reward = cb
            .as_object()
            .and_then(|m| m.get("block_reward"))
            .and_then(|v| v.as_i64())
            .expect("block_reward") as u64;
        minted += reward;
        let mut by_role = std::collections::BTreeMap::<String, u64>::new();
        for o in cb
            .as_object()
            .and_then(|m| m.get("outputs"))
            .and_then(|v| v.as_array())
            .expect("outputs")
        {
            let o = o.as_object().expect("output object");
            let amount = o["amount"].as_i64().expect("amount") as u64;
            *by_role
                .entry(o["role"].as_str().expect("role").to_owned())
                .or_default() += amount;
            paid += amount;
        }
        assert_eq!(
            by_role.get("generator").copied().unwrap_or(0),
            reward * 5 / 100
        );
        assert_eq!(
            by_role.get("optimizer").copied().unwrap_or(0),
            reward * 65 / 100
        );
        assert_eq!(
            by_role.get("evaluator").copied().unwrap_or(0),
            reward * 30 / 100
        );
    }
    assert_eq!(minted, paid);
    assert_eq!(state.total_minted(), minted);
    let took = node.terminate();
    assert!(took < Duration::from_secs(5), "SIGTERM took {took:?}");
}

#[test]
fn reference_single_node_config_reaches_target_and_stops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/reference/configs/quadratic_single_node.json"
    );
    let mut node = NodeProcess::start(dir.path(), free_port(), &["--config", config]);
    let status = node.wait_status(Duration::from_secs(120), "convergence", |s| {
        s["domains"]["quadratic"]["converged"] == true
    });
    let best = status["domains"]["quadratic"]["chain_best_performance"]
        .as_f64()
        .expect("chain best");
    assert!(best >= -100.0, "best {best}");
    assert!(
        status["chain_height"].as_i64().unwrap_or(0) >= 3,
        "{status}"
    );
    let blocks = node.all_blocks();
    let mut cfg = NodeConfig::load(std::path::Path::new(config))
        .expect("config")
        .config;
    cfg.port = node.port;
    replay(chain_params(&cfg), &blocks);
    let took = node.terminate();
    assert!(took < Duration::from_secs(5), "SIGTERM took {took:?}");
}
