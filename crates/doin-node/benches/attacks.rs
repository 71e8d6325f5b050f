//! The HTTP server under the attacks of issue 16, against the release binary on loopback:
//! for each, the node's peak resident memory and `/health` latency, beside the idle
//! figures. Run with `cargo bench -p doin-node --bench attacks` (or
//! `scripts/bench-attacks.sh`).
//!
//! * slow bodies — 200 uploads declaring 4 MB, all but the last byte sent, then stalled;
//! * slowloris — 1,100 connections sending half a request head, the node started under
//!   `ulimit -n 1024`;
//! * unread exports — 100 `/stats/export` requests whose answers are never read (a 16 MB
//!   OLAP database);
//! * inference flood — 5,000 `/inference` requests from one address, each naming a new
//!   client id, then one from another address.

#[path = "../tests/http_attacker/mod.rs"]
mod http_attacker;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use doin_node::testnet::ports::free_port;
use futures_util::StreamExt;
use http_attacker::*;
use serde_json::json;
use tokio::io::AsyncWriteExt;

/// The node under test: a child process, killed when dropped.
struct Node {
    child: Child,
    port: u16,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the release node in `dir` under `ulimit -n fd_limit`, and waits for blocks.
async fn start(dir: &Path, overrides: serde_json::Value, fd_limit: u32) -> Node {
    let config = write_config(dir, overrides);
    let port = free_port();
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {fd_limit} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_doin-node"))
        .args([
            "--config",
            &config,
            "--port",
            &port.to_string(),
            "--data-dir",
        ])
        .arg(dir)
        .args(["--log-level", "WARNING"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn doin-node");
    let node = Node { child, port };
    let started = Instant::now();
    while height(port).await < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the node did not mint"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    node
}

fn row(what: &str, w: &Watched, extra: &str) {
    println!("{what:<38} {w}   {extra}");
}

async fn idle(dir: &Path) {
    let node = start(dir, json!({}), 1024).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let watch = Watch::start(node.child.id(), node.port);
    tokio::time::sleep(Duration::from_secs(5)).await;
    row("idle", &watch.finish().await, "");
}

static BODY: [u8; 4 * 1024 * 1024 - 1] = [b' '; 4 * 1024 * 1024 - 1];

async fn slow_bodies(dir: &Path) {
    let node = start(dir, json!({}), 1024).await;
    let port = node.port;
    let watch = Watch::start(node.child.id(), port);
    let head = post_head("/message", BODY.len() + 1);
    let uploads: Vec<_> = (0..200u8)
        .map(|i| {
            let head = head.clone();
            tokio::spawn(
                async move { stalled_request(loopback(2 + i % 4), port, &head, &BODY).await },
            )
        })
        .collect();
    let mut stalled = Vec::new();
    for u in uploads {
        stalled.extend(u.await.expect("upload"));
    }
    let mut open = 0;
    for s in &mut stalled {
        if closed_within(s, Duration::from_secs(30)).await.is_err() {
            open += 1;
        }
    }
    let w = watch.finish().await;
    row(
        "slow bodies (200 x 4 MB, stalled)",
        &w,
        &format!("{open} uploads still open after 30 s"),
    );
}

async fn slowloris(dir: &Path) {
    let node = start(dir, json!({}), 1024).await;
    let port = node.port;
    let watch = Watch::start(node.child.id(), port);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut held = Vec::new();
    for i in 0..1100u32 {
        if let Ok(mut s) = connect_from(loopback(20 + (i % 11) as u8), port, false).await {
            let _ = s.write_all(b"GET /health HTTP/1.1\r\nHost: node\r\n").await;
            held.push(s);
        }
    }
    // Fresh connections during the attack, as a new client or peer makes them.
    let mut fresh_ok = 0;
    let mut fresh_worst = Duration::ZERO;
    for _ in 0..10 {
        if let Ok((200, took)) = fresh_get(loopback(99), port, "/health").await {
            fresh_ok += 1;
            fresh_worst = fresh_worst.max(took);
        }
    }
    for s in &mut held {
        let _ = closed_within(s, Duration::from_secs(30)).await;
    }
    let w = watch.finish().await;
    let after = fresh_get(loopback(99), port, "/health").await;
    row(
        "slowloris (1,100 conns, ulimit 1024)",
        &w,
        &format!(
            "fresh /health during: {fresh_ok}/10 (worst {:.1} ms); after: {after:?}",
            fresh_worst.as_secs_f64() * 1e3
        ),
    );
}

async fn unread_exports(dir: &Path) {
    std::fs::create_dir_all(dir).expect("dir");
    let db = rusqlite::Connection::open(dir.join("olap.db")).expect("olap");
    db.execute_batch(
        "CREATE TABLE padding (b BLOB); INSERT INTO padding VALUES (zeroblob(16777216));",
    )
    .expect("padding");
    drop(db);
    let node = start(dir, json!({}), 1024).await;
    let port = node.port;
    let watch = Watch::start(node.child.id(), port);
    let head = "GET /stats/export HTTP/1.1\r\nHost: node\r\n\r\n";
    let requests: Vec<_> = (0..100u8)
        .map(|i| {
            tokio::spawn(async move {
                let mut s = connect_from(loopback(2 + i % 4), port, true).await.ok()?;
                let code = status_only(&mut s, head).await.ok()?;
                Some((s, code))
            })
        })
        .collect();
    let mut sent = Vec::new();
    for r in requests {
        sent.extend(r.await.expect("export"));
    }
    let served = sent.iter().filter(|(_, c)| *c == 200).count();
    let refused = sent.iter().filter(|(_, c)| *c == 503).count();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let w = watch.finish().await;
    row(
        "unread exports (100, 16 MB OLAP)",
        &w,
        &format!("{served} served, {refused} refused (503)"),
    );
}

async fn inference_flood(dir: &Path) {
    let node = start(dir, json!({}), 1024).await;
    let port = node.port;
    let started = Instant::now();
    loop {
        let (_, s) = (
            0,
            reqwest::get(format!("http://127.0.0.1:{port}/status")).await,
        );
        let ready = match s {
            Ok(r) => r
                .json::<serde_json::Value>()
                .await
                .is_ok_and(|v| v["domains"]["quadratic"]["chain_best_performance"].is_number()),
            Err(_) => false,
        };
        if ready {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no model on chain"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let watch = Watch::start(node.child.id(), port);
    let flood = reqwest::Client::builder()
        .local_address(loopback(2))
        .build()
        .expect("client");
    let started = Instant::now();
    let codes = futures_util::stream::iter(0..5000)
        .map(|i| {
            let flood = flood.clone();
            async move {
                flood
                    .post(format!("http://127.0.0.1:{port}/inference"))
                    .json(&json!({"domain_id": "quadratic", "client_id": format!("fresh-{i}")}))
                    .send()
                    .await
                    .map_or(0, |r| r.status().as_u16())
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<u16>>()
        .await;
    let took = started.elapsed();
    let honest = reqwest::Client::builder()
        .local_address(loopback(3))
        .build()
        .expect("client")
        .post(format!("http://127.0.0.1:{port}/inference"))
        .json(&json!({"domain_id": "quadratic", "client_id": "honest"}))
        .send()
        .await
        .map_or(0, |r| r.status().as_u16());
    let w = watch.finish().await;
    let accepted = codes.iter().filter(|c| **c == 200).count();
    let limited = codes.iter().filter(|c| **c == 429).count();
    row(
        "inference flood (5,000 new ids)",
        &w,
        &format!(
            "{accepted} accepted, {limited} limited in {:.1} s; another address: HTTP {honest}",
            took.as_secs_f64()
        ),
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("dir");
        idle(&dir.path().join("idle")).await;
        slow_bodies(&dir.path().join("bodies")).await;
        slowloris(&dir.path().join("slowloris")).await;
        unread_exports(&dir.path().join("exports")).await;
        inference_flood(&dir.path().join("inference")).await;
    });
}
