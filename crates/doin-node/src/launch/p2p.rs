//! The libp2p component: started from the node's key and `listen_addrs` before the chain
//! opens (so an address in use fails the start at once), then wired to the node's parts
//! by its event loop ([`crate::p2p::events`]).

use std::sync::Arc;

use doin_net::p2p::{P2pHandle, P2pNode};
use doin_primitives::identity::Identity;
use libp2p::Multiaddr;
use tokio::task::JoinHandle;

use crate::block_source::BlockSource;
use crate::chain_service::ChainHandle;
use crate::clock::SharedClock;
use crate::config::NodeConfig;
use crate::network::P2pWiring;
use crate::peers::PeerSet;
use crate::stop::StopToken;
use crate::task_queue::TaskQueue;

/// Admitted gossip waiting for the node's delivery handling.
const INBOUND_CAPACITY: usize = 256;

/// Starts libp2p on `listen` (`None`: it is off).
pub(crate) async fn start_p2p(
    config: &NodeConfig,
    identity: &Identity,
    listen: Option<Vec<Multiaddr>>,
) -> anyhow::Result<Option<P2pNode>> {
    match listen {
        Some(listen) => Ok(Some(crate::p2p::start(config, identity, listen).await?)),
        None => Ok(None),
    }
}

/// What the libp2p event loop answers from and hands on to.
pub(crate) struct P2pParts<'a> {
    pub(crate) peers: &'a PeerSet,
    pub(crate) chain: &'a ChainHandle,
    pub(crate) blocks: &'a Arc<dyn BlockSource>,
    pub(crate) queue: &'a Arc<TaskQueue>,
    pub(crate) clock: &'a SharedClock,
    pub(crate) stop: &'a StopToken,
    /// `accept_unsigned_messages`: take reference nodes' messages relayed over libp2p.
    pub(crate) accept_unsigned: bool,
}

/// A running libp2p component.
pub(crate) struct LaunchedP2p {
    /// Its handle.
    pub(crate) handle: P2pHandle,
    /// The task owning the swarm (ends after [`P2pHandle::shutdown`]).
    pub(crate) task: JoinHandle<()>,
    /// The node's event loop.
    pub(crate) events: JoinHandle<()>,
}

/// Spawns the event loop of `node`; returns what [`crate::network::start`] wires in.
pub(crate) fn wire_p2p(node: P2pNode, parts: P2pParts<'_>) -> (P2pWiring, LaunchedP2p) {
    let (tx, rx) = tokio::sync::mpsc::channel(INBOUND_CAPACITY);
    let ctx = crate::p2p::events::EventContext {
        handle: node.handle.clone(),
        peers: parts.peers.clone(),
        chain: parts.chain.clone(),
        blocks: parts.blocks.clone(),
        queue: parts.queue.clone(),
        clock: parts.clock.clone(),
        accept_unsigned: parts.accept_unsigned,
        inbound: tx,
        stop: parts.stop.clone(),
    };
    let events = tokio::spawn(crate::p2p::events::run(ctx, node.events));
    let wiring = P2pWiring {
        handle: node.handle.clone(),
        inbound: rx,
    };
    let launched = LaunchedP2p {
        handle: node.handle,
        task: node.task,
        events,
    };
    (wiring, launched)
}
