//! `/metrics` of the real binary parses with a real Prometheus text-format parser, and its
//! counters move while the node mints blocks: blocks minted, optimae committed and accepted
//! (per domain), quorum outcomes, plugin call time and HTTP latency.

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
        let f = second.family(family);
        assert!(
            f.is_some_and(|f| !f.help.is_empty()),
            "{family} lacks TYPE/HELP in {:?}",
            second.names()
        );
    }
    let moved = |name: &str, labels: &[(&str, &str)]| {
        let (a, b) = (first.sum(name, labels), second.sum(name, labels));
        assert!(b > a, "{name}{labels:?} did not move: {a} -> {b}");
    };
    moved("doin_chain_height", &[]);
    moved("doin_blocks_minted_total", &[]);
    // The solo node's one domain is `quadratic`: its series carry the domain.
    let quadratic = ("domain", "quadratic");
    moved("doin_optimae_total", &[("outcome", "committed"), quadratic]);
    moved("doin_optimae_total", &[("outcome", "accepted"), quadratic]);
    moved("doin_quorum_total", &[("outcome", "complete"), quadratic]);
    moved("doin_domain_round", &[quadratic]);
    assert!(second
        .value("doin_domain_best_performance", &[quadratic])
        .is_some());
    moved(
        "doin_plugin_call_seconds",
        &[("call", "optimizer_step"), quadratic],
    );
    moved(
        "doin_plugin_call_seconds",
        &[("call", "evaluation"), quadratic],
    );
    moved(
        "doin_http_request_duration_seconds",
        &[("route", "/status"), ("method", "GET"), ("status", "200")],
    );
    assert!(second
        .value(
            "doin_http_request_duration_seconds",
            &[("route", "/metrics"), ("method", "GET")]
        )
        .is_some());
    // Outcomes that have not happened yet are there at zero, so a rate over them works.
    assert_eq!(
        second.value("doin_gossip_messages_in_total", &[("outcome", "refused")]),
        Some(0.0)
    );
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

    // Served as the classic text format, which is what the body is.
    let response = reqwest::blocking::get(node.url("/metrics")).expect("/metrics");
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
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
