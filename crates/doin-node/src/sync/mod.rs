//! Block sync: pull a peer's blocks (`GET /chain/status`, `GET /chain/blocks` in pages of
//! at most 50) when its chain is longer or it claims more weight (`cumulative_work`, a hint
//! only), find where its chain forks from ours, and hand the blocks to the chain service,
//! which validates every one and keeps the heavier valid chain (never reverting a
//! finalized block). Every refusal is a typed [`SyncError`]. Reference nodes are never synced
//! from ([`SyncReport::ReferenceNode`]).
//!
//! * [`engine`] — one sync with one peer, validating before it buffers: pages bounded in
//!   blocks and bytes, each block checked and imported before the next page is kept, a
//!   competing branch weighed as it grows, budgets per branch and per peer ([`budget`]).
//! * [`page`] — the checks a page passes before any of it is kept.
//! * [`transport`] — the [`BlockTransport`] trait the engine talks through, and its HTTP
//!   implementation [`SyncClient`].
//! * [`p2p`] — the libp2p implementation [`P2pTransport`] (`/doin/sync/1`), and
//!   [`NodeTransport`], which the sync loop uses: libp2p for `/p2p/<id>` peers, HTTP for
//!   `host:port` ones.
//!
//! Bodies are parsed with DOIN's own JSON parser, never a lossy one, so every float a block
//! carries hashes exactly as it was sent.

pub mod budget;
pub mod engine;
pub mod p2p;
pub mod page;
pub mod transport;

use doin_primitives::models::{Block, WireModel};
use doin_primitives::value::Value;

use crate::chain_service::{ImportError, ImportOutcome};

pub use budget::SyncBudget;
pub use engine::{sync_with, sync_within};
pub use p2p::{NodeTransport, P2pTransport};
pub use transport::{BlockTransport, Page, PageError, SyncClient};

/// Blocks per `/chain/blocks` request (the API's cap).
pub const PAGE: i64 = 50;

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
    /// The height of its last final checkpoint, as it claims it (-1: none): fork choice
    /// ranks finality before weight, so a lighter chain finalized higher is also a reason
    /// to fetch its blocks, whose finality is judged again as they are validated.
    pub finalized_height: Option<i64>,
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
    /// The peer's competing branch, still lighter than ours, holds more bytes than a
    /// branch may ([`SyncBudget::branch_bytes`]).
    #[error("peer's branch passed {limit} bytes while still lighter than our chain")]
    BranchTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The peer answered a page with more blocks than asked.
    #[error("peer answered {got} blocks where {asked} were asked")]
    PageTooLong {
        /// Blocks asked.
        asked: usize,
        /// Blocks sent.
        got: usize,
    },
    /// One block is larger than a page may be ([`SyncBudget::page_bytes`]).
    #[error("peer's block {index} is larger than {limit} bytes")]
    BlockTooLarge {
        /// The block's index.
        index: i64,
        /// The limit.
        limit: usize,
    },
    /// This sync read as much from the peer as one sync may ([`SyncBudget::peer_bytes`]).
    #[error("read {limit} bytes from the peer in one sync; going on next time")]
    PeerBudgetSpent {
        /// The limit.
        limit: usize,
    },
    /// The peer claimed a heavier chain than ours, but its blocks do not make one.
    #[error("peer claims weight {claimed} but its blocks are not heavier than ours ({ours})")]
    WeightNotShown {
        /// The weight it claimed.
        claimed: f64,
        /// Ours.
        ours: f64,
    },
    /// The peer claimed a higher finalized height than ours, but its blocks do not make a
    /// chain we prefer.
    #[error(
        "peer claims finalized height {claimed} but its blocks do not finalize above ours \
         ({ours})"
    )]
    FinalityNotShown {
        /// The finalized height it claimed.
        claimed: i64,
        /// Ours.
        ours: i64,
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
    /// Whether the peer served something no honest peer serves (an invalid block, a page
    /// longer than asked): it is dropped and the address it is reached at is charged.
    ///
    /// A block that does not link to the one before it, or is dated ahead of our clock, is
    /// refused but not held against the peer: an honest peer that reorganizes between two
    /// pages, or whose clock runs ahead, serves such blocks.
    pub fn is_offence(&self) -> bool {
        use doin_consensus::ConsensusError as Rule;
        match self {
            SyncError::PageTooLong { .. } => true,
            SyncError::Import(ImportError::InvalidBlock { source, .. }) => !matches!(
                source,
                Rule::WrongParent { .. }
                    | Rule::WrongHeight { .. }
                    | Rule::TimestampInFuture { .. }
            ),
            _ => false,
        }
    }

    /// Whether the peer served a chain our rules refuse (an invalid block, a branch below
    /// our finality, another network), as opposed to failing to answer.
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            SyncError::Peer(_)
                | SyncError::PeerBudgetSpent { .. }
                | SyncError::Import(
                    ImportError::Store(_) | ImportError::Panicked | ImportError::Stopped
                )
        )
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
        finalized_height: m.get("finalized_height").and_then(Value::as_i64),
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
