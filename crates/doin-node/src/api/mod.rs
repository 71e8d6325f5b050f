//! The HTTP API on the node's one port: the reference's paths and JSON shapes.
//!
//! * [`chain`] — `/chain/status`, `/chain/blocks`, `/chain/block/{index}` (sync and users).
//! * [`message`] — `POST /message`, the peer inbox.
//! * [`status`] — `/health`, `/status`, `/peers`.
//! * [`coin`] — `/fees`, `POST /transfers`, `/balance/{address}` (DOIN's coin).
//! * [`commitments`] — `POST /commitments`, `/commitments/{optimizer_id}/{bound}` (optimizers' commitments,
//!   on chain before their reveals).
//! * [`channels`] — `POST /channels`, `/channels/{id}`, `/channels`, `POST /channels/check`
//!   (payment channels on chain).
//! * [`tasks`] — `/tasks/pending`, `/tasks/claim`, `/tasks/complete` (pull-based evaluators).
//! * [`inference`] — `POST /inference`, `GET /inference/{task_id}` (requests served by a
//!   domain's best model; merged by the node with the inference service as state).
//! * [`inference_channels`] — `/inference/channels`, `/inference/channels/{id}`, `POST
//!   /inference/channels/{id}/close` (the channels paying this node for inference).
//! * [`stats`] — `/stats`, `/stats/experiments`, `/stats/rounds`, `/stats/chain-metrics`,
//!   `/stats/export` (experiment tracking, read from the OLAP database).
//! * [`openapi`] — `/openapi.json`, the document describing all of the above.
//! * `/metrics` ([`crate::metrics`]) and `/dashboard*` ([`crate::dashboard`]).
//!
//! Handlers read snapshots ([`crate::view`]) and a read-only store connection; none of them
//! waits on block production. Bad parameters get `400` with a JSON error body.

pub mod chain;
pub mod channels;
pub mod coin;
pub mod commitments;
pub mod error;
pub mod inference;
pub mod inference_channels;
pub mod message;
pub mod openapi;
pub mod stats;
pub mod status;
pub mod tasks;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use doin_primitives::models::Block;
use tokio::sync::watch;

use crate::task_queue::TaskQueue;
use crate::view::{ChainView, DomainBoard};

/// Reads stored blocks for the API (a read-only store connection).
pub trait BlockSource: Send + Sync + 'static {
    /// Blocks `from..=to` in order.
    fn blocks(&self, from: i64, to: i64) -> Result<Vec<Block>, String>;
    /// One block.
    fn block(&self, index: i64) -> Result<Option<Block>, String>;
    /// Blocks `from..=to` as their stored wire JSON (served without re-encoding).
    fn blocks_json(&self, from: i64, to: i64) -> Result<Vec<String>, String> {
        self.blocks(from, to).map(|bs| {
            bs.iter()
                .map(doin_primitives::models::WireModel::to_wire_json)
                .collect()
        })
    }
}

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

/// The router with every route.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/message", post(message::message))
        .route("/health", get(status::health))
        .route("/status", get(status::status))
        .route("/peers", get(status::peers))
        .route("/fees", get(coin::fees))
        .route("/transfers", post(coin::submit_transfer))
        .route("/balance/{address}", get(coin::balance))
        .route("/commitments", post(commitments::submit))
        .route(
            "/commitments/{optimizer_id}/{bound}",
            get(commitments::lookup),
        )
        .route("/channels", post(channels::submit).get(channels::summary))
        .route("/channels/check", post(channels::check))
        .route("/channels/{id}", get(channels::channel))
        .route("/chain/status", get(chain::chain_status))
        .route("/chain/blocks", get(chain::chain_blocks))
        .route("/chain/block/{index}", get(chain::chain_block))
        .route("/tasks/pending", get(tasks::pending))
        .route("/tasks/claim", post(tasks::claim))
        .route("/tasks/complete", post(tasks::complete))
        .route("/stats", get(stats::summary))
        .route("/stats/experiments", get(stats::experiments))
        .route("/stats/rounds", get(stats::rounds))
        .route("/stats/chain-metrics", get(stats::chain_metrics))
        .route(
            "/stats/export",
            get(stats::export).layer(axum::Extension(stats::ExportSlots::default())),
        )
        .route("/openapi.json", get(openapi::openapi))
        .route("/metrics", get(crate::metrics::metrics))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state.clone())
        .merge(crate::dashboard::routes(&state))
        .layer(axum::middleware::from_fn(crate::metrics::http_latency))
}

/// Largest request body accepted on any path.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
