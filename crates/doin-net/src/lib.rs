//! # doin-net
//!
//! Moves DOIN messages between peers; never decides consensus. Doin nodes talk to each other
//! over libp2p ([`p2p`]); the HTTP `POST /message` wire stays as the bridge to reference
//! (Python) nodes ([`service`]). The node hands it messages to publish and gets back inbound
//! messages of a valid shape, with the peer that sent them, to verify and handle.
//!
//! ## Bird's eye view
//!
//! * [`p2p`] — the transport between doin nodes: one swarm task (TCP and QUIC, noise,
//!   yamux, identify, ping, connection limits, kademlia, autonat, relay, dcutr) behind a
//!   cheap handle; gossipsub per kind and domain with nothing forwarded before the node's
//!   verdict; block sync and evaluators' task calls on request-response; the node's P-256
//!   key as its libp2p key, so scores and bans follow the authenticated connection.
//! * [`service`] — the HTTP bridge: one tokio task owns the [`FloodRouter`], the
//!   [`peers::PeerTable`] of HTTP peers, the [`scoring::AppScores`], the rate limiter and
//!   the [`transport::PeerClient`], and returns a cheap [`service::NetHandle`] plus a
//!   bounded `mpsc::Receiver<Delivery>`. It spawns one sender task per connected HTTP peer
//!   (a bounded queue; on overflow the oldest frame is dropped, so a slow peer never blocks
//!   the router) and short-lived discovery tasks (`GET /peers` on the bootstrap endpoints
//!   and up to 8 known peers every `discovery_interval`, failures backing off). Toward HTTP
//!   peers it floods, as the reference does ([`flooding`]): a sans-I/O state machine that
//!   takes the time and returns [`Action`]s (`Send`, `Deliver`). One file per concern:
//!   the handle and its admission of inbound bodies, the actor's commands, inbound
//!   routing and verdicts, peer bookkeeping (slots, discovery), outbound frames.
//! * [`cache`] — the message id ([`cache::message_id`] = `Message::dedupe_id`, stable
//!   across hops that rewrite `_sender_port`/`_forwarder_id`) and the seen-cache.
//! * [`admission`] — what a `POST /message` body must pass before routing (size, parse,
//!   seal, age, rates) and the per-address scores and bans that failures cost; the node
//!   applies the same seal and age checks to libp2p gossip.
//! * [`address_bans`] — one bounded list of banned addresses (exact IPs) for both
//!   transports: an address banned for what it posted is cut off libp2p (its connections
//!   closed, new ones refused both ways), and a libp2p peer banned for its gossip has its
//!   address refused on `POST /message` (`403`), until the ban ends. The node's own
//!   machine (`127.0.0.1`, `::1`) is never banned by address on libp2p.
//! * [`hop`] — who handed us a body, as far as it is authenticated (the signer, the
//!   connecting address, a claimed peer bound to that address).
//! * [`slots`] — inbound and outbound HTTP peer slots, a cap per address range each way
//!   (libp2p applies the same caps to its inbound slots and its dials), eviction that
//!   protects long-lived useful peers; [`bans`] — bounded ban lists that keep banning.
//! * [`peers`], [`scoring`], [`limits`], [`transport`].
//! * [`keyed_limit`] — the one rate-limit core (governor's GCRA on the caller's clock, keys
//!   in a bounded LRU table) under [`limits::RateLimiter`] and the node's other keyed limits.
//!
//! ## Peer ids
//!
//! A DOIN peer id that a key or a seal proves is a [`doin_primitives::PeerId`] (40
//! lowercase hex): our own, a message's verified signer, the id a libp2p connection's key
//! proves, and every id in [`id_bans`]. It is not libp2p's `PeerId`; where both appear,
//! ours is named `doin_primitives::PeerId` or imported as `DoinPeerId`. The HTTP bridge's
//! router, address book, scores and slots key peers by [`PeerKey`] text instead, because
//! what they key is not always a peer id (placeholders, address hops, libp2p ids).
//!
//! ## The HTTP wire
//!
//! Messages go out as bare wire JSON on `POST /message` with `_sender_port` set to our
//! port and, when relaying, `_forwarder_id` set to our id (the reference's transport keys,
//! outside the message id and the seal). Inbound, `sender_id` and `_forwarder_id` must be
//! DOIN peer ids ([`doin_primitives::PeerId::parse`]; any other body is malformed, `400`),
//! and they are claims: the routing peer is the claimed one only when the address book
//! lists it at the HTTP remote IP (or, for a peer speaking for itself, does not know it
//! yet, and then records it at that IP with `_sender_port`); otherwise the hop is the address's anonymous id ([`hop`]). A reference
//! node on GossipSub also posts control frames (`{"type": "control", ...}`): they pass the
//! same size and address-rate checks and are acknowledged and discarded, as flooding needs
//! no mesh.
//!
//! ## Limits
//!
//! Bodies ≤ [`limits::MAX_MESSAGE_BYTES`] (1 MiB) on every inbound path; block responses
//! ≤ 64 MiB; per-hop token bucket keyed by claimed peer and address (burst 200, 100/s);
//! seen-cache 10,000 ids for 300 s; peer table 1,000 entries; send queues 256 frames per
//! peer; delivery channel 1,024; per address (every peer behind one IP): burst 5,000,
//! 2,500/s, 4,096 addresses tracked; bans 4,096 addresses and 4,096 peer ids (one list
//! of each for both transports); slots 34 inbound and 16 outbound, 4 per address range
//! each way; messages older than 60 s or dated over 60 s ahead refused. Libp2p's own
//! bounds are listed in [`p2p`].
//!
//! ## What the node must do with the HTTP bridge
//!
//! 1. Serve `POST /message` by calling [`service::NetHandle::inbound`] with the raw body
//!    and the remote address (answer 200 `{"status":"ok"}` on `Ok`, 403 on
//!    [`service::InboundError::Banned`], 400 otherwise), and `GET /peers` with
//!    [`service::NetHandle::peers_json`]. With libp2p running, start the bridge with
//!    [`service::NetConfig::address_bans`] set to [`p2p::P2pHandle::address_bans`] and
//!    [`service::NetConfig::id_bans`] to [`p2p::P2pHandle::id_bans`], so that a ban on
//!    either transport, of an address or of a key, holds on both.
//! 2. Consume the `Delivery` channel promptly (it is bounded; a full channel drops).
//! 3. Check each delivered message's content (its seal and age were checked at admission,
//!    [`admission`]) and call [`service::NetHandle::report`] with the [`Verdict`] and the
//!    `Delivery`; the verdict goes to the message's signer and the connecting address (a
//!    peer bound to that address that relayed it is not charged for another's message);
//!    bad verdicts ban for 30 minutes below −50. The router floods before the node
//!    validates, as the reference does.
//! 4. Sign what it publishes (`Message::sign`) and call [`service::NetHandle::publish`].

