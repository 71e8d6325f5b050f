//! A node's whole `/metrics` page, read back with a real Prometheus text parser.

use std::sync::Arc;
use std::time::Duration;

use doin_primitives::models::Block;
use openmetrics_parser::prometheus::parse_prometheus;
use openmetrics_parser::{MetricsExposition, PrometheusType, PrometheusValue};
use tokio::sync::watch;

use super::*;
use crate::api_state::NodeInfo;
use crate::block_source::BlockSource;
use crate::metrics::events::MAX_DOMAIN_SERIES;
use crate::metrics::{timed, OptimaeOutcome, PluginCall};
use crate::view::{ChainView, DomainBoard};

struct NoBlocks;

impl BlockSource for NoBlocks {
    fn blocks(&self, _: i64, _: i64) -> Result<Vec<Block>, String> {
        Ok(Vec::new())
    }
    fn block(&self, _: i64) -> Result<Option<Block>, String> {
        Ok(None)
    }
}

/// A domain name no label should break: quotes, a backslash, a newline, braces, a comma.
const HOSTILE: &str = "d\"x\\y\nz{a},b=c";

fn state() -> ApiState {
    let mut view = ChainView {
        height: 7,
        ..ChainView::default()
    };
    view.domain_best.insert(HOSTILE.to_owned(), -0.25);
    let board = DomainBoard::default();
    board.update(HOSTILE, |p| p.round = 3);
    let peers = crate::peers::PeerSet::new(&[]);
    for port in 0..(node::MAX_PEER_SERIES as u16 + 4) {
        let endpoint = format!("127.0.0.1:{}", 20_000 + port);
        peers.add(&endpoint);
        peers.record_latency(&endpoint, Duration::from_millis(5));
    }
    ApiState {
        chain: watch::channel(Arc::new(view)).1,
        blocks: Arc::new(NoBlocks),
        peers,
        net: None,
        p2p: None,
        tasks: Arc::new(crate::task_queue::TaskQueue::new()),
        board,
        info: Arc::new(NodeInfo::default()),
        stats: None,
        chain_service: None,
    }
}

fn parse(text: &str) -> MetricsExposition<PrometheusType, PrometheusValue> {
    parse_prometheus(text).unwrap_or_else(|e| panic!("does not parse: {e:?}\n{text}"))
}

fn gauge(e: &MetricsExposition<PrometheusType, PrometheusValue>, name: &str) -> Vec<(String, f64)> {
    let family = e.families.get(name).unwrap_or_else(|| panic!("no {name}"));
    family
        .iter_samples()
        .map(|s| {
            let labels = s.get_labelset().expect("labels");
            let label = labels.iter_values().next().cloned().unwrap_or_default();
            let value = match &s.value {
                PrometheusValue::Gauge(n) => n.as_f64(),
                other => panic!("{name} is not a gauge: {other:?}"),
            };
            (label, value)
        })
        .collect()
}

#[test]
fn the_whole_page_parses_and_hostile_label_values_round_trip() {
    METRICS.optimae(HOSTILE, OptimaeOutcome::Accepted);
    let timer = METRICS.plugin_call(PluginCall::Evaluation, HOSTILE);
    timed(timer.as_ref(), || ());
    let text = render(&state());
    let e = parse(&text);
    // The encoder ends each help with a full stop of its own.
    assert!(!text.contains("..\n"), "{text}");

    assert_eq!(gauge(&e, "doin_chain_height"), [(String::new(), 7.0)]);
    assert_eq!(
        gauge(&e, "doin_domain_best_performance"),
        [(HOSTILE.to_owned(), -0.25)]
    );
    assert_eq!(gauge(&e, "doin_domain_round"), [(HOSTILE.to_owned(), 3.0)]);
    let optimae = &e.families["doin_optimae_total"];
    assert!(
        optimae.iter_samples().any(|s| {
            let l = s.get_labelset().expect("labels");
            l.get_label_value("domain") == Some(HOSTILE)
                && l.get_label_value("outcome") == Some("accepted")
        }),
        "{text}"
    );
    for family in [
        "doin_blocks_minted_total",
        "doin_gossip_messages_in_total",
        "doin_plugin_call_seconds",
        "doin_tasks",
        "doin_gossip_frames_out_total",
        "doin_inference_requests_total",
        "doin_sync_refusals_total",
    ] {
        assert!(e.families.contains_key(family), "no {family} in\n{text}");
    }
}

#[test]
fn peers_beyond_the_cap_are_counted_but_get_no_series() {
    let e = parse(&render(&state()));
    let peers = node::MAX_PEER_SERIES + 4;
    assert_eq!(gauge(&e, "doin_peers"), [(String::new(), peers as f64)]);
    let rtt = gauge(&e, "doin_peer_sync_rtt_seconds");
    assert_eq!(rtt.len(), node::MAX_PEER_SERIES);
    assert!(
        rtt.iter().all(|(_, v)| (*v - 0.005).abs() < 1e-9),
        "{rtt:?}"
    );
}

#[test]
fn a_chain_of_many_domains_keeps_the_served_ones_within_the_cap() {
    let s = state();
    let mut view = (*s.chain_view()).clone();
    for i in 0..MAX_DOMAIN_SERIES + 44 {
        view.domain_best.insert(format!("a{i:04}"), 1.0);
    }
    view.domain_best.insert("zzz".to_owned(), 2.0);
    s.board.update("zzz", |p| p.round = 1);
    let s = ApiState {
        chain: watch::channel(Arc::new(view)).1,
        ..s
    };
    let best = gauge(&parse(&render(&s)), "doin_domain_best_performance");
    assert_eq!(best.len(), MAX_DOMAIN_SERIES);
    assert!(best.iter().any(|(d, v)| d == "zzz" && *v == 2.0));
    assert!(best.iter().any(|(d, _)| d == HOSTILE), "served too");
}

#[test]
fn the_parser_refuses_what_a_prometheus_server_refuses() {
    // The checks above mean something only if the parser is strict.
    for bad in [
        "# TYPE x gauge\nx{a=\"b} 1\n",
        "# TYPE x gauge\nx{a=\"b\\q\"} 1\n",
        "# TYPE x gauge\nx one\n",
        "# TYPE x gauge\nx{a=\"b\"} 1\nx{a=\"b\"} 2\n",
        "# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\n# TYPE x gauge\nx 2\n",
    ] {
        assert!(parse_prometheus(bad).is_err(), "parsed: {bad}");
    }
}
