//! A plugin package written the way the reference's are, unchanged, on a network of two
//! nodes: its three classes load by entry-point name (`python:simple_quadratic` in the
//! reference's `doin.*` groups), its optimizer seeds NumPy from `config["seed"]` (which
//! NumPy refuses past 2**32 - 1, so the node's 64-bit seeds must be folded), its
//! synthetic data comes from `numpy.random.default_rng(seed)`, and the domain names the
//! interpreter and `PYTHONPATH` once, though the synthetic-data and inference plugins have
//! configs of their own. Each node's optimae are verified by the other and land in blocks.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use doin_consensus::accepted::AcceptedOptimae;
use doin_node::config::NodeConfig;
use doin_node::testnet::{runtime, TestNet};
use doin_primitives::models::{Block, TransactionType};

const DOMAIN: &str = "quadratic-numpy";
const ENTRY_POINT: &str = "python:simple_quadratic";

fn has_numpy() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import numpy"])
        .status()
        .is_ok_and(|s| s.success())
}

/// The SDK and the "installed" package (its `.dist-info` registers the entry points).
fn python_path() -> String {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dirs: [PathBuf; 2] = [
        manifest.join("../../python/doin-plugin-sdk/src"),
        manifest.join("tests/fixtures/reference_style"),
    ];
    std::env::join_paths(dirs)
        .expect("paths")
        .to_string_lossy()
        .into_owned()
}

fn object(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn template() -> NodeConfig {
    let mut c = NodeConfig::embedded_default();
    c.quorum_min_evaluators = 1;
    c.quorum_tolerance = 0.1;
    c.eval_poll_interval = 0.5;
    c.initial_threshold = 0.001;
    c.target_block_time = 1.0;
    let target = serde_json::json!([1.0, -2.0, 3.0, -4.0, 5.0]);
    let mut d = c.domains[0].clone();
    d.domain_id = DOMAIN.into();
    d.optimize = true;
    d.evaluate = true;
    d.optimization_plugin = ENTRY_POINT.into();
    d.inference_plugin = ENTRY_POINT.into();
    d.synthetic_data_plugin = ENTRY_POINT.into();
    d.has_synthetic_data = true;
    // Once for all three plugins.
    d.plugin_command = Some(serde_json::json!("python3"));
    d.plugin_env = object(serde_json::json!({ "PYTHONPATH": python_path() }));
    d.optimization_config = object(serde_json::json!({
        "target": target, "step_size": 0.3, "round_interval_seconds": 0.2,
        "plugin_timeout_seconds": 30
    }));
    d.synthetic_data_config = object(serde_json::json!({ "target": target, "noise_std": 0.01 }));
    d.inference_config = object(serde_json::json!({ "target": target }));
    d.param_bounds = [("x".to_owned(), (-20.0, 20.0))].into();
    d.target_performance = None;
    c.domains = vec![d];
    c
}

fn blocks(net: &TestNet, i: usize) -> Vec<Block> {
    let reader = doin_store::ChainReader::open(&net.data_dir(i).join("chain.db")).expect("store");
    let height = reader.height().expect("height");
    (1..=height)
        .filter_map(|h| reader.block(h).expect("block"))
        .collect()
}

fn optimae(blocks: &[Block]) -> Vec<AcceptedOptimae> {
    blocks
        .iter()
        .flat_map(|b| &b.transactions)
        .filter(|tx| tx.tx_type == TransactionType::OptimaeAccepted)
        .map(|tx| AcceptedOptimae::from_tx(tx).expect("accepted optimae"))
        .collect()
}

#[test]
fn a_reference_style_numpy_package_mints_blocks_on_two_nodes() {
    if !has_numpy() {
        eprintln!("numpy is not installed; skipped (.ci/run installs it)");
        return;
    }
    let rt = runtime();
    let net = rt
        .block_on(TestNet::start(2, &template()))
        .expect("network");
    let ids: Vec<String> = (0..2).map(|i| net.node(i).peer_id.clone()).collect();
    let started = Instant::now();
    let chain = loop {
        let chain = blocks(&net, 0);
        let accepted = optimae(&chain);
        // Both optimizers ran (each seeded NumPy with its own folded seed) and each was
        // verified by the other node's synthetic data.
        if ids
            .iter()
            .all(|id| accepted.iter().any(|a| &a.optimizer_id == id))
        {
            break chain;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "not there after 90 s: {} blocks, optimae by {:?}",
            chain.len(),
            accepted
                .iter()
                .map(|a| &a.optimizer_id[..6])
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    rt.block_on(net.shutdown());

    for a in optimae(&chain) {
        assert_eq!(a.domain_id, DOMAIN);
        assert!(
            a.votes.iter().any(|v| v.evaluator_id != a.optimizer_id),
            "verified by the other node: {a:?}"
        );
        assert!(a.reported_performance < 0.0 && a.verified_performance < 0.0);
        assert!(a.parameters["x"].as_array().is_some_and(|x| x.len() == 5));
    }
}
