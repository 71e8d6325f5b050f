//! The fleet view's data: several nodes' `/chain/status` and `/status` side by side, and
//! whether their chains agree.
//!
//! Nodes come from `?nodes=host:port,host:port` or, without it, this node and the peers it
//! knows. Each is asked with a short timeout and at most [`CONCURRENCY`] at a time; only
//! `host:port` endpoints are accepted, only those of this node, its peers and the config's
//! `fleet_nodes` are fetched (any other is listed with an error saying so), only fixed
//! paths are asked and redirects are not followed, so the query cannot turn the node into
//! a proxy towards hosts the operator did not name. A node *agrees* when its tip is the
//! block at the same index on the highest chain in the fleet (fetched once per distinct
//! index).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::Json;
use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::DashboardState;

/// Most nodes in one fleet view.
pub const MAX_NODES: usize = 32;
/// Nodes asked at the same time.
pub const CONCURRENCY: usize = 8;
/// Why an endpoint the node does not know is not fetched.
pub const UNKNOWN_NODE: &str = "not fetched: neither this node nor one of its peers; list \
     it in the config's fleet_nodes to include it";
/// Per-request timeout.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Largest answer read from a member (inflated): status objects are a few KiB.
const MAX_BODY: usize = 4 << 20;

/// `?nodes=`.
#[derive(Debug, Deserialize)]
pub struct FleetQuery {
    nodes: Option<String>,
}

/// `host:port` from `host:port` or `http://host:port[/]`; `None` for anything else.
pub fn endpoint(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s.strip_prefix("http://").unwrap_or(s).trim_end_matches('/');
    let (host, port) = s.rsplit_once(':')?;
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
    (host_ok && port.parse::<u16>().is_ok()).then(|| format!("{host}:{port}"))
}

/// The endpoints the fleet view may fetch: this node's, its peers' and the config's
/// `fleet_nodes`.
fn known_endpoints(s: &DashboardState) -> BTreeSet<String> {
    let port = s.api.info.port;
    let mut known: BTreeSet<String> = [format!("127.0.0.1:{port}"), format!("localhost:{port}")]
        .into_iter()
        .collect();
    known.extend(s.api.peers.endpoints().iter().filter_map(|e| endpoint(e)));
    known.extend(s.api.info.fleet_nodes.iter().filter_map(|e| endpoint(e)));
    known
}

async fn get_json(http: &reqwest::Client, url: String) -> Result<Value, String> {
    let r = http.get(&url).send().await.map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("{url}: HTTP {}", r.status()));
    }
    let body = crate::http_body::read_bounded(r, MAX_BODY)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    serde_json::from_slice(&body).map_err(|e| format!("{url}: {e}"))
}

/// One node's facts, or why it could not be read.
async fn member(http: &reqwest::Client, endpoint: String) -> Value {
    let chain = get_json(http, format!("http://{endpoint}/chain/status"));
    let status = get_json(http, format!("http://{endpoint}/status"));
    let (chain, status) = tokio::join!(chain, status);
    match (chain, status) {
        (Ok(c), Ok(s)) => {
            let best: BTreeMap<String, Value> = s["domains"]
                .as_object()
                .map(|d| {
                    d.iter()
                        .map(|(k, v)| (k.clone(), v["chain_best_performance"].clone()))
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "endpoint": endpoint,
                "online": true,
                "peer_id": s["peer_id"],
                "height": c["chain_height"],
                "tip_index": c["tip_index"],
                "tip_hash": c["tip_hash"],
                "finalized_height": c["finalized_height"],
                "peers": s["peers"],
                "best": best,
            })
        }
        (Err(e), _) | (_, Err(e)) => json!({"endpoint": endpoint, "online": false, "error": e}),
    }
}

/// `GET /dashboard/fleet/data`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FleetData {
    /// The endpoint of the node with the highest chain.
    pub reference: Option<String>,
    /// Whether every online node's tip is on the reference chain.
    pub all_agree: bool,
    /// Nodes that answered.
    pub online: usize,
    /// Each node: `{endpoint, online, peer_id, height, tip_index, tip_hash,
    /// finalized_height, peers, best, agrees}`, or `{endpoint, online: false, error}`.
    #[schema(value_type = Vec<Object>)]
    pub members: Vec<Value>,
}

