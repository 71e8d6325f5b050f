//! Snapshots of node state that readers (the HTTP API, the progress line) take without
//! waiting on the components that own the state.
//!
//! The chain service publishes a fresh [`ChainView`] through a `watch` channel after every
//! block; optimizer loops update their [`DomainProgress`] in [`DomainBoard`]. Readers clone
//! an `Arc`, so a busy API never slows block production. [`ChainStatus`] is what a view
//! reports to peers, on `GET /chain/status` and to libp2p sync requests alike.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde::Serialize;
use utoipa::ToSchema;

/// The chain as of the last block the node applied.
#[derive(Debug, Clone, Default)]
pub struct ChainView {
    /// Number of blocks, genesis included (the reference's `chain_height`).
    pub height: i64,
    /// Index of the tip.
    pub tip_index: i64,
    /// Hash of the tip.
    pub tip_hash: String,
    /// Header of the tip (`None` at genesis).
    pub tip_header: Option<doin_primitives::models::BlockHeader>,
    /// Transactions in the tip.
    pub tip_tx_count: i64,
    /// The tip, when this node minted it (its announcement carries the block).
    pub minted_tip: Option<Arc<doin_primitives::models::Block>>,
    /// Height of the last final checkpoint (-1 when none).
    pub finalized_height: i64,
    /// Threshold the next block must reach.
    pub threshold: f64,
    /// Network target block time, seconds.
    pub target_block_time: f64,
    /// EMA of block times, seconds.
    pub ema_block_time: f64,
    /// Blocks into the current difficulty epoch.
    pub blocks_in_epoch: u64,
    /// Difficulty epoch length.
    pub epoch_length: u64,
    /// Epoch retargets so far.
    pub total_adjustments: u64,
    /// Coins minted, base units.
    pub total_supply: u64,
    /// Coins burned by transfer base fees, base units (balances sum to supply − burned).
    pub total_burned: u64,
    /// The base fee of the next block, base units.
    pub base_fee: u64,
    /// Transfers pending in the mempool.
    pub mempool_size: usize,
    /// The mempool's capacity.
    pub mempool_limit: usize,
    /// This node's balance, base units.
    pub my_balance: u64,
    /// Largest balances, base units.
    pub top_holders: Vec<(String, u64)>,
    /// Peers with a reputation entry.
    pub reputation_tracked_peers: usize,
    /// The chain's fork-choice weight: the sum of its validated effective increments.
    pub cumulative_work: f64,
    /// Every peer's on-chain reputation (micro-points, decayed to the tip's timestamp).
    pub reputations: BTreeMap<String, u64>,
    /// Accepted optimae waiting for a block.
    pub pending_optimae: usize,
    /// Sum of their effective increments.
    pub pending_sum: f64,
    /// Best verified performance per domain on chain.
    pub domain_best: BTreeMap<String, f64>,
    /// The parameters of each domain's best optimae on chain (where optimizers start from
    /// after a restart, and what every node's optimizer adopts: island migration).
    pub domain_best_parameters: BTreeMap<String, doin_primitives::value::Map>,
    /// Transactions on chain.
    pub total_transactions: u64,
    /// Hash of the chain parameters (identical on every node of a network).
    pub params_hash: String,
    /// Whether this is a solo/dev chain (the lone node verifies its own optimae).
    pub solo: bool,
    /// Payment-channel totals on chain.
    pub channel_stats: doin_consensus::channel::ChannelStats,
}

/// One domain's optimization progress on this node.
#[derive(Debug, Clone, Default)]
pub struct DomainProgress {
    /// Rounds run since start.
    pub round: u64,
    /// Best performance this node has seen (its own or the chain's).
    pub best_performance: Option<f64>,
    /// The domain's target.
    pub target_performance: Option<f64>,
    /// Whether the target was reached and optimizing stopped.
    pub converged: bool,
    /// Optimae this node got accepted.
    pub accepted: u64,
    /// Optimae the quorum rejected.
    pub rejected: u64,
    /// Optimae committed.
    pub committed: u64,
    /// Experiment id of this run.
    pub experiment_id: String,
}

/// Per-domain progress, shared by the optimizer loops and the readers.
#[derive(Debug, Clone, Default)]
pub struct DomainBoard(Arc<RwLock<BTreeMap<String, DomainProgress>>>);

impl DomainBoard {
    /// Updates one domain's entry.
    pub fn update(&self, domain_id: &str, f: impl FnOnce(&mut DomainProgress)) {
        let mut map = self.0.write().unwrap_or_else(|p| p.into_inner());
        f(map.entry(domain_id.to_owned()).or_default());
    }

    /// A copy of every entry.
    pub fn snapshot(&self) -> BTreeMap<String, DomainProgress> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// `GET /chain/status`: the reference's keys, then DOIN's.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainStatus {
    /// Number of blocks, genesis included.
    pub chain_height: i64,
    /// Hash of the tip.
    pub tip_hash: String,
    /// Index of the tip (`chain_height - 1`).
    pub tip_index: i64,
    /// Height of the last final checkpoint (-1 when none).
    pub finalized_height: i64,
    /// Version of each component (`doin-node`).
    pub component_versions: BTreeMap<String, String>,
    /// Hash of the chain parameters this node runs (DOIN).
    #[schema(required = false)]
    pub params_hash: String,
    /// The chain's fork-choice weight (DOIN).
    #[schema(required = false)]
    pub cumulative_work: f64,
}

/// The `/chain/status` of a chain view (also what libp2p sync requests are answered).
pub fn status_of(v: &crate::view::ChainView) -> ChainStatus {
    ChainStatus {
        chain_height: v.height,
        tip_hash: v.tip_hash.clone(),
        tip_index: v.tip_index,
        finalized_height: v.finalized_height,
        component_versions: BTreeMap::from([(
            "doin-node".to_owned(),
            env!("CARGO_PKG_VERSION").to_owned(),
        )]),
        params_hash: v.params_hash.clone(),
        cumulative_work: v.cumulative_work,
    }
}
