//! # doin-net
//!
//! (Crate documentation is at the end of the build; see the bird's eye view below.)

pub mod cache;
pub mod control;
pub mod flooding;
pub mod gossip;
pub mod limits;
pub mod peers;
pub mod scoring;
pub mod service;
pub mod sim;
pub mod topic;
pub mod transport;

use std::time::Instant;

use doin_primitives::models::Message;

pub use control::{Control, ControlError, ControlFrame, IHave};
pub use flooding::FloodRouter;
pub use gossip::{GossipConfig, GossipRouter};
pub use scoring::Verdict;

/// A peer id: 40 hex characters for real peers, or a placeholder such as
/// `bootstrap-<host:port>` until the peer's id is learnt.
pub type PeerId = String;
/// A gossip topic (`blocks`, `optimae/<domain_id>`, ...).
pub type Topic = String;
/// A message id ([`cache::message_id`]).
pub type MessageId = String;

/// What a router asks its owner to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send a message to a peer.
    Send {
        /// The receiver.
        peer: PeerId,
        /// The message.
        message: Message,
    },
    /// Send a control frame to a peer.
    SendControl {
        /// The receiver.
        peer: PeerId,
        /// The lists (the owner adds its own sender id and port).
        control: Control,
    },
    /// Hand a new message to the node.
    Deliver(Message),
}

/// A message router: GossipSub ([`GossipRouter`]) or flooding ([`FloodRouter`]).
///
/// Sans-I/O: every call takes the current time and returns the [`Action`]s to perform.
pub trait Router: Send {
    /// A peer connected (or was learnt).
    fn add_peer(&mut self, peer: &str, now: Instant) -> Vec<Action>;
    /// A peer went away (or was banned).
    fn remove_peer(&mut self, peer: &str);
    /// A message arrived from `from` (the peer that sent it to us, not the originator).
    fn handle_message(&mut self, from: &str, message: Message, now: Instant) -> Vec<Action>;
    /// A control frame arrived from `from`.
    fn handle_control(&mut self, from: &str, control: Control, now: Instant) -> Vec<Action>;
    /// Publishes our own message on `topic`.
    fn publish(&mut self, topic: &str, message: Message, now: Instant) -> Vec<Action>;
    /// Periodic maintenance.
    fn heartbeat(&mut self, now: Instant) -> Vec<Action>;
    /// Subscribes to a topic.
    fn subscribe(&mut self, topic: &str, now: Instant) -> Vec<Action>;
    /// Unsubscribes from a topic.
    fn unsubscribe(&mut self, topic: &str, now: Instant) -> Vec<Action>;
    /// The node found data from `peer` bad (or good): adjust the router's view of it.
    fn report(&mut self, peer: &str, verdict: Verdict);
    /// Peers the router currently knows.
    fn peers(&self) -> Vec<PeerId>;
    /// Peers a new message on `topic` would be forwarded to (the mesh, or every peer).
    fn topic_peers(&self, topic: &str) -> Vec<PeerId>;
}
