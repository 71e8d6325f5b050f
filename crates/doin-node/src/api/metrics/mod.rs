//! `/metrics`: the node's metrics in the Prometheus text exposition format (version 0.0.4),
//! kept and encoded by `prometheus-client`.
//!
//! Two kinds of metrics make up a scrape:
//! * events counted where they happen ([`crate::metrics`], the process-wide
//!   [`METRICS`]): blocks minted and imported, optimae and quorums per domain, gossip,
//!   plugin call and HTTP request durations;
//! * the node's state read from its snapshots at scrape time ([`node`]): height, threshold,
//!   peers, task queue, balance, per-domain progress, so these cannot drift.
//!
//! Each scrape builds a [`Registry`] of both (the event metrics are shared handles, so this
//! copies no counts) and encodes it. Peers are capped at [`node::MAX_PEER_SERIES`].
//!
//! The classic text format (not OpenMetrics) is served because it is what every Prometheus
//! server and most other scrapers read without negotiation; the names are those of the
//! OpenMetrics conventions too (counters end in `_total`).

pub mod node;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;

use crate::api_state::ApiState;
use crate::metrics::{CONTENT_TYPE, METRICS};

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