pub mod address_bans;
pub mod admission;
pub mod bans;
pub mod cache;
pub mod flooding;
pub mod hop;
pub mod id_bans;
pub mod keyed_limit;
pub mod limits;
pub mod p2p;
pub mod peers;
pub mod scoring;
pub mod service;
pub mod shared_bans;
pub mod slots;
pub mod transport;

use doin_primitives::models::Message;

pub use flooding::FloodRouter;
pub use scoring::Verdict;

/// The text a peer is keyed by where it is not always a DOIN peer id
/// ([`doin_primitives::PeerId`], 40 lowercase hex, the type of every id that a key or a
/// seal proves): in the HTTP bridge's router, address book, scores and slots it is the
/// peer id a body claims (unverified when the message is unsigned), a placeholder such as
/// `bootstrap-<host:port>` (or a reference node's own) until the peer's id is learnt, or
/// an address hop `addr-<ip>` ([`hop`]); in the libp2p transport's scores and slots it is
/// a libp2p peer id as text.
pub type PeerKey = String;
/// A message id ([`cache::message_id`]).
pub type MessageId = String;

/// What the flooding router asks its owner to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send a message to a peer.
    Send {
        /// The receiver.
        peer: PeerKey,
        /// The message.
        message: Message,
    },
    /// Hand a new message to the node.
    Deliver(Message),
}
