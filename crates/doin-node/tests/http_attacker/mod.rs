//! A hostile HTTP client on loopback, and the watch kept on the node it attacks: the
//! node's resident memory and descriptors (read from `/proc`), `/health` answered within
//! two seconds, blocks still minted. Used by `attack_http.rs` and the `attacks` benchmark.

#![allow(dead_code, unreachable_pub)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// How long `/health` may take, during an attack and after it.
pub const HEALTH_BUDGET: Duration = Duration::from_secs(2);

/// `127.0.0.n`: loopback has the whole /8, so each attacker can have addresses of its own.
pub fn loopback(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

/// The embedded default config (a solo chain minting the quadratic domain) with 1 s blocks
/// and `overrides` merged in at the top level, written to `<dir>/config.json`.
pub fn write_config(dir: &Path, overrides: serde_json::Value) -> String {
    let mut config: serde_json::Value =
        serde_json::from_str(include_str!("../../src/default_config.json")).expect("defaults");
    config["target_block_time"] = serde_json::json!(1.0);
    config["initial_threshold"] = serde_json::json!(0.001);
    config["domains"][0]["target_performance"] = serde_json::Value::Null;
    if let serde_json::Value::Object(o) = overrides {
        for (k, v) in o {
            config[k] = v;
        }
    }
    std::fs::create_dir_all(dir).expect("data dir");
    let path = dir.join("config.json");
    std::fs::write(&path, config.to_string()).expect("config");
    path.display().to_string()
}

/// A process's resident memory in MB, from `/proc/<pid>/status`.
pub fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A process's open file descriptors.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// A TCP connection to `port` from `from`, with a small receive buffer when `small_window`
/// (so that a response the client does not read fills it at once).
pub async fn connect_from(
    from: IpAddr,
    port: u16,
    small_window: bool,
) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if small_window {
        socket.set_recv_buffer_size(4096)?;
    }
    socket.bind(SocketAddr::new(from, 0))?;
    socket
        .connect(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port))
        .await
}

/// `GET path` on a fresh connection from `from`: the status code and how long it took.
pub async fn fresh_get(from: IpAddr, port: u16, path: &str) -> Result<(u16, Duration), String> {
    let start = Instant::now();
    let client = reqwest::Client::builder()
        .local_address(from)
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|e| e.to_string())?;
    let r = client
        .get(format!("http://127.0.0.1:{port}{path}"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let code = r.status().as_u16();
    let _ = r.bytes().await;
    Ok((code, start.elapsed()))
}

/// Panics unless `/health` answers 200 on a fresh connection from `from` within
/// [`HEALTH_BUDGET`].
pub async fn health_within_budget(from: IpAddr, port: u16, when: &str) -> Duration {
    match fresh_get(from, port, "/health").await {
        Ok((200, took)) if took <= HEALTH_BUDGET => took,
        other => panic!("/health {when}: {other:?}"),
    }
}

/// `/chain/status`'s `chain_height`.
pub async fn height(port: u16) -> i64 {
    let r = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/chain/status"))
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    match r {
        Ok(r) => r
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|v| v["chain_height"].as_i64())
            .unwrap_or(0),
        Err(_) => 0,
    }
}

/// Waits (at most `timeout`) for the chain to grow past `height`; panics otherwise.
pub async fn keeps_minting(port: u16, from: i64, timeout: Duration) -> i64 {
    let start = Instant::now();
    loop {
        let h = height(port).await;
        if h > from {
            return h;
        }
        assert!(
            start.elapsed() < timeout,
            "no block minted after {timeout:?} (height {h})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What a [`Watch`] saw.
#[derive(Debug, Clone)]
pub struct Watched {
    /// The slowest `/health` answer.
    pub worst_health: Duration,
    /// `/health` calls that failed or took longer than [`HEALTH_BUDGET`].
    pub health_failures: u64,
    /// `/health` calls made.
    pub health_calls: u64,
    /// The node's peak resident memory, MB.
    pub peak_rss_mb: f64,
    /// The node's peak count of open descriptors.
    pub peak_fds: usize,
    /// Every `/health` latency, in order.
    pub latencies: Vec<Duration>,
}

impl std::fmt::Display for Watched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "peak RSS {:.1} MB, /health median {:.2} ms, worst {:.2} ms, {} of {} over 2 s or failed, peak fds {}",
            self.peak_rss_mb,
            self.median_health().as_secs_f64() * 1e3,
            self.worst_health.as_secs_f64() * 1e3,
            self.health_failures,
            self.health_calls,
            self.peak_fds
        )
    }
}

impl Watched {
    /// The median `/health` latency.
    pub fn median_health(&self) -> Duration {
        let mut l = self.latencies.clone();
        l.sort();
        l.get(l.len() / 2).copied().unwrap_or_default()
    }
}

/// Polls the node's `/health` (on one kept-alive connection, from 127.0.0.1, as an
/// operator's monitor would) and samples its memory and descriptors until stopped.
pub struct Watch {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Watched>,
}

impl Watch {
    /// Starts watching the node with process id `pid` on `port`.
    pub fn start(pid: u32, port: u16) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("client");
            let mut w = Watched {
                worst_health: Duration::ZERO,
                health_failures: 0,
                health_calls: 0,
                peak_rss_mb: 0.0,
                peak_fds: 0,
                latencies: Vec::new(),
            };
            while !flag.load(Ordering::Relaxed) {
                let start = Instant::now();
                let ok = client
                    .get(format!("http://127.0.0.1:{port}/health"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                let took = start.elapsed();
                w.health_calls += 1;
                w.worst_health = w.worst_health.max(took);
                w.latencies.push(took);
                if !ok || took > HEALTH_BUDGET {
                    w.health_failures += 1;
                }
                w.peak_rss_mb = w.peak_rss_mb.max(rss_mb(pid));
                w.peak_fds = w.peak_fds.max(open_fds(pid));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            w
        });
        Watch { stop, task }
    }

    /// Stops watching; what was seen.
    pub async fn finish(self) -> Watched {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("watch")
    }
}

/// Reads from `stream` until the server closes it (EOF or reset); `Err` if it is still
/// open after `timeout`. Returns the bytes read.
pub async fn closed_within(stream: &mut TcpStream, timeout: Duration) -> Result<usize, String> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return Err(format!("still open after {timeout:?} ({total} bytes read)")),
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(total),
            Ok(Ok(n)) => total += n,
        }
    }
}

/// Opens a connection from `from` that sends `head` and `body_bytes` of a body, then
/// stalls (`None` if the node refused it before the head was sent).
pub async fn stalled_request(
    from: IpAddr,
    port: u16,
    head: &str,
    body: &'static [u8],
) -> Option<TcpStream> {
    let mut s = connect_from(from, port, false).await.ok()?;
    s.write_all(head.as_bytes()).await.ok()?;
    // The node may answer (503) and close before it has read the body; that is a refusal.
    let _ = tokio::time::timeout(Duration::from_secs(5), s.write_all(body)).await;
    Some(s)
}

/// The head of a `POST path` declaring a `len`-byte JSON body.
pub fn post_head(path: &str, len: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\n\
         Content-Length: {len}\r\n\r\n"
    )
}

/// Sends a request head and reads the status code of the answer, leaving the rest (the
/// body) unread.
pub async fn status_only(stream: &mut TcpStream, head: &str) -> Result<u16, String> {
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(20), stream.read_exact(&mut buf))
        .await
        .map_err(|_| "no answer within 20 s".to_owned())?
        .map_err(|e| e.to_string())?;
    let line = String::from_utf8_lossy(&buf);
    line.get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {line:?}"))
}
