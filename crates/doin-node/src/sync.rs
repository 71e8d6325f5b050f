//! Block sync: pull a peer's blocks over HTTP (`GET /chain/status`, `GET /chain/blocks` in
//! pages of at most 50) when its chain is longer or it claims more weight
//! (`cumulative_work`, a hint only), find where its chain forks from ours, and hand the
//! blocks to the chain service, which validates every one and keeps the heavier valid chain
//! (never reverting a finalized block). Every refusal is a typed [`SyncError`]. Reference
//! nodes are never synced from ([`SyncReport::ReferenceNode`]).
//!
//! Bodies are parsed with DOIN's own JSON parser, never a lossy one, so every float a block
//! carries hashes exactly as it was sent.

use std::sync::Arc;
use std::time::Duration;

use doin_primitives::models::{Block, WireModel};
use doin_primitives::value::Value;

use crate::api::BlockSource;
use crate::chain_service::{ChainHandle, ImportError, ImportOutcome};

/// Blocks per `/chain/blocks` request (the API's cap).
pub const PAGE: i64 = 50;
/// Largest response body accepted from a peer.
const MAX_BODY: usize = 64 * 1024 * 1024;
/// Most blocks of a competing branch held in memory while weighing it.
const MAX_BRANCH: usize = 100_000;

/// A peer's `/chain/status`.
#[derive(Debug, Clone)]
pub struct PeerChain {
    /// Number of blocks.
    pub height: i64,
    /// Tip hash.
    pub tip_hash: String,
    /// Its chain parameters' hash (absent for reference nodes).
    pub params_hash: Option<String>,
    /// The fork-choice weight it claims (absent for reference nodes): only a reason to
    /// fetch its blocks, which are weighed again as they are validated.
    pub cumulative_work: Option<f64>,
}

/// What a sync did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncReport {
    /// Nothing to do: the peer is not ahead or agrees.
    UpToDate,
    /// Imported from the peer.
    Imported(Vec<ImportOutcome>),
    /// The peer is a reference node (its status has no `params_hash`): what it serves is
    /// our blocks without their seals (its models drop the keys it does not know), which
    /// no DOIN node takes, so it is not asked for them.
    ReferenceNode,
}

/// Why a sync with a peer failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SyncError {
    /// The peer could not be reached or answered something unreadable.
    #[error("{0}")]
    Peer(String),
    /// The peer runs another network.
    #[error("peer runs other chain parameters ({theirs}, ours {ours}); not syncing")]
    OtherParams {
        /// Its parameters' hash.
        theirs: String,
        /// Ours.
        ours: String,
    },
    /// The peer's chain shares no block with ours, not even genesis.
    #[error("peer does not share our genesis block")]
    NoCommonGenesis,
    /// The peer's chain forks from ours below our finalized height.
    #[error("peer forks below our finalized height {finalized}")]
    ForksBelowFinality {
        /// Our finalized height.
        finalized: i64,
    },
    /// The peer's competing branch is longer than we hold in memory.
    #[error("peer's branch is longer than {MAX_BRANCH} blocks")]
    BranchTooLong,
    /// The peer claimed a heavier chain than ours, but its blocks do not make one.
    #[error("peer claims weight {claimed} but its blocks are not heavier than ours ({ours})")]
    WeightNotShown {
        /// The weight it claimed.
        claimed: f64,
        /// Ours.
        ours: f64,
    },
    /// The chain service refused the peer's blocks.
    #[error(transparent)]
    Import(#[from] ImportError),
}

impl From<String> for SyncError {
    fn from(reason: String) -> Self {
        SyncError::Peer(reason)
    }
}

impl SyncError {
    /// Whether the peer served a chain our rules refuse (an invalid block, a branch below
    /// our finality, another network), as opposed to failing to answer.
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            SyncError::Peer(_)
                | SyncError::Import(
                    ImportError::Store(_) | ImportError::Panicked | ImportError::Stopped
                )
        )
    }
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

    async fn get(&self, url: &str) -> Result<Value, String> {
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("GET {url}: HTTP {}", resp.status()));
        }
        let bytes = crate::http_body::read_bounded(resp, MAX_BODY)
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        doin_primitives::json::parse_bytes(&bytes).map_err(|e| format!("GET {url}: {e}"))
    }

    /// The peer's chain status.
    pub async fn chain_status(&self, endpoint: &str) -> Result<PeerChain, String> {
        let v = self.get(&format!("http://{endpoint}/chain/status")).await?;
        let chain = parse_chain_status(&v)?;
        crate::metrics::METRICS.peer_height_seen(chain.height.max(0) as u64);
        Ok(chain)
    }

    /// The peer's blocks `from..=to` (at most 50).
    pub async fn blocks(&self, endpoint: &str, from: i64, to: i64) -> Result<Vec<Block>, String> {
        let v = self
            .get(&format!(
                "http://{endpoint}/chain/blocks?from={from}&to={to}"
            ))
            .await?;
        parse_blocks_page(&v).map_err(|e| format!("{e} (from {endpoint})"))
    }
}

