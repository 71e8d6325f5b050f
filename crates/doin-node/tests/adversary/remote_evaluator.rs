//! The HTTP side of a remote evaluator: the nodes' task API as the attacker calls it.

use std::time::{Duration, Instant};

use doin_consensus::QuorumVote;
use doin_node::task_queue::QueuedTask;
use doin_primitives::value::Value;

use super::DOMAIN;

/// The HTTP side of a remote evaluator.
pub struct Http(reqwest::Client);

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

impl Http {
    /// A client with short timeouts.
    pub fn new() -> Self {
        Http(
            reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("client"),
        )
    }

    /// `GET /tasks/pending` of `endpoint`.
    pub async fn pending(&self, endpoint: &str) -> Vec<QueuedTask> {
        let url = format!("http://{endpoint}/tasks/pending?domains={DOMAIN}&limit=50");
        let Ok(resp) = self.0.get(url).send().await else {
            return Vec::new();
        };
        let text = resp.text().await.unwrap_or_default();
        let Ok(v) = doin_primitives::json::parse(&text) else {
            return Vec::new();
        };
        v.as_object()
            .and_then(|m| m.get("tasks"))
            .and_then(Value::as_array)
            .map(|l| l.iter().filter_map(QueuedTask::from_value).collect())
            .unwrap_or_default()
    }

    /// Waits (bounded) for a pending verification task with a quorum on any of `endpoints`,
    /// other than those in `seen` (to which it is added).
    pub async fn next_quorum_task(
        &self,
        endpoints: &[String],
        seen: &mut std::collections::BTreeSet<String>,
    ) -> (String, QueuedTask) {
        self.next_task(endpoints, seen, true).await
    }

    /// As [`Self::next_quorum_task`], for a task with (`quorum`) or without a quorum (an
    /// open task of a young chain).
    pub async fn next_task(
        &self,
        endpoints: &[String],
        seen: &mut std::collections::BTreeSet<String>,
        quorum: bool,
    ) -> (String, QueuedTask) {
        let start = Instant::now();
        loop {
            for e in endpoints {
                if let Some(t) = self
                    .pending(e)
                    .await
                    .into_iter()
                    .find(|t| t.quorum.is_empty() != quorum && !seen.contains(&t.id))
                {
                    seen.insert(t.id.clone());
                    return (e.clone(), t);
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no verification task seen"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// POSTs `body` to `path` of `endpoint`: the status and the JSON answer.
    pub async fn post(&self, endpoint: &str, path: &str, body: String) -> (u16, serde_json::Value) {
        let resp = self
            .0
            .post(format!("http://{endpoint}{path}"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the node answers");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or_default())
    }

    /// `POST /tasks/claim` in the name of `evaluator_id`.
    pub async fn claim(
        &self,
        endpoint: &str,
        task_id: &str,
        evaluator_id: &str,
    ) -> (u16, serde_json::Value) {
        let body = serde_json::json!({"task_id": task_id, "evaluator_id": evaluator_id});
        self.post(endpoint, "/tasks/claim", body.to_string()).await
    }

    /// `POST /tasks/complete` in the name of `evaluator_id` with `vote`.
    pub async fn complete(
        &self,
        endpoint: &str,
        task_id: &str,
        evaluator_id: &str,
        vote: &QuorumVote,
    ) -> (u16, serde_json::Value) {
        let body = format!(
            r#"{{"task_id":{},"evaluator_id":{},"verified_performance":{},"vote":{}}}"#,
            serde_json::Value::from(task_id),
            serde_json::Value::from(evaluator_id),
            doin_primitives::json::to_wire_json(&vote.verified_performance.into()),
            doin_primitives::json::to_wire_json(&vote.to_value()),
        );
        self.post(endpoint, "/tasks/complete", body).await
    }
}
