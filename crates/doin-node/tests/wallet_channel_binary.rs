//! Payment channels from the command line, as a user runs them against a real
//! `doin-node` minting on a solo chain: `wallet channel open` locks a deposit, `update`
//! signs an off-chain payment without any node, `close` submits it, `settle` pays it out
//! after the dispute period (chain time), and `show` reads the channel at each step.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{free_port, NodeProcess};
use doin_node::config::NodeConfig;
use serde_json::Value;

fn wallet(data_dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_doin-node"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(["wallet", "channel"])
        .args(args)
        .output()
        .expect("run the wallet");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(text: &str) -> Value {
    serde_json::from_str(text.trim()).expect("JSON")
}

/// Runs `show` until the channel satisfies `pred`.
fn wait_show(data: &std::path::Path, api: &str, id: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let (ok, out, _) = wallet(data, &["show", id, "--node", api]);
        if ok {
            let c = json(&out);
            if pred(&c) {
                return c;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "channel {id} never reached the expected state"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn wallet_opens_pays_closes_and_settles_a_channel() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
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
    let to = "ab".repeat(20);

    let (ok, _, err) = wallet(
        &data,
        &["open", "--to", &to, "--deposit", "1000000", "--node", &api],
    );
    assert!(!ok && err.contains("insufficient balance"), "{err}");
    let (ok, out, err) = wallet(
        &data,
        &[
            "open",
            "--to",
            &to,
            "--deposit",
            "1",
            "--dispute-period",
            "1",
            "--node",
            &api,
        ],
    );
    assert!(ok, "{err}");
    let id = json(&out)["channel_id"].as_str().expect("id").to_owned();
    wait_show(&data, &api, &id, |c| c["state"] == "open");

    // Offline: no --node, the update is signed with the key alone.
    let (ok, update, err) = wallet(
        &data,
        &[
            "update",
            "--channel",
            &id,
            "--nonce",
            "2",
            "--paid",
            "0.25",
            "--deposit",
            "1",
        ],
    );
    assert!(ok, "{err}");
    let file = dir.path().join("update.json");
    std::fs::write(&file, update.trim()).expect("update file");
    let at_file = format!("@{}", file.display());
    let (ok, _, err) = wallet(
        &data,
        &[
            "close",
            "--channel",
            &id,
            "--update",
            &at_file,
            "--node",
            &api,
        ],
    );
    assert!(ok, "{err}");
    wait_show(&data, &api, &id, |c| c["state"] == "closing");
    let (ok, _, err) = wallet(&data, &["close", "--channel", &id, "--node", &api]);
    assert!(!ok && err.contains("is closing"), "{err}");

    // Settle once the dispute period has passed in chain time (retried while it runs).
    let start = Instant::now();
    loop {
        let (ok, _, err) = wallet(&data, &["settle", "--channel", &id, "--node", &api]);
        if ok {
            break;
        }
        assert!(err.contains("dispute period runs until"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(30), "{err}");
        std::thread::sleep(Duration::from_millis(300));
    }
    let c = wait_show(&data, &api, &id, |c| c["state"] == "closed");
    assert_eq!(c["receiver_balance_units"], 25_000_000);
    assert_eq!(c["nonce"], 2);
    let b: Value = reqwest::blocking::get(format!("{api}/balance/{to}"))
        .expect("balance")
        .json()
        .expect("JSON");
    assert_eq!(b["balance_units"], 25_000_000);
    node.terminate();
}
