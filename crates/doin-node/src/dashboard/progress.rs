//! The dashboard's progress chart: each domain's best on chain over time, for the whole
//! network and per node, so that what cooperation buys is visible (every node's records
//! beside the network's, which climbs as soon as any of them improves).
//!
//! The first paint reads the records from the OLAP database
//! ([`doin_stats::progress`]: the newest 2,000 at most, this node's chain only); the page
//! then extends the series from each new block's accepted optimae. Without experiment
//! stats the page builds the series from the blocks it holds.
//!
//! Shape, per domain: `{"network": [[time, performance, optimizer, height], ...],
//! "nodes": {optimizer: [[time, performance, height], ...]}}`, oldest first, optimizer ids
//! cut to 12 characters as elsewhere on the dashboard, times in Unix seconds.

use std::collections::BTreeMap;

use doin_stats::BestPoint;
use serde_json::{json, Map, Value};

use crate::api_state::ApiState;

/// Characters of an optimizer id shown.
const SHORT_ID: usize = 12;

/// One domain's series: the network's records and each node's.
#[derive(Default)]
struct Series {
    network: Vec<Value>,
    nodes: BTreeMap<String, Vec<Value>>,
}

/// Each domain's network and per-node records from `points` (oldest first); points
/// without a parseable time are left out.
pub fn shape(points: &[BestPoint]) -> Value {
    let mut domains: BTreeMap<&str, Series> = BTreeMap::new();
    for p in points {
        let Some(t) = p.time_secs else { continue };
        let who: String = p.optimizer_id.chars().take(SHORT_ID).collect();
        let series = domains.entry(p.domain_id.as_str()).or_default();
        if p.network_record {
            series
                .network
                .push(json!([t, p.performance, who, p.block_height]));
        }
        if p.node_record {
            series
                .nodes
                .entry(who)
                .or_default()
                .push(json!([t, p.performance, p.block_height]));
        }
    }
    let mut out = Map::new();
    for (domain, Series { network, nodes }) in domains {
        let nodes: Map<String, Value> = nodes
            .into_iter()
            .map(|(k, v)| (k, Value::Array(v)))
            .collect();
        out.insert(
            domain.to_owned(),
            json!({"network": network, "nodes": nodes}),
        );
    }
    Value::Object(out)
}

/// The records of this node's chain, shaped for the page; `{}` without experiment stats
/// or when the database cannot be read (the page then builds them from its blocks).
pub async fn best_over_time(s: &ApiState) -> Value {
    let Some(stats) = s.stats.clone() else {
        return json!({});
    };
    let points =
        tokio::task::spawn_blocking(move || stats.reader().and_then(|r| r.best_over_time())).await;
    match points {
        Ok(Ok(points)) => shape(&points),
        _ => json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(d: &str, who: &str, perf: f64, h: i64, network: bool) -> BestPoint {
        BestPoint {
            domain_id: d.into(),
            optimizer_id: who.into(),
            performance: perf,
            block_height: h,
            time_secs: Some(100.0 + h as f64),
            network_record: network,
            node_record: true,
        }
    }

    #[test]
    fn records_split_into_the_network_series_and_one_series_per_node() {
        let long = "a".repeat(64);
        let points = vec![
            point("d", &long, -5.0, 2, true),
            point("d", "b", -7.0, 3, false),
            point("d", "b", -4.0, 4, true),
            BestPoint {
                time_secs: None,
                ..point("d", "b", -3.0, 5, true)
            },
            point("e", "b", 1.0, 5, true),
        ];
        let v = shape(&points);
        assert_eq!(
            v["d"]["network"],
            json!([[102.0, -5.0, "a".repeat(12), 2], [104.0, -4.0, "b", 4]])
        );
        assert_eq!(
            v["d"]["nodes"]["b"],
            json!([[103.0, -7.0, 3], [104.0, -4.0, 4]])
        );
        assert_eq!(v["d"]["nodes"]["aaaaaaaaaaaa"], json!([[102.0, -5.0, 2]]));
        assert_eq!(v["e"]["network"], json!([[105.0, 1.0, "b", 5]]));
    }
}