/// `GET /dashboard/fleet/data`.
#[utoipa::path(get, path = "/dashboard/fleet/data", tag = "dashboard",
    summary = "Each node's height, tip and best performance, and whether its tip is on the highest chain",
    params(("nodes" = Option<String>, Query, description = "comma-separated host:port (default: this node and its peers; at most 32)")),
    responses((status = 200, body = FleetData),
        (status = 500, description = "no HTTP client could be made", body = crate::http_error::ErrorBody)))]
pub async fn data(
    State(s): State<DashboardState>,
    Query(q): Query<FleetQuery>,
) -> Result<Json<FleetData>, crate::http_error::ApiError> {
    let mut endpoints: Vec<String> = match &q.nodes {
        Some(list) => list.split(',').filter_map(endpoint).collect(),
        None => {
            let mut v = vec![format!("127.0.0.1:{}", s.api.info.port)];
            // HTTP peers only: the fleet view reads each node's HTTP API.
            v.extend(
                s.api
                    .peers
                    .endpoints()
                    .into_iter()
                    .filter(|e| crate::p2p::peer_of_endpoint(e).is_none()),
            );
            v
        }
    };
    let mut seen = BTreeSet::new();
    endpoints.retain(|e| seen.insert(e.clone()));
    endpoints.truncate(MAX_NODES);
    let known = known_endpoints(&s);
    let http = match reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => return Err(crate::http_error::ApiError::internal(e.to_string())),
    };
    let mut members: Vec<Value> = stream::iter(endpoints)
        .map(|e| {
            let http = http.clone();
            let known = known.contains(&e);
            async move {
                if known {
                    member(&http, e).await
                } else {
                    json!({"endpoint": e, "online": false, "error": UNKNOWN_NODE})
                }
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    // The reference chain: the highest node's.
    let reference = members
        .iter()
        .filter(|m| m["online"] == true)
        .max_by_key(|m| m["height"].as_i64().unwrap_or(0))
        .map(|m| m["endpoint"].as_str().unwrap_or_default().to_owned());
    let mut hashes: BTreeMap<i64, Option<String>> = BTreeMap::new();
    if let Some(r) = &reference {
        for m in members.iter().filter(|m| m["online"] == true) {
            let Some(i) = m["tip_index"].as_i64() else {
                continue;
            };
            if hashes.contains_key(&i) || hashes.len() >= MAX_NODES {
                continue;
            }
            let h = get_json(&http, format!("http://{r}/chain/block/{i}"))
                .await
                .ok()
                .and_then(|b| b["hash"].as_str().map(str::to_owned));
            hashes.insert(i, h);
        }
    }
    for m in members.iter_mut().filter(|m| m["online"] == true) {
        let at = m["tip_index"]
            .as_i64()
            .and_then(|i| hashes.get(&i).cloned().flatten());
        let agrees = at.is_some_and(|h| m["tip_hash"].as_str() == Some(h.as_str()));
        m["agrees"] = json!(agrees);
    }
    let online: Vec<&Value> = members.iter().filter(|m| m["online"] == true).collect();
    let all_agree = !online.is_empty() && online.iter().all(|m| m["agrees"] == true);
    let online = online.len();
    Ok(Json(FleetData {
        reference,
        all_agree,
        online,
        members,
    }))
}

#[cfg(test)]
mod tests {
    use super::endpoint;

    #[test]
    fn only_host_port_endpoints_are_accepted() {
        assert_eq!(
            endpoint("127.0.0.1:8470").as_deref(),
            Some("127.0.0.1:8470")
        );
        assert_eq!(endpoint(" http://node-a:1/ ").as_deref(), Some("node-a:1"));
        assert_eq!(endpoint("127.0.0.1:8470/x?y"), None);
        assert_eq!(endpoint("file:///etc/passwd"), None);
        assert_eq!(endpoint("a@b:1"), None);
        assert_eq!(endpoint("host:99999"), None);
    }
}
