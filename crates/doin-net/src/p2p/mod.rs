//! The libp2p transport: node-to-node traffic on rust-libp2p, every connection
//! authenticated by the node's own P-256 key.
//!
//! ## Bird's eye view
//!
//! [`P2pNode::start`] builds the swarm ([`behaviour`]) from the node's [`Identity`]
//! ([`identity`]: the same key, the DOIN id proven on every connection) and a
//! [`P2pConfig`] ([`config`]), spawns the one task that owns it (`actor.rs`) and returns a
//! cheap [`P2pHandle`] ([`handle`]) plus a bounded receiver of [`P2pEvent`]s.
//!
//! * Gossip: one gossipsub topic per kind, per domain for the domain-bound kinds
//!   ([`topics`]); reference nodes' unsealed messages, relayed by a doin node that takes
//!   them over HTTP, on a family of their own that only nodes accepting unsealed messages
//!   join ([`P2pConfig::reference_topics`], [`P2pHandle::publish_of`]). Validation mode: a received message reaches the node as
//!   [`P2pEvent::Gossip`] and nothing is forwarded until the node calls
//!   [`P2pHandle::report`]; a bad verdict rejects it (gossipsub's invalid-delivery
//!   penalty) and charges the connection's peer in [`crate::scoring::AppScores`], which
//!   feeds gossipsub's application score and, below the ban line, disconnects and refuses
//!   the peer until the ban ends. Message ids are content hashes; frames are bounded by
//!   [`P2pConfig::max_message_bytes`].
//! * Sync: request-response on `/doin/sync/1` ([`codec`]): chain status and pages of at
//!   most 50 blocks and 8 MiB, bounds checked at each frame header. The node answers
//!   [`P2pEvent::SyncRequest`] with [`P2pHandle::answer`] and asks with
//!   [`P2pHandle::chain_status`] and [`P2pHandle::page`] (what a `BlockTransport` over
//!   libp2p wraps).
//! * Evaluator tasks: request-response on `/doin/tasks/1` ([`task_codec`]): pending
//!   tasks of a domain, claims and completions, as the HTTP `/tasks/*` calls, bounded.
//!   [`P2pHandle::task_call`] asks; [`P2pEvent::TaskCall`] and [`P2pHandle::answer_task`]
//!   serve.
//! * Discovery: kademlia from the bootstrap addresses; reachability: autonat, relay client
//!   (and optionally server), dcutr. A node behind NAT lists a relay's circuit
//!   (`<relay>/p2p/<relay id>/p2p-circuit`) in its listen addresses; it listens there once
//!   connected to the relay, and again whenever the circuit closes (`circuits.rs`).
//! * Connection limits as the HTTP bridge's slots; while the outbound slots are full no
//!   dial starts ([`dial_guard`]), so kademlia's walks cost no handshake the limits would
//!   throw away. Peers hold slots by address range each way, as `POST /message` peers do:
//!   inbound, the useful and long-lived ones protected from eviction ([`inbound_slots`]);
//!   outbound, at most [`P2pConfig::max_per_range`] dialed peers per range however many
//!   of one range the DHT offers ([`dial_guard`]). Requests go to connected peers only
//!   ([`RequestError::NotConnected`]): a request never dials.
//! * Address bans, one list with the HTTP bridge ([`crate::address_bans`],
//!   [`P2pConfig::address_bans`]): a banned peer's address is banned with it, so a fresh
//!   key from there is refused and the HTTP bridge refuses the address too; an address
//!   the HTTP bridge banned has its libp2p connections closed and new ones refused, both
//!   ways, until the ban ends ([`address_gate`]).
//! * Traffic: gossip messages and bytes per topic (every copy received and the first
//!   ones, so duplicates show), from gossipsub's own counters ([`traffic`],
//!   [`P2pHandle::traffic`]).
//! * Block list: [`P2pHandle::block_peer`] closes a peer's connections and refuses new
//!   ones until [`P2pHandle::unblock_peer`] (an operator's choice, or a test's partition),
//!   apart from the bans our verdicts impose and lift.
//!
//! Bounded: the command channel ([`P2pConfig::command_capacity`]), the event channel
//! ([`P2pConfig::event_capacity`]; a full one drops, gossip then goes unforwarded and
//! uncharged), requests in flight each way, addresses taken per identify record, tracked
//! scores, bans and blocked peers.

