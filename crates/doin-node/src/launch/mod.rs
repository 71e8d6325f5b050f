//! Launching a node, one function per component, each from the typed config and the
//! components it talks to ([`crate::node::start`] calls them in order):
//! * [`chain`] — `chain.db` opened, replayed and checked against the published anchors;
//!   the chain service and its anchor publisher;
//! * [`stats`] — the experiment stats, caught up with the chain; the PostgreSQL export;
//! * [`workers`] — the evaluator thread and one optimizer loop per optimizing domain;
//! * [`inference`] — the inference worker, channel settlement and the log's retention;
//! * [`api`] — the HTTP server with the API and the inference routes;
//! * [`p2p`] — libp2p, started from the node's key before the chain opens, and its event
//!   loop wired to the node's parts.
//!
//! The network service is launched by [`crate::network::start`], the sync loop by
//! [`crate::peers::sync_loop`] and the progress lines by [`crate::progress::run`].

pub(crate) mod api;
pub(crate) mod chain;
pub(crate) mod inference;
pub(crate) mod p2p;
pub(crate) mod stats;
pub(crate) mod workers;

use std::sync::Arc;

use doin_consensus::params::ChainParams;
use doin_plugins::PluginRegistry;
use doin_primitives::identity::Identity;

use crate::chain_service::ChainHandle;
use crate::clock::SharedClock;
use crate::config::NodeConfig;
use crate::migration::MigrantBoard;
use crate::peers::PeerSet;
use crate::stop::StopToken;
use crate::task_queue::TaskQueue;
use crate::view::DomainBoard;

/// What the components launched after the chain service share: the node's parts they
/// talk to.
pub(crate) struct Shared<'a> {
    /// The node's config (its domain roles).
    pub(crate) config: &'a NodeConfig,
    /// The plugins it runs.
    pub(crate) registry: &'a PluginRegistry,
    /// The chain's parameters (each domain's rules).
    pub(crate) params: &'a ChainParams,
    /// This node.
    pub(crate) identity: &'a Arc<Identity>,
    /// The chain service.
    pub(crate) chain: &'a ChainHandle,
    /// The task queue verification tasks go through.
    pub(crate) queue: &'a Arc<TaskQueue>,
    /// The progress board.
    pub(crate) board: &'a DomainBoard,
    /// The peers.
    pub(crate) peers: &'a PeerSet,
    /// The network service.
    pub(crate) net: &'a doin_net::service::NetHandle,
    /// Gossip out on both transports.
    pub(crate) broadcast: &'a crate::p2p::broadcast::Broadcast,
    /// The libp2p transport, when it runs.
    pub(crate) p2p: Option<&'a doin_net::p2p::P2pHandle>,
    /// The experiment stats.
    pub(crate) stats: &'a doin_stats::StatsHandle,
    /// Other nodes' revealed optimae.
    pub(crate) migrants: &'a MigrantBoard,
    /// The verification tasks announced to this node's evaluator.
    pub(crate) announced_tasks: &'a crate::announced_tasks::AnnouncedTasks,
    /// The node's stop token.
    pub(crate) stop: &'a StopToken,
    /// The node's clock.
    pub(crate) clock: &'a SharedClock,
    /// The async runtime the threads talk to components through.
    pub(crate) runtime: &'a tokio::runtime::Handle,
}
