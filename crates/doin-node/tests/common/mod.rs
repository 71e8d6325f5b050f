//! Starts the real `doin-node` binary as a user would and talks to it over HTTP.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use doin_primitives::models::{Block, WireModel};

/// A running node process, stopped (SIGKILL) when dropped.
pub struct NodeProcess {
    pub child: Child,
    pub port: u16,
    pub data_dir: PathBuf,
    pub log: PathBuf,
}

/// A free loopback port outside the ephemeral range (see `doin_node::testnet::ports`).
pub use doin_node::testnet::ports::free_port;

impl NodeProcess {
    /// Starts `doin-node` with `args` plus `--port` and `--data-dir`.
    pub fn start(data_dir: &Path, port: u16, args: &[&str]) -> NodeProcess {
        std::fs::create_dir_all(data_dir).expect("data dir");
        let log = data_dir.join(format!("node-{}.log", Instant::now().elapsed().as_nanos()));
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.join("node.log"))
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_doin-node"))
            .args(args)
            .arg("--port")
            .arg(port.to_string())
            .arg("--data-dir")
            .arg(data_dir)
            .stdout(Stdio::from(log_file.try_clone().expect("clone")))
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect("spawn doin-node");
        let _ = log;
        NodeProcess {
            child,
            port,
            data_dir: data_dir.to_path_buf(),
            log: data_dir.join("node.log"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// GET a body as text; `None` while the node does not answer.
    pub fn get_text(&self, path: &str) -> Option<String> {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .ok()?;
        client.get(self.url(path)).send().ok()?.text().ok()
    }

    /// GET a JSON document (for status fields; blocks go through [`Self::all_blocks`],
    /// which keeps floats and ints exactly as sent).
    pub fn get(&self, path: &str) -> Option<serde_json::Value> {
        serde_json::from_str(&self.get_text(path)?).ok()
    }

    /// Waits until `pred` holds on `/status`, or panics after `timeout` with the log.
    pub fn wait_status(
        &mut self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let start = Instant::now();
        loop {
            if let Some(s) = self.get("/status") {
                if pred(&s) {
                    return s;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "node exited ({status}) before {what}; log:\n{}",
                    self.log_text()
                );
            }
            if start.elapsed() > timeout {
                panic!(
                    "timed out after {timeout:?} waiting for {what}; last status {:?}; log:\n{}",
                    self.get("/status"),
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn wait_ready(&mut self) {
        self.wait_status(Duration::from_secs(30), "the API", |_| true);
    }

    pub fn log_text(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(60).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// Every stored block, through `/chain/blocks` in pages of 50.
    pub fn all_blocks(&self) -> Vec<Block> {
        let mut out = Vec::new();
        loop {
            let from = out.len();
            let text = self
                .get_text(&format!("/chain/blocks?from={from}&to={}", from + 49))
                .expect("chain/blocks answers");
            let page = doin_primitives::json::parse(&text).expect("page parses");
            let page = page.as_object().expect("page object");
            let blocks = page["blocks"].as_array().expect("blocks array");
            for b in blocks {
                out.push(Block::from_value(b).expect("block parses"));
            }
            let has_more = matches!(
                page.get("has_more"),
                Some(doin_primitives::Value::Bool(true))
            );
            if !has_more || blocks.is_empty() {
                break;
            }
        }
        out
    }

    /// SIGTERM, then wait; returns how long the node took to exit. A node stops cleanly:
    /// exit code 0, its shutdown logged to the end ("stopped"), and no panic.
    pub fn terminate(&mut self) -> Duration {
        let start = Instant::now();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let took = start.elapsed();
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                assert!(
                    status.success() && log.contains("stopped") && !log.contains("panicked"),
                    "SIGTERM: {status}, log:\n{}",
                    self.log_text()
                );
                return took;
            }
            if start.elapsed() > Duration::from_secs(20) {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return start.elapsed();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}