//!
//! ## How doin-node wires it (`doin_node::p2p`)
//!
//! * Config: `listen_addrs` and `bootstrap` as multiaddrs ([`P2pConfig`]); the key is the
//!   node's identity file, so the peer id an operator sees (`/p2p/<id>`) follows from it.
//! * Gossip: publish each signed message with its [`GossipKind`] (blocks; commitments and
//!   reveals, the reference's `optimae/<d>`; claims and votes, its `tasks/<d>`;
//!   transfers; channel operations) and call [`P2pHandle::subscribe_domain`]
//!   for each served domain; verify every [`P2pEvent::Gossip`] as `POST /message` bodies
//!   are verified and [`P2pHandle::report`] the [`crate::scoring::Verdict`].
//! * Sync: a `BlockTransport` whose `peer` is a libp2p [`libp2p::PeerId`] string;
//!   `chain_status` is [`P2pHandle::chain_status`] parsed with `parse_chain_status`,
//!   `page` is [`P2pHandle::page`] with each block parsed exactly, and
//!   [`RequestError::TooLarge`] becomes `PageError::TooLarge`. The serving side answers
//!   [`P2pEvent::SyncRequest`] from the store as `/chain/status` and `/chain/blocks` do.
//! * Evaluators: [`P2pHandle::task_call`] where the evaluator loop now posts to
//!   `/tasks/*`, and [`P2pEvent::TaskCall`] answered by the task queue.

mod actor;
pub mod address_gate;
pub mod behaviour;
mod circuits;
pub mod codec;
pub mod config;
pub mod dial_guard;
pub mod handle;
pub mod identity;
pub mod inbound_slots;
mod requests;
mod rpc;
pub mod task_codec;
pub mod topics;
pub mod traffic;
mod verdicts;

use doin_primitives::identity::Identity;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use behaviour::BuildError;
pub use codec::{SyncRequest, SyncResponse, MAX_PAGE_BLOCKS, MAX_PAGE_BYTES};
pub use config::P2pConfig;
pub use handle::{
    BlockPage, GossipMessage, InboundRequestId, InboundTaskCall, P2pError, P2pEvent, P2pHandle,
    PeerInfo, RequestError,
};
pub use identity::{doin_peer_id, doin_peer_id_of_connection, keypair_of, P2pIdentityError};
pub use task_codec::{TaskAnswer, TaskCall};
pub use topics::{GossipKind, Origin};
pub use traffic::{TopicCounts, Traffic, TrafficCounts};

/// Why the p2p node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The node's key cannot serve as a libp2p key.
    #[error(transparent)]
    Identity(#[from] P2pIdentityError),
    /// The swarm could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A listen address or topic was refused.
    #[error(transparent)]
    Start(#[from] P2pError),
}

/// A running libp2p node: its handle, its events, its task.
#[derive(Debug)]
pub struct P2pNode {
    /// The handle (clone it freely).
    pub handle: P2pHandle,
    /// Events for the node to consume promptly.
    pub events: mpsc::Receiver<P2pEvent>,
    /// The task owning the swarm (ends after [`P2pHandle::shutdown`]).
    pub task: JoinHandle<()>,
}

impl P2pNode {
    /// Starts the network task on the current tokio runtime.
    pub fn start(identity: &Identity, config: P2pConfig) -> Result<P2pNode, StartError> {
        let key = identity::keypair_of(identity)?;
        let local_peer = key.public().to_peer_id();
        let traffic = Traffic::default();
        let swarm = behaviour::build_swarm(key, &config, &traffic)?;
        let (cmd_tx, cmd_rx) = mpsc::channel(config.command_capacity.max(1));
        let (ev_tx, ev_rx) = mpsc::channel(config.event_capacity.max(1));
        let address_bans = config.address_bans.clone();
        let id_bans = config.id_bans.clone();
        let mut actor = actor::Actor::new(swarm, config, cmd_rx, ev_tx);
        actor.start()?;
        let task = tokio::spawn(actor.run());
        Ok(P2pNode {
            handle: P2pHandle {
                commands: cmd_tx,
                local_peer,
                doin_id: identity.peer_id().clone(),
                traffic,
                address_bans,
                id_bans,
            },
            events: ev_rx,
            task,
        })
    }
}
