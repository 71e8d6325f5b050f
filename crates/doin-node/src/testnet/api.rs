//! HTTP calls to a test network's nodes, as a client (or a reference node) on loopback
//! makes them.

use std::time::{Duration, Instant};

/// HTTP calls to a test network's nodes by index, as a client on loopback makes them.
pub struct NodeApi {
    client: reqwest::Client,
    /// Each node's HTTP port (replace one after a restart).
    pub ports: Vec<u16>,
}

impl NodeApi {
    /// A client for the nodes on `ports`, each call bounded to 30 s.
    pub fn new(ports: Vec<u16>) -> anyhow::Result<NodeApi> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(NodeApi { client, ports })
    }

    /// `GET path` (no body) or `POST path` with a JSON body on node `node`: the status code
    /// and the JSON answer (`null` when the answer is not JSON).
    pub async fn call(
        &self,
        node: usize,
        path: &str,
        body: Option<String>,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let url = format!("http://127.0.0.1:{}{path}", self.ports[node]);
        let request = match body {
            None => self.client.get(url),
            Some(b) => self
                .client
                .post(url)
                .header("content-type", "application/json")
                .body(b),
        };
        let answer = request.send().await?;
        let code = answer.status().as_u16();
        Ok((code, answer.json().await.unwrap_or(serde_json::Value::Null)))
    }

    /// Waits, at most `limit`, until every node answers `GET path` with 200 and an answer
    /// `pred` holds for; returns node 0's answer, or an error saying what never happened.
    pub async fn wait_all(
        &self,
        path: &str,
        what: &str,
        limit: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> anyhow::Result<serde_json::Value> {
        let start = Instant::now();
        loop {
            let mut all = Vec::new();
            for node in 0..self.ports.len() {
                let (code, answer) = self.call(node, path, None).await?;
                if code == 200 && pred(&answer) {
                    all.push(answer);
                }
            }
            if all.len() == self.ports.len() {
                return Ok(all.swap_remove(0));
            }
            if start.elapsed() > limit {
                anyhow::bail!("{what} never held on every node within {limit:?} ({path})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl NodeApi {
    /// Follows node `node`'s chain as a reference node's sync does: `GET /chain/status`,
    /// then `GET /chain/blocks` from its own height in ranges of at most 50 blocks, each
    /// block's served JSON parsed with the reference's models and appended by its rule
    /// ([`doin_consensus::reference::sync`]). Fails naming the first block it refuses.
    pub async fn follow_as_reference(
        &self,
        node: usize,
    ) -> anyhow::Result<doin_consensus::reference::sync::ReferenceFollower> {
        use doin_primitives::value::Value;
        let mut follower = doin_consensus::reference::sync::ReferenceFollower::new();
        let (_, status) = self.call(node, "/chain/status", None).await?;
        let their_height = status["chain_height"]
            .as_i64()
            .ok_or_else(|| anyhow::anyhow!("/chain/status without chain_height: {status}"))?;
        while follower.height() < their_height {
            let from = follower.height();
            let to = (their_height - 1).min(from + 49);
            let url = format!(
                "http://127.0.0.1:{}/chain/blocks?from={from}&to={to}",
                self.ports[node]
            );
            let text = self.client.get(url).send().await?.text().await?;
            let answer = doin_primitives::json::parse(&text)?;
            let Some(Value::Array(blocks)) = answer.as_object().and_then(|m| m.get("blocks"))
            else {
                anyhow::bail!("/chain/blocks answer without a blocks list: {text:.200}");
            };
            if blocks.is_empty() {
                anyhow::bail!("/chain/blocks from {from} to {to} served no block");
            }
            for b in blocks {
                let index = follower.height();
                follower
                    .append(b)
                    .map_err(|e| anyhow::anyhow!("a reference node refuses block {index}: {e}"))?;
            }
        }
        Ok(follower)
    }
}