/// Reads a peer's `GET /chain/status` answer.
pub fn parse_chain_status(v: &Value) -> Result<PeerChain, String> {
    let m = v.as_object().ok_or("chain/status is not an object")?;
    Ok(PeerChain {
        height: m
            .get("chain_height")
            .and_then(Value::as_i64)
            .ok_or("chain/status lacks chain_height")?,
        tip_hash: m
            .get("tip_hash")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        params_hash: m
            .get("params_hash")
            .and_then(Value::as_str)
            .map(str::to_owned),
        cumulative_work: m
            .get("cumulative_work")
            .and_then(Value::as_f64)
            .filter(|w| w.is_finite()),
    })
}

/// Reads a peer's `GET /chain/blocks` page: every block must parse.
pub fn parse_blocks_page(v: &Value) -> Result<Vec<Block>, String> {
    let list = v
        .as_object()
        .and_then(|m| m.get("blocks"))
        .and_then(Value::as_array)
        .ok_or("chain/blocks lacks blocks")?;
    list.iter()
        .map(|b| Block::from_value(b).map_err(|e| format!("block: {e}")))
        .collect()
}

/// Brings our chain up to the peer's if the peer's is longer or claims to be heavier (fork
/// choice is by weight, so a shorter chain may win); a claim its blocks do not back is a
/// [`SyncError::WeightNotShown`].
pub async fn sync_with(
    client: &SyncClient,
    endpoint: &str,
    chain: &ChainHandle,
    ours: &Arc<dyn BlockSource>,
    latency_to: Option<&crate::peers::PeerSet>,
) -> Result<SyncReport, SyncError> {
    let asked = std::time::Instant::now();
    let peer = client.chain_status(endpoint).await?;
    if let Some(peers) = latency_to {
        peers.record_latency(endpoint, asked.elapsed());
    }
    let view = chain.view();
    let Some(theirs) = &peer.params_hash else {
        return Ok(SyncReport::ReferenceNode);
    };
    if *theirs != view.params_hash {
        return Err(SyncError::OtherParams {
            theirs: theirs.clone(),
            ours: view.params_hash.clone(),
        });
    }
    let claims_heavier = peer
        .cumulative_work
        .is_some_and(|w| w > view.cumulative_work);
    let same = peer.height == view.height && peer.tip_hash == view.tip_hash;
    if !claims_heavier && (peer.height < view.height || same) {
        return Ok(SyncReport::UpToDate);
    }
    // Find the highest block both chains share, walking back a page at a time.
    let mut top = (peer.height - 1).min(view.tip_index);
    let fork_point = loop {
        let from = (top - PAGE + 1).max(0);
        let theirs = client.blocks(endpoint, from, top).await?;
        let mine = {
            let ours = ours.clone();
            tokio::task::spawn_blocking(move || ours.blocks(from, top))
                .await
                .map_err(|e| e.to_string())??
        };
        let shared = theirs.iter().rev().find(|t| {
            mine.iter()
                .any(|m| m.header.index == t.header.index && m.hash == t.hash)
        });
        if let Some(b) = shared {
            break b.header.index;
        }
        if from == 0 {
            return Err(SyncError::NoCommonGenesis);
        }
        if from <= view.finalized_height {
            return Err(SyncError::ForksBelowFinality {
                finalized: view.finalized_height,
            });
        }
        top = from - 1;
    };
    let mut outcomes = Vec::new();
    let extending = fork_point == view.tip_index;
    let mut branch: Vec<Block> = Vec::new();
    // Fetch the next page while the chain service validates the current one.
    let fetch = |from: i64| {
        let client = client.clone();
        let endpoint = endpoint.to_owned();
        let to = (from + PAGE - 1).min(peer.height - 1);
        async move { client.blocks(&endpoint, from, to).await }
    };
    let mut next = fork_point + 1;
    let mut in_flight = (next < peer.height).then(|| tokio::spawn(fetch(next)));
    while let Some(page) = in_flight.take() {
        let page = page.await.map_err(|e| e.to_string())??;
        if page.is_empty() {
            break;
        }
        next += page.len() as i64;
        if next < peer.height {
            in_flight = Some(tokio::spawn(fetch(next)));
        }
        if extending {
            match chain.import(page).await {
                Ok(o) => outcomes.push(o),
                Err(e) => {
                    if let Some(f) = in_flight.take() {
                        f.abort();
                    }
                    return Err(e.into());
                }
            }
        } else {
            branch.extend(page);
            if branch.len() > MAX_BRANCH {
                return Err(SyncError::BranchTooLong);
            }
        }
    }
    if !extending && !branch.is_empty() {
        outcomes.push(chain.import(branch).await?);
    }
    let gained = outcomes.iter().any(|o| !matches!(o, ImportOutcome::Kept));
    if let (Some(claimed), false) = (peer.cumulative_work.filter(|_| claims_heavier), gained) {
        return Err(SyncError::WeightNotShown {
            claimed,
            ours: chain.view().cumulative_work,
        });
    }
    Ok(SyncReport::Imported(outcomes))
}
