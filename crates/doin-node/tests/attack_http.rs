//! The HTTP server under attack, one test per attack, each against a real node process on
//! loopback that keeps minting a solo chain: slow request bodies, slowloris from one
//! address and from many, unread exports, and an inference flood that names a new client
//! id per request. In each, `/health` answers within two seconds during and after the
//! attack, the node stays under 200 MB resident, and blocks keep coming.
//!
//! The tests take turns (one node at a time), so that each measures its own node on the
//! machine's two cores.

mod common;
mod http_attacker;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{free_port, NodeProcess};
use http_attacker::*;
use serde_json::json;

/// Most resident memory a node may use during an attack.
const MAX_RSS_MB: f64 = 200.0;
/// How long a test waits for the next block.
const BLOCK_WAIT: Duration = Duration::from_secs(60);

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Starts a node with `http_limits` and waits for its first blocks.
fn node(dir: &std::path::Path, http_limits: serde_json::Value) -> NodeProcess {
    let config = write_config(dir, json!({"http_limits": http_limits}));
    let mut node = NodeProcess::start(dir, free_port(), &["--config", &config]);
    node.wait_status(Duration::from_secs(60), "the first blocks", |s| {
        s["chain_height"].as_i64().unwrap_or(0) >= 2
    });
    node
}

fn check(w: &Watched, what: &str) {
    assert!(
        w.health_calls > 0 && w.health_failures == 0,
        "{what}: /health failed or took over 2 s: {w}"
    );
    assert!(
        w.peak_rss_mb < MAX_RSS_MB,
        "{what}: the node reached {:.0} MB",
        w.peak_rss_mb
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

static BODY: [u8; 4 * 1024 * 1024 - 1] = [b' '; 4 * 1024 * 1024 - 1];

#[test]
fn uploads_that_declare_4_mb_and_stall_are_shed_or_cut_by_the_body_timeout() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("dir");
    let node = node(dir.path(), json!({"body_read_timeout": 2.0}));
    let (pid, port) = (node.child.id(), node.port);
    runtime().block_on(async {
        let watch = Watch::start(pid, port);
        let head = post_head("/message", BODY.len() + 1);
        // 200 uploads from 4 addresses (under the per-address cap), each sending all but
        // the last byte of a 4 MB body, then nothing.
        let uploads = (0..200u8).map(|i| {
            let head = head.clone();
            tokio::spawn(
                async move { stalled_request(loopback(2 + i % 4), port, &head, &BODY).await },
            )
        });
        let mut stalled = Vec::new();
        for u in uploads {
            stalled.extend(u.await.expect("upload task"));
        }
        health_within_budget(loopback(9), port, "while 200 uploads stall").await;
        // The node closes every one: past the 64 MiB of bodies it receives at once, shed
        // at once (503); the others cut by the body timeout.
        let mut shed = 0;
        for (i, s) in stalled.iter_mut().enumerate() {
            match answer_then_close(s, Duration::from_secs(15)).await {
                Ok(503) => shed += 1,
                Ok(_) => {}
                Err(e) => panic!("upload {i}: {e}"),
            }
        }
        // 16 fit in the budget; an upload that arrives after the body timeout freed room
        // is taken (and cut) in its turn, so most, not exactly 184, are shed.
        assert!(shed >= 150, "only {shed} of 200 uploads shed");
        let w = watch.finish().await;
        check(&w, "slow bodies");
        health_within_budget(loopback(9), port, "after the uploads").await;
        let h = height(port).await;
        keeps_minting(port, h, BLOCK_WAIT).await;
        eprintln!("slow bodies: {w}");
    });
}

/// The status code the node answered on `stream` (0 when it closed without answering),
/// once it has closed the connection; `Err` if it is still open after `timeout`.
async fn answer_then_close(
    stream: &mut tokio::net::TcpStream,
    timeout: Duration,
) -> Result<u16, String> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return Err(format!("still open after {timeout:?}")),
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) if head.len() < 12 => head.extend_from_slice(&buf[..n]),
            Ok(Ok(_)) => {}
        }
    }
    Ok(String::from_utf8_lossy(&head)
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0))
}

