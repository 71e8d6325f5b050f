//! An evaluator's calls on another node's task queue — pending tasks, claim, complete —
//! over HTTP (`/tasks/*`) for `host:port` peers and over libp2p (`/doin/tasks/1`) for
//! `/p2p/<id>` ones ([`crate::p2p`]). Answers are read within a byte bound either way.

use std::time::Duration;

use doin_net::p2p::{P2pHandle, TaskCall};
use doin_primitives::value::Value;

use crate::p2p::peer_of_endpoint;

/// Tasks asked per call (per domain over libp2p).
pub const REMOTE_TASKS: usize = 20;
/// Largest `/tasks/pending` answer read (inflated): [`REMOTE_TASKS`] tasks of parameters
/// of at most [`doin_consensus::bounds::MAX_PARAMETERS_BYTES`] each, with room for the rest.
const MAX_TASKS_BODY: usize = 24 * doin_consensus::bounds::MAX_PARAMETERS_BYTES;

/// The evaluator's client for other nodes' task queues.
#[derive(Clone)]
pub struct RemoteTasks {
    http: reqwest::Client,
    p2p: Option<P2pHandle>,
}

impl RemoteTasks {
    /// A client; `p2p` reaches the libp2p peers.
    pub fn new(p2p: Option<P2pHandle>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        RemoteTasks { http, p2p }
    }

    fn p2p_peer(&self, endpoint: &str) -> Option<(&P2pHandle, libp2p::PeerId)> {
        Some((self.p2p.as_ref()?, peer_of_endpoint(endpoint)?))
    }

    /// The tasks of `domains` pending at `endpoint` (`None`: unreachable or unreadable).
    pub async fn pending(&self, endpoint: &str, domains: &[String]) -> Option<Vec<Value>> {
        if peer_of_endpoint(endpoint).is_some() {
            let (p2p, peer) = self.p2p_peer(endpoint)?;
            let mut tasks = Vec::new();
            for domain in domains {
                let call = TaskCall::Pending {
                    domain: domain.clone(),
                };
                let Ok(json) = p2p.task_call(peer, call).await else {
                    continue;
                };
                tasks.extend(tasks_of(&doin_primitives::json::parse_bytes(&json).ok()?));
            }
            return Some(tasks);
        }
        let list = domains.join(",");
        let url = format!("http://{endpoint}/tasks/pending?domains={list}&limit={REMOTE_TASKS}");
        let resp = self.http.get(&url).send().await.ok()?;
        let body = crate::http_body::read_bounded(resp, MAX_TASKS_BODY)
            .await
            .ok()?;
        Some(tasks_of(&doin_primitives::json::parse_bytes(&body).ok()?))
    }

    /// Claims a task at `endpoint` (`body`: `{"task_id", "evaluator_id"}`); whether it is
    /// ours now.
    pub async fn claim(&self, endpoint: &str, body: String) -> bool {
        self.post(endpoint, "claim", body).await
    }

    /// Completes a task at `endpoint` with our vote; whether the node took it.
    pub async fn complete(&self, endpoint: &str, body: String) -> bool {
        self.post(endpoint, "complete", body).await
    }

    async fn post(&self, endpoint: &str, what: &str, body: String) -> bool {
        if peer_of_endpoint(endpoint).is_some() {
            let Some((p2p, peer)) = self.p2p_peer(endpoint) else {
                return false;
            };
            let call = if what == "claim" {
                TaskCall::Claim(body.into_bytes())
            } else {
                TaskCall::Complete(body.into_bytes())
            };
            return match p2p.task_call(peer, call).await {
                Ok(_) => true,
                Err(e) => {
                    tracing::debug!(peer = %endpoint, "task {what} refused: {e}");
                    false
                }
            };
        }
        self.http
            .post(format!("http://{endpoint}/tasks/{what}"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }
}

fn tasks_of(v: &Value) -> Vec<Value> {
    v.as_object()
        .and_then(|m| m.get("tasks"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}
