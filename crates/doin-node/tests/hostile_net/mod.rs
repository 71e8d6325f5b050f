//! What the hostile-internet tests share: clients that leave from a chosen loopback
//! address (127.0.N.1 is its own /24, so each attack has an address range of its own), a
//! `/health` probe that records its worst latency, the process's memory, the node's
//! `/peers` rows, and sealed messages from throwaway keys.
#![allow(dead_code, unreachable_pub)]

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use doin_primitives::identity::Identity;
use doin_primitives::models::payload::{ChainStatus, Payload};
use doin_primitives::models::Message;
use doin_primitives::value::{Map, Value};
use doin_primitives::Timestamp;

/// An HTTP client whose requests leave from `ip`.
pub fn client_from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from(ip))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// Posts a `/message` body; returns the status (0 when the request failed).
pub async fn post_message(client: &reqwest::Client, endpoint: &str, body: String) -> u16 {
    client
        .post(format!("http://{endpoint}/message"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

/// The node's `/peers` answer.
pub async fn peers_json(endpoint: &str) -> serde_json::Value {
    reqwest::get(format!("http://{endpoint}/peers"))
        .await
        .expect("peers")
        .json()
        .await
        .expect("json")
}

/// The `/peers` row of `peer_id`, if listed.
pub fn peer_row(peers: &serde_json::Value, peer_id: &str) -> Option<serde_json::Value> {
    peers["peers"]
        .as_array()?
        .iter()
        .find(|p| p["peer_id"] == peer_id)
        .cloned()
}

/// The `/peers` address row of `ip`: its score and whether it is banned.
pub fn address_row(peers: &serde_json::Value, ip: &str) -> Option<(f64, bool)> {
    peers["addresses"]
        .as_array()?
        .iter()
        .find(|a| a["address"] == ip)
        .map(|a| {
            (
                a["score"].as_f64().unwrap_or(0.0),
                a["banned"].as_bool().unwrap_or(false),
            )
        })
}

/// Polls `check` every 50 ms until it holds, or panics after `timeout`.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A `chain_status` message sealed by `key`, carrying `extra` (DOIN's gossip envelope).
pub fn sealed_status(key: &Identity, extra: Map) -> Message {
    let payload = Payload::ChainStatus(ChainStatus {
        chain_height: 1,
        tip_hash: "0".repeat(64),
        tip_index: 0,
        finalized_height: 0,
        extra,
    });
    let mut m = Message::new(key.peer_id(), Timestamp::now_utc(), &payload);
    m.sign(key);
    m
}

/// Sets the relay fields a hop writes (outside the seal): who forwarded it, and its port.
pub fn as_relayed_by(m: &mut Message, forwarder: &str, port: u16) {
    m.payload
        .insert("_forwarder_id".into(), Value::from(forwarder.to_owned()));
    m.payload
        .insert("_sender_port".into(), Value::from(i64::from(port)));
}

/// This process's resident memory and its peak so far, in MiB (Linux `/proc`).
pub fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kib| kib.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Probes `/health` every 50 ms from 127.0.0.1 until stopped; every probe must succeed.
pub struct HealthProbe {
    done: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<(Duration, u32)>,
}

impl HealthProbe {
    /// Starts probing `endpoint`.
    pub fn start(endpoint: &str) -> HealthProbe {
        let done = Arc::new(AtomicBool::new(false));
        let (ep, stop) = (endpoint.to_owned(), done.clone());
        let task = tokio::spawn(async move {
            let client = client_from([127, 0, 0, 1]);
            let (mut worst, mut probes) = (Duration::ZERO, 0u32);
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let ok = client
                    .get(format!("http://{ep}/health"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                assert!(ok, "/health failed under attack");
                worst = worst.max(t.elapsed());
                probes += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (worst, probes)
        });
        HealthProbe { done, task }
    }

    /// Stops probing; returns the worst latency seen and the number of probes.
    pub async fn finish(self) -> (Duration, u32) {
        self.done.store(true, Ordering::Relaxed);
        self.task.await.expect("health probe")
    }
}
