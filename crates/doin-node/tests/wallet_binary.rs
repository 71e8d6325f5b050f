//! The wallet as a user runs it: a real `doin-node` mints on a solo chain, then
//! `doin-node wallet transfer` signs with the node's key and submits to its API, the
//! transfer lands in a block, and `doin-node wallet balance` shows the recipient paid.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{free_port, NodeProcess};
use doin_node::config::NodeConfig;

fn wallet(data_dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_doin-node"))
        .arg("--data-dir")
        .arg(data_dir)
        .arg("wallet")
        .args(args)
        .output()
        .expect("run the wallet");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn wallet_transfer_reaches_the_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    // The embedded defaults, without a target so that blocks keep coming.
    let mut config = NodeConfig::embedded_default();
    config.target_block_time = 1.0;
    for d in &mut config.domains {
        d.target_performance = None;
    }
    let config_path = dir.path().join("node.json");
    std::fs::write(
        &config_path,
        serde_json::to_string(&config).expect("config JSON"),
    )
    .expect("config");
    let mut node = NodeProcess::start(
        &data,
        free_port(),
        &["--config", config_path.to_str().expect("utf8")],
    );
    node.wait_status(Duration::from_secs(60), "a balance of 2 DOIN", |s| {
        s["coin"]["my_balance_units"].as_u64() > Some(200_000_000)
    });
    let api = node.url("");

    let (ok, me, err) = wallet(&data, &["address"]);
    assert!(ok, "{err}");
    let me = me.trim().to_owned();
    assert_eq!(me.len(), 40);
    let to = "ab".repeat(20);

    // Refused with the node's reason: more than the key holds.
    let (ok, _, err) = wallet(
        &data,
        &[
            "transfer", "--to", &to, "--amount", "1000000", "--node", &api,
        ],
    );
    assert!(!ok && err.contains("insufficient balance"), "{err}");

    let (ok, out, err) = wallet(
        &data,
        &["transfer", "--to", &to, "--amount", "1.5", "--node", &api],
    );
    assert!(ok, "{err}");
    let accepted: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
    assert_eq!(accepted["status"], "accepted");

    let start = Instant::now();
    loop {
        let (ok, out, err) = wallet(&data, &["balance", &to, "--node", &api]);
        assert!(ok, "{err}");
        let b: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
        if b["balance_units"] == 150_000_000 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the transfer never reached the chain: {b}\n{}",
            node.log_text()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let (ok, out, _) = wallet(&data, &["balance", "--node", &api]);
    assert!(ok);
    let mine: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
    assert_eq!(mine["address"], me);
    assert_eq!(mine["nonce"], 1);
    assert_eq!(mine["next_nonce"], 2);
    node.terminate();
}
