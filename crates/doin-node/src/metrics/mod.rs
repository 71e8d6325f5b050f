//! `/metrics`: the node's metrics in the Prometheus text exposition format (version 0.0.4),
//! kept and encoded by `prometheus-client`.
//!
//! Two kinds of metrics make up a scrape:
//! * events counted where they happen ([`events`], the process-wide [`METRICS`]): blocks
//!   minted and imported, optimae and quorums per domain, gossip, plugin call and HTTP
//!   request durations;
//! * the node's state read from its snapshots at scrape time ([`node`]): height, threshold,
//!   peers, task queue, balance, per-domain progress, so these cannot drift.
//!
//! Each scrape builds a [`Registry`] of both (the event metrics are shared handles, so this
//! copies no counts) and encodes it. Every label set is bounded: domains are those this node
//! serves or the chain holds, methods a fixed list, routes the router's patterns, peers
//! capped at [`node::MAX_PEER_SERIES`], and each family has a cap of its own.
//!
//! The classic text format (not OpenMetrics) is served because it is what every Prometheus
//! server and most other scrapers read without negotiation; the names are those of the
//! OpenMetrics conventions too (counters end in `_total`).

mod bounded;
pub mod events;
pub mod http;
pub mod labeled;
pub mod node;

use std::time::Instant;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::api::ApiState;

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

/// Every metric of node `s`, in one registry.
pub fn registry(s: &ApiState) -> Registry {
    let mut registry = Registry::default();
    node::register(&mut registry, s);
    METRICS.register(&mut registry);
    crate::inference::register_metrics(&mut registry);
    registry
}

/// The whole exposition for node `s`.
pub fn render(s: &ApiState) -> String {
    let mut out = String::with_capacity(8 * 1024);
    // Writing to a String cannot fail; an error could only come from a metric's own
    // encoder, and would leave a truncated page that the scraper refuses.
    if let Err(e) = prometheus_text::encode(&mut out, &registry(s)) {
        tracing::warn!("/metrics could not be encoded: {e}");
    }
    out
}

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "node",
    summary = "Counters, gauges and histograms in the Prometheus text format 0.0.4",
    responses((status = 200, description = "the exposition", content_type = "text/plain; version=0.0.4", body = String)))]
pub async fn metrics(State(s): State<ApiState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], render(&s))
}

#[cfg(test)]
mod tests;
