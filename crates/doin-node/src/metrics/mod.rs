//! The node's event metrics, counted where they happen: the process-wide [`METRICS`]
//! ([`events`]: blocks minted and imported, optimae and quorums per domain, gossip, plugin
//! call durations), HTTP request durations ([`http`]), and the bounded label sets they use
//! ([`labeled`]). Every label set is bounded: domains are those this node serves or the
//! chain holds, methods a fixed list, routes the router's patterns, and each family has a
//! cap of its own.
//!
//! `/metrics`, which adds the node's state read from its snapshots and encodes it all in
//! the Prometheus text format, is served by [`crate::api::metrics`]: this module depends on
//! nothing above it, so every component may count here.

mod bounded;
pub mod events;
pub mod http;
pub mod labeled;

use std::time::Instant;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::histogram::Histogram;

pub use events::{Metrics, OptimaeOutcome, PluginCall, DURATION_BUCKETS, METRICS};
pub use http::http_latency;

/// The `Content-Type` of `/metrics`: the Prometheus text format, version 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Runs `f` and records how long it took in `h` (nothing when `h` is `None`, a full family).
pub fn timed<T>(h: Option<&Histogram>, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    if let Some(h) = h {
        h.observe(start.elapsed().as_secs_f64());
    }
    out
}
