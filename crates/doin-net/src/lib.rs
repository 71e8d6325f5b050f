//! # doin-net
//!
//! Moves DOIN messages between peers; never decides consensus. The node hands it messages
//! to publish and gets back inbound messages of a valid shape, with the peer that sent
//! them, to verify and handle.
//!
//! ## Bird's eye view
//!
//! * [`service`] — the actor. [`service::spawn`] starts one tokio task that owns the
//!   router, the [`peers::PeerTable`], the [`scoring::AppScores`], the rate limiter and
//!   the [`transport::PeerClient`], and returns a cheap [`service::NetHandle`] plus a
//!   bounded `mpsc::Receiver<Delivery>`. It also spawns one sender task per connected peer
//!   (a bounded queue; on overflow the oldest frame is dropped, so a slow peer never
//!   blocks the router) and short-lived discovery tasks (`GET /peers` on the bootstrap
//!   endpoints and up to 8 known peers every `discovery_interval`, failures backing off).
//!   The heartbeat runs every `heartbeat_interval` (1 s).
//! * [`gossip`] and [`flooding`] — the routers, sans-I/O state machines behind the
//!   [`Router`] trait: `handle_message`, `handle_control`, `publish`, `heartbeat`,
//!   `add_peer`, `remove_peer` take the time and return [`Action`]s
//!   (`Send`, `SendControl`, `Deliver`). [`sim`] runs many of them on a simulated network.
//! * [`topic`] — the one mapping from message type to topic (`blocks`, `discovery`,
//!   `optimae/<domain_id>`, `tasks/<domain_id>`).
//! * [`cache`] — the message id ([`cache::message_id`] = `Message::dedupe_id`, stable
//!   across hops that rewrite `_sender_port`/`_forwarder_id`), seen-cache, message cache.
//! * [`admission`] — what a `POST /message` body must pass before routing (size, parse,
//!   seal, age, rates) and the per-address scores and bans that failures cost.
//! * [`hop`] — who handed us a body, as far as it is authenticated (the signer, the
//!   connecting address, a claimed peer bound to that address).
//! * [`slots`] — inbound and outbound connection slots, a cap per address range, eviction
//!   that protects long-lived useful peers; [`bans`] — bounded ban lists that keep banning.
//! * [`control`] — control frames. [`peers`], [`scoring`], [`limits`], [`transport`].
//! * [`keyed_limit`] — the one rate-limit core (governor's GCRA on the caller's clock, keys
//!   in a bounded LRU table) under [`limits::RateLimiter`] and the node's other keyed limits.
//!
//! ## Wire
//!
//! Messages go out as bare wire JSON on `POST /message` with `_sender_port` set to our
//! port and, when relaying, `_forwarder_id` set to our id (the reference's transport keys,
//! outside the message id and the seal). Inbound, those keys are claims: the routing peer is
//! the claimed one only when the address book lists it at the HTTP remote IP (or, for a
//! peer speaking for itself, does not know it yet, and then records it at that IP with
//! `_sender_port`); otherwise the hop is the address's anonymous id ([`hop`]).
//! Control frames:
//!
//! ```json
//! {"type": "control", "sender_id": "<peer id>", "sender_port": 8470,
//!  "control": {"subscribe": ["blocks", "optimae/quadratic"], "unsubscribe": [],
//!              "graft": ["blocks"], "prune": [],
//!              "ihave": [{"topic": "blocks", "ids": ["<64-hex id>"]}],
//!              "iwant": ["<64-hex id>"]}}
//! ```
//!
//! Every list is optional; at most 64 topics per list, 100 ids per IHAVE entry and per
//! IWANT. The reference's single-kind frames (`"control": "GRAFT"`, `"topic"`, `"from"`,
//! `"data"`) are read too. Malformed frames are typed errors ([`ControlError`]).
//!
//! ## Limits
//!
//! Bodies ≤ [`limits::MAX_MESSAGE_BYTES`] (1 MiB) on every inbound path; block responses
//! ≤ 64 MiB; per-hop token bucket keyed by claimed peer and address (burst 200, 100/s); seen-cache 10,000 ids for 120 s
//! (gossip) / 300 s (flooding); message cache 6 windows, 10,000 messages; peer table
//! 1,000 entries; send queues 256 frames per peer; delivery channel 1,024; per address
//! (every peer behind one IP): burst 5,000, 2,500/s, 4,096 addresses tracked; bans 4,096
//! addresses and 4,096 peers; slots 34 inbound and 16 outbound, 4 per address range each
//! way; messages older than 60 s or dated over 60 s ahead refused.
//!
//! ## What the node must do
//!
//! 1. Serve `POST /message` by calling [`service::NetHandle::inbound`] with the raw body
//!    and the remote address (answer 200 `{"status":"ok"}` on `Ok`, 400 otherwise), and
//!    `GET /peers` with [`service::NetHandle::peers_json`].
//! 2. Consume the `Delivery` channel promptly (it is bounded; a full channel drops).
//! 3. Check each delivered message's content (its seal and age were checked at admission,
//!    [`admission`]) and call [`service::NetHandle::report`] with the [`Verdict`] and the
//!    `Delivery`; the verdict goes to the message's signer and the connecting address (a
//!    peer bound to that address that relayed it loses router score only); bad verdicts
//!    prune from meshes and ban for 30 minutes below −50. The router relays before the
//!    node validates, as GossipSub without a validation hook does.
//! 4. Sign what it publishes (`Message::sign`) and call [`service::NetHandle::publish`].

pub mod admission;
pub mod bans;
pub mod cache;
pub mod control;
pub mod flooding;
pub mod gossip;
pub mod hop;
pub mod keyed_limit;
pub mod limits;
pub mod peers;
pub mod scoring;
pub mod service;
pub mod sim;
pub mod slots;
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
