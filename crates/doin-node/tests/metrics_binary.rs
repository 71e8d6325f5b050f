//! `/metrics` of the real binary parses as the Prometheus text format, and its counters
//! move while the node mints blocks: blocks minted, optimae committed and accepted,
//! quorum outcomes, plugin call time and HTTP latency.

mod common;
mod prometheus_text;

use std::time::Duration;

use common::{free_port, NodeProcess};

fn scrape(node: &NodeProcess) -> prometheus_text::Exposition {
    let text = node.get_text("/metrics").expect("/metrics answers");
    prometheus_text::parse(&text).unwrap_or_else(|e| panic!("/metrics does not parse: {e}\n{text}"))
}

#[test]
fn metrics_parse_and_counters_move_during_a_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut node = NodeProcess::start(dir.path(), free_port(), &[]);
    node.wait_status(Duration::from_secs(60), "height >= 2", |s| {
        s["chain_height"].as_i64().unwrap_or(0) >= 2
    });
    let first = scrape(&node);
    let h1 = first.value("doin_chain_height", &[]).expect("chain height");
    node.wait_status(Duration::from_secs(90), "two more blocks", |s| {
        s["chain_height"].as_f64().unwrap_or(0.0) >= h1 + 2.0
    });
    let second = scrape(&node);

    for family in [
        "doin_chain_height",
        "doin_blocks_minted_total",
        "doin_blocks_imported_total",
        "doin_optimae_total",
        "doin_quorum_total",
        "doin_gossip_messages_in_total",
        "doin_gossip_messages_published_total",
        "doin_peers",
        "doin_sync_progress_ratio",
        "doin_plugin_call_seconds",
        "doin_http_request_duration_seconds",
    ] {
        let f = second.families.get(family);
        assert!(
            f.is_some_and(|f| !f.kind.is_empty() && f.help.is_some()),
            "{family} lacks TYPE/HELP"
        );
    }
    let moved = |name: &str, labels: &[(&str, &str)]| {
        let (a, b) = (first.sum(name, labels), second.sum(name, labels));
        assert!(b > a, "{name}{labels:?} did not move: {a} -> {b}");
    };
    moved("doin_chain_height", &[]);
    moved("doin_blocks_minted_total", &[]);
    moved("doin_optimae_total", &[("outcome", "committed")]);
    moved("doin_optimae_total", &[("outcome", "accepted")]);
    moved("doin_quorum_total", &[("outcome", "complete")]);
    moved(
        "doin_plugin_call_seconds_count",
        &[("call", "optimizer_step")],
    );
    moved("doin_plugin_call_seconds_count", &[("call", "evaluation")]);
    moved(
        "doin_http_request_duration_seconds_count",
        &[("route", "/status"), ("method", "GET")],
    );
    assert!(second
        .value(
            "doin_http_request_duration_seconds_count",
            &[("route", "/metrics")]
        )
        .is_some());
    assert_eq!(second.value("doin_sync_progress_ratio", &[]), Some(1.0));
    let minted = second
        .value("doin_blocks_minted_total", &[])
        .expect("minted");
    let height = second.value("doin_chain_height", &[]).expect("height");
    // A solo node minted every block but genesis (the counter may lead the published
    // height by the block being minted).
    assert!(
        minted == height - 1.0 || minted == height,
        "minted {minted}, height {height}"
    );

    // The dashboard routes are in the OpenAPI document.
    let doc = node.get("/openapi.json").expect("openapi");
    for path in [
        "/metrics",
        "/dashboard",
        "/dashboard/snapshot",
        "/dashboard/events",
        "/dashboard/fleet",
        "/dashboard/fleet/data",
    ] {
        assert!(doc["paths"].get(path).is_some(), "OpenAPI lacks {path}");
    }
}
