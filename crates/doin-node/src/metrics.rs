//! `/metrics`: the node's counters in the Prometheus text exposition format (version 0.0.4).
//!
//! Counters and histograms live in one process-wide registry of atomics, [`METRICS`], so a
//! call site records an event with one line (`metrics::METRICS.blocks_minted.inc()`) without
//! a handle threaded through its component. Gauges (height, peers, queue, balance) are read
//! from the node's snapshots when `/metrics` is scraped, so they cannot drift.
//!
//! The binary runs one node per process; in-process test networks share the counters.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::ApiState;

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// A counter at zero.
    pub const fn new() -> Self {
        Counter(AtomicU64::new(0))
    }
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    /// The count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value set by its owner (kept as the largest seen when set through [`Gauge::max`]).
#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    /// A gauge at zero.
    pub const fn new() -> Self {
        Gauge(AtomicU64::new(0))
    }
    /// Raises the gauge to `v` if `v` is larger.
    pub fn max(&self, v: u64) {
        self.0.fetch_max(v, Ordering::Relaxed);
    }
    /// The value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Upper bounds (seconds) of the duration histograms: 100 µs to 60 s.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 60.0,
];

/// A histogram of durations over [`DURATION_BUCKETS`].
#[derive(Debug)]
pub struct Histogram {
    /// Observations per bucket (not cumulative; `+Inf` last).
    buckets: [AtomicU64; DURATION_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    /// An empty histogram.
    pub const fn new() -> Self {
        Histogram {
            buckets: [const { AtomicU64::new(0) }; DURATION_BUCKETS.len() + 1],
            sum_nanos: AtomicU64::new(0),
        }
    }

    /// Records one duration.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = DURATION_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(DURATION_BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            cumulative += b.load(Ordering::Relaxed);
            let le = DURATION_BUCKETS
                .get(i)
                .map(|b| b.to_string())
                .unwrap_or_else(|| "+Inf".into());
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
            );
        }
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {cumulative}");
    }
}

/// Runs `f` and records how long it took in `h`.
pub fn timed<T>(h: &Histogram, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    h.observe(start.elapsed());
    out
}

/// Most distinct (method, route) pairs the HTTP histogram keeps; routes are the router's
/// patterns, so this only bounds a router that grows far beyond today's.
const MAX_HTTP_SERIES: usize = 128;

/// Every counter and histogram the node records.
#[derive(Debug)]
pub struct Metrics {
    /// Blocks this node minted.
    pub blocks_minted: Counter,
    /// Blocks imported from peers.
    pub blocks_imported: Counter,
    /// Optimae this node committed.
    pub optimae_committed: Counter,
    /// Optimae of this node accepted into the pending set.
    pub optimae_accepted: Counter,
    /// Optimae of this node the chain refused after the quorum voted.
    pub optimae_rejected: Counter,
    /// Quorums whose required members all voted.
    pub quorum_complete: Counter,
    /// Quorums that timed out without every required vote.
    pub quorum_incomplete: Counter,
    /// Messages received on `POST /message` and taken by the network service.
    pub gossip_in_accepted: Counter,
    /// Messages received on `POST /message` and refused (invalid, rate limited, busy).
    pub gossip_in_refused: Counter,
    /// Messages this node originated (block announcements, task announcements).
    pub gossip_published: Counter,
    /// Highest chain height a peer reported during sync.
    pub sync_peer_height: Gauge,
    /// Optimizer plugin `step` durations.
    pub optimizer_step_seconds: Histogram,
    /// Evaluator plugin durations (synthetic data and evaluation).
    pub evaluation_seconds: Histogram,
    http: Mutex<BTreeMap<(String, String, u16), Histogram>>,
}

/// The process-wide registry.
pub static METRICS: Metrics = Metrics {
    blocks_minted: Counter::new(),
    blocks_imported: Counter::new(),
    optimae_committed: Counter::new(),
    optimae_accepted: Counter::new(),
    optimae_rejected: Counter::new(),
    quorum_complete: Counter::new(),
    quorum_incomplete: Counter::new(),
    gossip_in_accepted: Counter::new(),
    gossip_in_refused: Counter::new(),
    gossip_published: Counter::new(),
    sync_peer_height: Gauge::new(),
    optimizer_step_seconds: Histogram::new(),
    evaluation_seconds: Histogram::new(),
    http: Mutex::new(BTreeMap::new()),
};