#[test]
fn slowloris_from_one_address_gets_its_share_of_connections_and_then_the_header_timeout() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("dir");
    let node = node(
        dir.path(),
        json!({"header_read_timeout": 3.0, "max_connections_per_address": 64}),
    );
    let (pid, port) = (node.child.id(), node.port);
    runtime().block_on(async {
        let watch = Watch::start(pid, port);
        let baseline_fds = open_fds(pid);
        let mut held = Vec::new();
        for _ in 0..300 {
            if let Ok(mut s) = connect_from(loopback(2), port, false).await {
                use tokio::io::AsyncWriteExt;
                let _ = s.write_all(b"GET /health HTTP/1.1\r\nHost: node\r\n").await;
                held.push(s);
            }
        }
        health_within_budget(loopback(3), port, "during slowloris").await;
        // Past the address's 64, connections are closed as they are accepted: they hold
        // no descriptor. The 64 go when the header timeout runs out.
        let fds = open_fds(pid);
        assert!(
            fds < baseline_fds + 64 + 16,
            "{fds} descriptors open (from {baseline_fds}) with 64 connections allowed"
        );
        for (i, s) in held.iter_mut().enumerate() {
            if let Err(e) = closed_within(s, Duration::from_secs(10)).await {
                panic!("connection {i} outlived the header timeout: {e}");
            }
        }
        let w = watch.finish().await;
        check(&w, "slowloris from one address");
        health_within_budget(loopback(2), port, "after slowloris").await;
        let h = height(port).await;
        keeps_minting(port, h, BLOCK_WAIT).await;
        eprintln!("slowloris, one address: {w}");
    });
}

#[test]
fn slowloris_from_many_addresses_is_held_under_the_connection_cap_and_new_clients_evict_it() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("dir");
    let max_connections = 150;
    let node = node(
        dir.path(),
        json!({"header_read_timeout": 4.0, "max_connections": max_connections}),
    );
    let (pid, port) = (node.child.id(), node.port);
    runtime().block_on(async {
        // The monitor's kept-alive connection is established before the attack.
        let watch = Watch::start(pid, port);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut held = Vec::new();
        for i in 0..300u32 {
            if let Ok(mut s) = connect_from(loopback(10 + (i % 10) as u8), port, false).await {
                // Half send part of a head, half send nothing at all.
                if i % 2 == 0 {
                    use tokio::io::AsyncWriteExt;
                    let _ = s.write_all(b"GET /health HTTP/1.1\r\nHost: node\r\n").await;
                }
                held.push(s);
            }
        }
        let fds = open_fds(pid);
        // The cap is full of connections that never sent a whole request: a new client
        // takes the place of one of them.
        health_within_budget(loopback(50), port, "with the connection cap full").await;
        for (i, s) in held.iter_mut().enumerate() {
            if let Err(e) = closed_within(s, Duration::from_secs(12)).await {
                panic!("connection {i} outlived the header timeout: {e}");
            }
        }
        let w = watch.finish().await;
        check(&w, "slowloris from many addresses");
        assert!(
            w.peak_fds < max_connections + 100,
            "{} descriptors open with {max_connections} connections allowed ({fds} after the attack opened)",
            w.peak_fds
        );
        health_within_budget(loopback(10), port, "after slowloris").await;
        let h = height(port).await;
        keeps_minting(port, h, BLOCK_WAIT).await;
        eprintln!("slowloris, many addresses: {w}");
    });
}

/// A `padding` table of `mb` MB in `<dir>/olap.db` before the node opens it: an export
/// larger than the socket buffers, so that a client that does not read it stalls it.
fn padded_olap(dir: &std::path::Path, mb: usize) {
    std::fs::create_dir_all(dir).expect("dir");
    let db = rusqlite::Connection::open(dir.join("olap.db")).expect("olap");
    db.execute_batch(&format!(
        "CREATE TABLE padding (b BLOB); INSERT INTO padding VALUES (zeroblob({}));",
        mb * 1024 * 1024
    ))
    .expect("padding");
}

