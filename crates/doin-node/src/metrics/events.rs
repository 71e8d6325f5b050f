//! The events the node counts where they happen: one process-wide set of `prometheus-client`
//! metrics, [`METRICS`], so a call site records an event with one line
//! (`metrics::METRICS.blocks_minted.inc()`) without a handle threaded through its component.
//!
//! The binary runs one node per process; in-process test networks share these counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::bounded::BoundedFamily;

/// Upper bounds (seconds) of the duration histograms: 100 µs to 60 s.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 60.0,
];

/// Most domains a per-domain metric shows: a node serves the domains of its config, far
/// fewer than this.
pub const MAX_DOMAIN_SERIES: usize = 256;
/// Most (method, route, status) series of the HTTP histogram: routes are the router's
/// patterns and methods a fixed list, so this only bounds a router that grows far beyond
/// today's.
const MAX_HTTP_SERIES: usize = 128;

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// What became of an optimae of this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptimaeOutcome {
    /// Its commitment was taken.
    Committed,
    /// The chain accepted it into the pending set.
    Accepted,
    /// The chain refused it after the quorum voted.
    Rejected,
}

impl OptimaeOutcome {
    fn label(self) -> &'static str {
        match self {
            OptimaeOutcome::Committed => "committed",
            OptimaeOutcome::Accepted => "accepted",
            OptimaeOutcome::Rejected => "rejected",
        }
    }
}

/// A timed plugin call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginCall {
    /// The optimizer's `step`.
    OptimizerStep,
    /// Synthetic data and evaluation of a verification task.
    Evaluation,
}

impl PluginCall {
    fn label(self) -> &'static str {
        match self {
            PluginCall::OptimizerStep => "optimizer_step",
            PluginCall::Evaluation => "evaluation",
        }
    }
}

/// Labels of a per-domain outcome count.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct DomainOutcome {
    domain: String,
    outcome: &'static str,
}

/// Labels of an outcome count.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Outcome {
    outcome: &'static str,
}

/// Labels of a plugin call duration.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct PluginCallLabels {
    call: &'static str,
    domain: String,
}

/// Labels of an HTTP request duration.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct HttpLabels {
    pub(crate) method: &'static str,
    pub(crate) route: String,
    pub(crate) status: u16,
}

/// Every event the node counts.
#[derive(Debug)]
pub struct Metrics {
    /// Blocks this node minted.
    pub blocks_minted: Counter,
    /// Blocks imported from peers.
    pub blocks_imported: Counter,
    /// Messages this node originated (block announcements, task announcements).
    pub gossip_published: Counter,
    optimae: BoundedFamily<DomainOutcome, Counter>,
    quorum: BoundedFamily<DomainOutcome, Counter>,
    gossip_in: BoundedFamily<Outcome, Counter>,
    sync_peer_height: Gauge<u64, AtomicU64>,
    plugin_calls: BoundedFamily<PluginCallLabels, Histogram>,
    http: BoundedFamily<HttpLabels, Histogram>,
}

/// The process-wide metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let metrics = Metrics {
        blocks_minted: Counter::default(),
        blocks_imported: Counter::default(),
        gossip_published: Counter::default(),
        optimae: BoundedFamily::new(3 * MAX_DOMAIN_SERIES, Counter::default),
        quorum: BoundedFamily::new(2 * MAX_DOMAIN_SERIES, Counter::default),
        gossip_in: BoundedFamily::new(2, Counter::default),
        sync_peer_height: Gauge::default(),
        plugin_calls: BoundedFamily::new(2 * MAX_DOMAIN_SERIES, duration_histogram),
        http: BoundedFamily::new(MAX_HTTP_SERIES, duration_histogram),
    };
    // Known outcomes start at zero, so that a rate over them is defined before the first.
    for outcome in ["accepted", "refused"] {
        let _ = metrics.gossip_in.get(&Outcome { outcome });
    }
    metrics
});

impl Metrics {
    /// Counts what became of one of this node's optimae on `domain`.
    pub fn optimae(&self, domain: &str, outcome: OptimaeOutcome) {
        let labels = DomainOutcome {
            domain: domain.to_owned(),
            outcome: outcome.label(),
        };
        if let Some(c) = self.optimae.get(&labels) {
            c.inc();
        }
    }

    /// Counts a quorum this node waited for on `domain`: complete, or timed out.
    pub fn quorum_outcome(&self, domain: &str, complete: bool) {
        let labels = DomainOutcome {
            domain: domain.to_owned(),
            outcome: if complete { "complete" } else { "incomplete" },
        };
        if let Some(c) = self.quorum.get(&labels) {
            c.inc();
        }
    }

    /// Counts a message received on `POST /message`.
    pub fn gossip_inbound(&self, accepted: bool) {
        let labels = Outcome {
            outcome: if accepted { "accepted" } else { "refused" },
        };
        if let Some(c) = self.gossip_in.get(&labels) {
            c.inc();
        }
    }

    /// Records a chain height a peer reported during sync (the gauge keeps the highest).
    pub fn peer_height_seen(&self, height: u64) {
        self.sync_peer_height
            .inner()
            .fetch_max(height, Ordering::Relaxed);
    }

    /// The highest chain height a peer reported (0 before any).
    pub fn sync_peer_height(&self) -> u64 {
        self.sync_peer_height.get()
    }

    /// The histogram of `call` on `domain` (`None` once the family is full).
    pub fn plugin_call(&self, call: PluginCall, domain: &str) -> Option<Histogram> {
        self.plugin_calls.get(&PluginCallLabels {
            call: call.label(),
            domain: domain.to_owned(),
        })
    }

    /// Records one HTTP request's latency under its method, route pattern and status.
    pub(crate) fn observe_http(&self, labels: HttpLabels, d: Duration) {
        if let Some(h) = self.http.get(&labels) {
            h.observe(d.as_secs_f64());
        }
    }

    /// Adds every metric to `registry` (clones sharing their values).
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "doin_blocks_minted",
            "Blocks this node minted",
            self.blocks_minted.clone(),
        );
        registry.register(
            "doin_blocks_imported",
            "Blocks imported from peers",
            self.blocks_imported.clone(),
        );
        registry.register(
            "doin_optimae",
            "This node's optimae by domain and outcome",
            self.optimae.clone(),
        );
        registry.register(
            "doin_quorum",
            "Quorums this node's optimae waited for, by domain and outcome",
            self.quorum.clone(),
        );
        registry.register(
            "doin_gossip_messages_in",
            "Peer messages received on POST /message, by outcome",
            self.gossip_in.clone(),
        );
        registry.register(
            "doin_gossip_messages_published",
            "Messages this node originated (forwarding is not counted)",
            self.gossip_published.clone(),
        );
        registry.register(
            "doin_sync_peer_height",
            "Highest chain height a peer reported",
            self.sync_peer_height.clone(),
        );
        registry.register(
            "doin_plugin_call_seconds",
            "Plugin call durations, by call and domain",
            self.plugin_calls.clone(),
        );
        registry.register(
            "doin_http_request_duration_seconds",
            "HTTP request latency by method, route and status",
            self.http.clone(),
        );
    }
}
