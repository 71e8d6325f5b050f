//! What sync needs from the network, behind a trait so that another transport (libp2p) can
//! replace HTTP: a peer's chain status, and a page of its blocks read within a byte limit.
//!
//! [`SyncClient`] is the HTTP transport: `GET /chain/status` and `GET /chain/blocks`,
//! bodies read chunk by chunk and abandoned as soon as they pass the limit, so a peer that
//! sends a huge page costs a bounded buffer, not the page.

use std::future::Future;
use std::time::Duration;

use doin_primitives::models::Block;
use doin_primitives::value::Value;

use super::{parse_blocks_page, parse_chain_status, PeerChain};

/// Largest `/chain/status` answer read.
const MAX_STATUS_BYTES: usize = 1 << 20;
/// Largest page read by [`SyncClient::blocks`] (tests and tools; sync uses its budget).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// A page of blocks as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The blocks, parsed exactly.
    pub blocks: Vec<Block>,
    /// Bytes of the body they came in.
    pub bytes: usize,
}

/// Why a page could not be had.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PageError {
    /// The body passed the byte limit (reading stopped there).
    #[error("page larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The peer could not be reached or answered something unreadable.
    #[error("{0}")]
    Peer(String),
}

/// A way to reach peers' chains.
pub trait BlockTransport: Clone + Send + Sync + 'static {
    /// The peer's chain status.
    fn chain_status(
        &self,
        peer: &str,
    ) -> impl Future<Output = Result<PeerChain, String>> + Send + 'static;

    /// The peer's blocks `from..=to`, refused once the answer passes `max_bytes`.
    fn page(
        &self,
        peer: &str,
        from: i64,
        to: i64,
        max_bytes: usize,
    ) -> impl Future<Output = Result<Page, PageError>> + Send + 'static;
}

/// An HTTP client for another node's sync endpoints.
#[derive(Clone)]
pub struct SyncClient {
    http: reqwest::Client,
}

impl Default for SyncClient {
    fn default() -> Self {
        Self::new()
    }
}

impl SyncClient {
    /// A client with short timeouts.
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        SyncClient { http }
    }

    /// `GET url`, the body read up to `limit` bytes; returns the value and its size.
    async fn get(&self, url: &str, limit: usize) -> Result<(Value, usize), PageError> {
        let peer = |e: String| PageError::Peer(format!("GET {url}: {e}"));
        let mut resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| peer(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(peer(format!("HTTP {}", resp.status())));
        }
        if resp.content_length().is_some_and(|l| l > limit as u64) {
            return Err(PageError::TooLarge { limit });
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| peer(e.to_string()))? {
            if body.len() + chunk.len() > limit {
                return Err(PageError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        let v = doin_primitives::json::parse_bytes(&body).map_err(|e| peer(e.to_string()))?;
        Ok((v, body.len()))
    }

    /// The peer's chain status.
    pub async fn chain_status(&self, endpoint: &str) -> Result<PeerChain, String> {
        let url = format!("http://{endpoint}/chain/status");
        let (v, _) = self
            .get(&url, MAX_STATUS_BYTES)
            .await
            .map_err(|e| e.to_string())?;
        let chain = parse_chain_status(&v)?;
        crate::metrics::METRICS.peer_height_seen(chain.height.max(0) as u64);
        Ok(chain)
    }

    /// The peer's blocks `from..=to` (at most 50), up to 64 MiB.
    pub async fn blocks(&self, endpoint: &str, from: i64, to: i64) -> Result<Vec<Block>, String> {
        self.fetch(endpoint, from, to, MAX_BODY)
            .await
            .map(|p| p.blocks)
            .map_err(|e| e.to_string())
    }

    async fn fetch(
        &self,
        endpoint: &str,
        from: i64,
        to: i64,
        max_bytes: usize,
    ) -> Result<Page, PageError> {
        let url = format!("http://{endpoint}/chain/blocks?from={from}&to={to}");
        let (v, bytes) = self.get(&url, max_bytes).await?;
        let blocks =
            parse_blocks_page(&v).map_err(|e| PageError::Peer(format!("{e} (from {endpoint})")))?;
        Ok(Page { blocks, bytes })
    }
}

impl BlockTransport for SyncClient {
    fn chain_status(
        &self,
        peer: &str,
    ) -> impl Future<Output = Result<PeerChain, String>> + Send + 'static {
        let (client, peer) = (self.clone(), peer.to_owned());
        async move { SyncClient::chain_status(&client, &peer).await }
    }

    fn page(
        &self,
        peer: &str,
        from: i64,
        to: i64,
        max_bytes: usize,
    ) -> impl Future<Output = Result<Page, PageError>> + Send + 'static {
        let (client, peer) = (self.clone(), peer.to_owned());
        async move { client.fetch(&peer, from, to, max_bytes).await }
    }
}