#[test]
fn exports_beyond_two_are_refused_and_unread_ones_are_cut_by_the_write_stall_timeout() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("dir");
    padded_olap(dir.path(), 48);
    let node = node(dir.path(), json!({"write_stall_timeout": 3.0}));
    let (pid, port) = (node.child.id(), node.port);
    runtime().block_on(async {
        let watch = Watch::start(pid, port);
        let head = "GET /stats/export HTTP/1.1\r\nHost: node\r\n\r\n";
        let requests = (0..20u8).map(|i| {
            tokio::spawn(async move {
                let mut s = connect_from(loopback(2 + i % 4), port, true)
                    .await
                    .expect("connect");
                let code = status_only(&mut s, head).await;
                (s, code)
            })
        });
        let mut sent = Vec::new();
        for r in requests {
            sent.push(r.await.expect("export task"));
        }
        let codes: Vec<u16> = sent
            .iter()
            .map(|(_, c)| c.clone().expect("an answer"))
            .collect();
        assert_eq!(
            codes.iter().filter(|c| **c == 200).count(),
            2,
            "two exports at a time: {codes:?}"
        );
        assert_eq!(codes.iter().filter(|c| **c == 503).count(), 18, "{codes:?}");
        health_within_budget(loopback(9), port, "while two exports stall").await;
        // The two unread downloads are cut by the write-stall timeout, which frees their
        // slots: an export asked for meanwhile is refused until then, and a reader then
        // gets a whole one.
        let full = 48 * 1024 * 1024;
        let reader = reqwest::Client::builder()
            .local_address(loopback(9))
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let started = std::time::Instant::now();
        let bytes = loop {
            let export = reader
                .get(format!("http://127.0.0.1:{port}/stats/export"))
                .send()
                .await
                .expect("export");
            match export.status().as_u16() {
                200 => break export.bytes().await.expect("body"),
                503 => {
                    let answer: serde_json::Value = export.json().await.expect("JSON error");
                    assert!(answer["detail"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("exports"));
                    assert!(
                        started.elapsed() < Duration::from_secs(30),
                        "the unread exports kept their slots"
                    );
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                other => panic!("export: {other}"),
            }
        };
        assert!(bytes.len() > full && bytes.starts_with(b"SQLite format 3\0"));
        for (s, code) in &mut sent {
            if *code == Ok(200) {
                let got = closed_within(s, Duration::from_secs(30))
                    .await
                    .expect("cut");
                assert!(got < full, "an unread export was sent whole ({got} bytes)");
            }
        }
        let w = watch.finish().await;
        check(&w, "unread exports");
        health_within_budget(loopback(9), port, "after the exports").await;
        let h = height(port).await;
        keeps_minting(port, h, BLOCK_WAIT).await;
        eprintln!("unread exports: {w}");
    });
}

#[test]
fn inference_with_a_new_client_id_per_request_is_limited_by_address_and_others_are_served() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("dir");
    let mut node = node(dir.path(), json!({}));
    node.wait_status(Duration::from_secs(60), "a model on chain", |s| {
        s["domains"]["quadratic"]["chain_best_performance"].is_number()
    });
    let (pid, port) = (node.child.id(), node.port);
    runtime().block_on(async {
        let watch = Watch::start(pid, port);
        let flood = reqwest::Client::builder()
            .local_address(loopback(2))
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        let (mut accepted, mut limited) = (0, 0);
        let flood_started = Instant::now();
        for i in 0..500 {
            let r = flood
                .post(format!("http://127.0.0.1:{port}/inference"))
                .json(&json!({"domain_id": "quadratic", "client_id": format!("fresh-{i}")}))
                .send()
                .await
                .expect("POST /inference");
            match r.status().as_u16() {
                200 => accepted += 1,
                429 => limited += 1,
                other => panic!("request {i}: {other}"),
            }
        }
        // The bucket holds RATE_LIMIT requests and refills one every RATE_WINDOW /
        // RATE_LIMIT: on a loaded machine the flood lasts long enough for a refill or two.
        let refill = doin_node::inference::RATE_WINDOW / doin_node::inference::RATE_LIMIT;
        let refilled = (flood_started.elapsed().as_secs_f64() / refill.as_secs_f64()).ceil();
        assert!(
            f64::from(accepted) <= f64::from(doin_node::inference::RATE_LIMIT) + refilled,
            "{accepted} accepted in {:?}",
            flood_started.elapsed()
        );
        assert_eq!(accepted + limited, 500);
        let honest = reqwest::Client::builder()
            .local_address(loopback(3))
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        let r = honest
            .post(format!("http://127.0.0.1:{port}/inference"))
            .json(&json!({"domain_id": "quadratic", "client_id": "honest"}))
            .send()
            .await
            .expect("POST /inference");
        assert_eq!(
            r.status().as_u16(),
            200,
            "a client on another address is served"
        );
        let w = watch.finish().await;
        check(&w, "inference flood");
        health_within_budget(loopback(9), port, "after the flood").await;
        let h = height(port).await;
        keeps_minting(port, h, BLOCK_WAIT).await;
        eprintln!("inference flood: {accepted} accepted, {limited} limited; {w}");
    });
    let log = doin_node::inference::InferenceLog::open(&dir.path().join("inference.db"))
        .expect("inference log");
    let rows: i64 = log
        .conn()
        .query_row("SELECT COUNT(*) FROM inference_requests", [], |r| r.get(0))
        .expect("count");
    assert!(
        rows <= i64::from(doin_node::inference::RATE_LIMIT) + 1,
        "{rows} requests recorded"
    );
}
