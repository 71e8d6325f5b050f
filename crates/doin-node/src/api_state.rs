//! [`ApiState`]: everything the node's HTTP surfaces read (the API, `/metrics`, the
//! dashboard), and the static facts they report ([`NodeInfo`], [`DomainInfo`]). It sits
//! below those surfaces, so they share it without depending on each other.

use std::sync::Arc;

use tokio::sync::watch;

use crate::block_source::BlockSource;
use crate::task_queue::TaskQueue;
use crate::view::{ChainView, DomainBoard};

/// This node's static facts the API reports.
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    /// Full peer id.
    pub peer_id: String,
    /// HTTP port.
    pub port: u16,
    /// `sqlite`.
    pub storage_backend: String,
    /// `gossipsub` or `flooding`.
    pub network_protocol: String,
    /// Whether the fee market is on.
    pub fee_market_enabled: bool,
    /// Each domain and this node's roles in it.
    pub domains: Vec<DomainInfo>,
    /// The config's `fleet_nodes`: nodes the fleet view may fetch besides this node and
    /// its peers.
    pub fleet_nodes: Vec<String>,
    /// When the node started (`None` in API-only tests).
    pub started: Option<std::time::Instant>,
}

/// A domain as `/status` reports it.
#[derive(Debug, Clone, Default)]
pub struct DomainInfo {
    /// Domain id.
    pub domain_id: String,
    /// Optimizes here.
    pub optimize: bool,
    /// Evaluates here.
    pub evaluate: bool,
    /// Has a synthetic-data generator.
    pub synthetic: bool,
    /// Target performance.
    pub target_performance: Option<f64>,
}

/// Everything a handler may read.
#[derive(Clone)]
pub struct ApiState {
    /// Latest chain snapshot.
    pub chain: watch::Receiver<Arc<ChainView>>,
    /// Stored blocks.
    pub blocks: Arc<dyn BlockSource>,
    /// Known peer endpoints.
    pub peers: crate::peers::PeerSet,
    /// The network service (`None` in API-only tests).
    pub net: Option<doin_net::service::NetHandle>,
    /// The libp2p transport (`None` when off, and in API-only tests).
    pub p2p: Option<doin_net::p2p::P2pHandle>,
    /// The task queue.
    pub tasks: Arc<TaskQueue>,
    /// Per-domain progress.
    pub board: DomainBoard,
    /// Static facts.
    pub info: Arc<NodeInfo>,
    /// Experiment stats (`/stats*`); `None` answers 503.
    pub stats: Option<doin_stats::StatsHandle>,
    /// The chain service, for transfers and accounts (`None` answers 503).
    pub chain_service: Option<crate::chain_service::WeakChainHandle>,
}

impl ApiState {
    /// The latest chain snapshot.
    pub fn chain_view(&self) -> Arc<ChainView> {
        self.chain.borrow().clone()
    }
}