impl Metrics {
    /// Counts a quorum this node waited for: complete, or timed out.
    pub fn quorum_outcome(&self, complete: bool) {
        if complete {
            self.quorum_complete.inc();
        } else {
            self.quorum_incomplete.inc();
        }
    }

    /// Counts a message received on `POST /message`.
    pub fn gossip_inbound(&self, accepted: bool) {
        if accepted {
            self.gossip_in_accepted.inc();
        } else {
            self.gossip_in_refused.inc();
        }
    }

    /// Records one HTTP request's latency under its route pattern and status class.
    pub fn observe_http(&self, method: &str, route: &str, status: u16, d: Duration) {
        let mut map = self.http.lock().unwrap_or_else(|p| p.into_inner());
        let key = (method.to_owned(), route.to_owned(), status);
        if !map.contains_key(&key) && map.len() >= MAX_HTTP_SERIES {
            return;
        }
        map.entry(key).or_default().observe(d);
    }
}

/// Axum middleware: times every request under its matched route (`unmatched` for 404s, so
/// scanners cannot grow the series).
pub async fn http_latency(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let response = next.run(req).await;
    METRICS.observe_http(&method, &route, response.status().as_u16(), start.elapsed());
    response
}

/// Escapes a label value as the exposition format requires.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &str, value: impl std::fmt::Display) {
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
    } else {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

fn single(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    family(out, name, kind, help);
    sample(out, name, "", value);
}

/// The whole exposition for a node.
pub fn render(s: &ApiState) -> String {
    let m = &METRICS;
    let v = s.chain_view();
    let mut out = String::with_capacity(8 * 1024);
    let o = &mut out;
    single(
        o,
        "doin_chain_height",
        "gauge",
        "Blocks on chain, genesis included.",
        v.height,
    );
    single(
        o,
        "doin_chain_finalized_height",
        "gauge",
        "Height of the last final checkpoint (-1 when none).",
        v.finalized_height,
    );
    single(
        o,
        "doin_chain_threshold",
        "gauge",
        "Weighted increment the next block must reach.",
        v.threshold,
    );
    single(
        o,
        "doin_chain_ema_block_time_seconds",
        "gauge",
        "EMA of block times.",
        v.ema_block_time,
    );
    single(
        o,
        "doin_chain_transactions",
        "gauge",
        "Transactions on chain.",
        v.total_transactions,
    );
    single(
        o,
        "doin_pending_optimae",
        "gauge",
        "Accepted optimae waiting for a block.",
        v.pending_optimae,
    );
    single(
        o,
        "doin_balance_units",
        "gauge",
        "This node's balance in base units (1 DOIN = 1e8).",
        v.my_balance,
    );
    single(
        o,
        "doin_supply_units",
        "gauge",
        "Coins minted, base units.",
        v.total_supply,
    );
    single(
        o,
        "doin_blocks_minted_total",
        "counter",
        "Blocks this node minted.",
        m.blocks_minted.get(),
    );
    single(
        o,
        "doin_blocks_imported_total",
        "counter",
        "Blocks imported from peers.",
        m.blocks_imported.get(),
    );
    family(
        o,
        "doin_optimae_total",
        "counter",
        "This node's optimae by outcome.",
    );
    sample(
        o,
        "doin_optimae_total",
        "outcome=\"committed\"",
        m.optimae_committed.get(),
    );
    sample(
        o,
        "doin_optimae_total",
        "outcome=\"accepted\"",
        m.optimae_accepted.get(),
    );
    sample(
        o,
        "doin_optimae_total",
        "outcome=\"rejected\"",
        m.optimae_rejected.get(),
    );
    family(
        o,
        "doin_quorum_total",
        "counter",
        "Quorums this node's optimae waited for, by outcome.",
    );
    sample(
        o,
        "doin_quorum_total",
        "outcome=\"complete\"",
        m.quorum_complete.get(),
    );
    sample(
        o,
        "doin_quorum_total",
        "outcome=\"incomplete\"",
        m.quorum_incomplete.get(),
    );
    family(
        o,
        "doin_gossip_messages_in_total",
        "counter",
        "Peer messages received on POST /message, by outcome.",
    );
    sample(
        o,
        "doin_gossip_messages_in_total",
        "outcome=\"accepted\"",
        m.gossip_in_accepted.get(),
    );
    sample(
        o,
        "doin_gossip_messages_in_total",
        "outcome=\"refused\"",
        m.gossip_in_refused.get(),
    );
    single(
        o,
        "doin_gossip_messages_published_total",
        "counter",
        "Messages this node originated (forwarding is not counted).",
        m.gossip_published.get(),
    );
    family(
        o,
        "doin_gossip_frames_out_total",
        "counter",
        "Messages and control frames posted to peers (originated and forwarded), by outcome.",
    );
    sample(
        o,
        "doin_gossip_frames_out_total",
        "outcome=\"sent\"",
        doin_net::service::FRAMES_SENT.load(std::sync::atomic::Ordering::Relaxed),
    );
    sample(
        o,
        "doin_gossip_frames_out_total",
        "outcome=\"failed\"",
        doin_net::service::FRAMES_FAILED.load(std::sync::atomic::Ordering::Relaxed),
    );
    single(
        o,
        "doin_peers",
        "gauge",
        "Known peer endpoints.",
        s.peers.endpoints().len(),
    );
    let peer_height = m.sync_peer_height.get();
    single(
        o,
        "doin_sync_peer_height",
        "gauge",
        "Highest chain height a peer reported.",
        peer_height,
    );
    let progress = if peer_height == 0 {
        1.0
    } else {
        (v.height as f64 / peer_height as f64).min(1.0)
    };
    single(
        o,
        "doin_sync_progress_ratio",
        "gauge",
        "Own height over the highest peer height (1 when none is higher).",
        progress,
    );
    let counts = s.tasks.counts();
    family(
        o,
        "doin_tasks",
        "gauge",
        "Verification tasks in the queue, by state.",
    );
    sample(o, "doin_tasks", "state=\"pending\"", counts.pending);
    sample(o, "doin_tasks", "state=\"claimed\"", counts.claimed);
    sample(o, "doin_tasks", "state=\"completed\"", counts.completed);
    let board = s.board.snapshot();
    family(
        o,
        "doin_domain_round",
        "gauge",
        "Optimizer rounds run since start, per domain.",
    );
    for (d, p) in &board {
        sample(
            o,
            "doin_domain_round",
            &format!("domain=\"{}\"", label(d)),
            p.round,
        );
    }
    family(
        o,
        "doin_domain_best_performance",
        "gauge",
        "Best verified performance on chain, per domain.",
    );
    for (d, best) in &v.domain_best {
        sample(
            o,
            "doin_domain_best_performance",
            &format!("domain=\"{}\"", label(d)),
            best,
        );
    }
    family(
        o,
        "doin_plugin_call_seconds",
        "histogram",
        "Plugin call durations.",
    );
    m.optimizer_step_seconds
        .render(o, "doin_plugin_call_seconds", "call=\"optimizer_step\"");
    m.evaluation_seconds
        .render(o, "doin_plugin_call_seconds", "call=\"evaluation\"");
    family(
        o,
        "doin_http_request_duration_seconds",
        "histogram",
        "HTTP request latency by route.",
    );
    let http = m.http.lock().unwrap_or_else(|p| p.into_inner());
    for ((method, route, status), h) in http.iter() {
        let labels = format!(
            "method=\"{}\",route=\"{}\",status=\"{status}\"",
            label(method),
            label(route)
        );
        h.render(o, "doin_http_request_duration_seconds", &labels);
    }
    drop(http);
    crate::inference::render_metrics(o);
    out
}

/// `GET /metrics`.
pub async fn metrics(State(s): State<ApiState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&s),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_at_inf() {
        let h = Histogram::new();
        h.observe(Duration::from_micros(50));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(100));
        let mut out = String::new();
        h.render(&mut out, "x", "a=\"b\"");
        assert!(out.contains("x_bucket{a=\"b\",le=\"0.0001\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{a=\"b\",le=\"0.005\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{a=\"b\",le=\"60\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{a=\"b\",le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("x_count{a=\"b\"} 3\n"), "{out}");
        assert_eq!(h.count(), 3);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
