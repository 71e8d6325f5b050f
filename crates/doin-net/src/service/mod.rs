//! The HTTP bridge to reference nodes: one tokio task owns the flooding router, the table
//! of HTTP peers, the scores and the HTTP client; a cheap [`NetHandle`] talks to it over a
//! bounded channel. (Doin nodes talk to each other over [`crate::p2p`].)
//!
//! Tasks: the actor (commands, heartbeat, discovery ticks), one sender task per connected
//! peer draining a bounded queue (oldest dropped on overflow, so a slow peer never blocks
//! the router), and short-lived discovery tasks (`GET /peers`) that report back.
//!
//! Files, by concern:
//! * `mod.rs` — the settings ([`NetConfig`]), what the node receives ([`Delivery`]), the
//!   errors, [`spawn`] and the actor's state;
//! * `handle.rs` — [`NetHandle`]: admission of inbound bodies before the actor sees them,
//!   and the node's requests;
//! * `commands.rs` — the actor's loop and the handling of each command;
//! * `inbound.rs` — what a body claims, routing it from the hop bound to its address, and
//!   verdicts;
//! * `peering.rs` — connection slots, send outcomes, discovery and peer exchange;
//! * `outbound.rs` — a router's actions, the wire body we post, the per-peer sender tasks.

mod commands;
mod handle;
mod inbound;
mod outbound;
mod peering;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use doin_primitives::models::Message;
use doin_primitives::{PeerId, PeerIdError};
use tokio::sync::mpsc;

use crate::address_bans::AddressBans;
use crate::admission::{AddressGuard, AdmissionConfig, Refusal};
use crate::id_bans::IdBans;
use crate::limits::RateLimiter;
use crate::peers::{PeerTable, PeerTableError};
use crate::scoring::{AppScores, ScoreConfig};
use crate::slots::{SlotConfig, Slots};
use crate::transport::{PeerClient, PexAnswer, TransportError};
use crate::{FloodRouter, PeerKey};
use commands::Command;
use outbound::SendQueue;

pub use handle::NetHandle;
pub use outbound::{FRAMES_FAILED, FRAMES_SENT};

/// Settings of the network service.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Our peer id.
    pub peer_id: PeerId,
    /// The port our HTTP server listens on (sent as `_sender_port`).
    pub listen_port: u16,
    /// Bootstrap endpoints (`host:port`).
    pub bootstrap: Vec<String>,
    /// Router heartbeat period (the seen-cache expires).
    pub heartbeat_interval: Duration,
    /// Peer exchange period (config `discovery_interval`).
    pub discovery_interval: Duration,
    /// Where the peer table is persisted (`<data_dir>/peers.json`); `None`: memory only.
    pub peers_file: Option<PathBuf>,
    /// Timeout of message posts.
    pub http_timeout: Duration,
    /// Connection slots: inbound and outbound apart, a cap per address range.
    pub slots: SlotConfig,
    /// Capacity of the delivery channel to the node.
    pub delivery_capacity: usize,
    /// Capacity of the command channel (inbound bodies wait here).
    pub command_capacity: usize,
    /// Capacity of each peer's send queue.
    pub send_queue_capacity: usize,
    /// Messages a peer may send at once.
    pub rate_burst: u32,
    /// Messages a peer may send per second, sustained.
    pub rate_per_second: f64,
    /// Application score thresholds.
    pub scores: ScoreConfig,
    /// What inbound bodies must pass ([`crate::admission`]).
    pub admission: AdmissionConfig,
    /// Where addresses are banned: give it the libp2p node's list
    /// ([`crate::p2p::P2pHandle::address_bans`]) so that a ban on either transport
    /// refuses the address on both ([`crate::address_bans`]).
    pub address_bans: AddressBans,
    /// Where peers are banned by id: give it the libp2p node's list
    /// ([`crate::p2p::P2pHandle::id_bans`]) so that a peer banned on either transport is
    /// refused on both ([`crate::id_bans`]).
    pub id_bans: IdBans,
}

impl NetConfig {
    /// Defaults for a node `peer_id` listening on `listen_port`.
    pub fn new(peer_id: PeerId, listen_port: u16) -> Self {
        NetConfig {
            peer_id,
            listen_port,
            bootstrap: Vec::new(),
            heartbeat_interval: Duration::from_secs(1),
            discovery_interval: Duration::from_secs(60),
            peers_file: None,
            http_timeout: Duration::from_secs(30),
            slots: SlotConfig::default(),
            delivery_capacity: 1024,
            command_capacity: 1024,
            send_queue_capacity: 256,
            rate_burst: 200,
            rate_per_second: 100.0,
            scores: ScoreConfig::default(),
            admission: AdmissionConfig::default(),
            address_bans: AddressBans::default(),
            id_bans: IdBans::default(),
        }
    }
}

/// A message for the node, with who handed it to us as far as that is authenticated
/// ([`crate::hop`]); verdicts on it go back through [`NetHandle::report`].
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The hop as routed: a peer bound to the connecting address, or that address's
    /// anonymous id (`addr-<ip>`); never a bare claim.
    pub from: PeerKey,
    /// The message's signer (its seal verified at admission); `None` for an unsigned
    /// message a lenient node accepted.
    pub signer: Option<PeerId>,
    /// The address the body came from.
    pub address: Option<IpAddr>,
    /// The message, as received (seal and age checked at admission).
    pub message: Message,
}

/// Why an inbound body was refused (the node answers `400` or `429`).
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    /// Larger than [`crate::limits::MAX_MESSAGE_BYTES`].
    #[error("body of {len} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// Bytes received.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not a message or control frame.
    #[error("invalid message: {0}")]
    Malformed(#[from] doin_primitives::ModelError),
    /// The message's seal or age is refused ([`crate::admission::check_message`]).
    #[error("message refused: {0}")]
    Refused(#[from] Refusal),
    /// A sender or forwarder id that is not a DOIN peer id (40 lowercase hex).
    #[error("invalid message: its sender or forwarder id is not a DOIN peer id: {0}")]
    BadSender(#[source] PeerIdError),
    /// The peer sends faster than its rate limit.
    #[error("rate limit exceeded")]
    RateLimited,
    /// A relay forwards faster than its rate limit: refused, but not charged, since an
    /// honest relay passing on a flood it received is not the flood's source (the signer
    /// and the address it came from are charged where it entered).
    #[error("relay rate limit exceeded")]
    RelayRateLimited,
    /// The peer, or the address the body came from, is banned.
    #[error("peer is banned")]
    Banned,
    /// The service's queue is full; the sender should retry later.
    #[error("network service busy")]
    Busy,
    /// The service stopped.
    #[error("network service stopped")]
    Closed,
}

/// Why the service could not start or take a request.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The peer table file could not be read.
    #[error(transparent)]
    PeerTable(#[from] PeerTableError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The service stopped.
    #[error("network service stopped")]
    Closed,
}

/// What the actor's own tasks report back: a send's outcome, a peer exchange's answer.
enum Event {
    Sent {
        peer: PeerKey,
        ok: bool,
    },
    Pex {
        endpoint: String,
        asked: PeerKey,
        answer: Result<PexAnswer, String>,
    },
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Starts the service; returns its handle and the channel of deliveries to the node.
pub fn spawn(config: NetConfig) -> Result<(NetHandle, mpsc::Receiver<Delivery>), NetError> {
    let table = match &config.peers_file {
        Some(p) => PeerTable::load(p)?,
        None => PeerTable::in_memory(),
    };
    let client = PeerClient::new(config.http_timeout)?;
    let (tx, rx) = mpsc::channel(config.command_capacity.max(1));
    let (deliver_tx, deliver_rx) = mpsc::channel(config.delivery_capacity.max(1));
    let (events_tx, events_rx) = mpsc::channel(1024);
    let router = FloodRouter::new(config.peer_id.to_string());
    let guard = Arc::new(Mutex::new(AddressGuard::new(
        &config.admission,
        config.address_bans.clone(),
    )));
    let actor = Actor {
        guard: guard.clone(),
        router,
        table,
        scores: AppScores::new(config.scores.clone()),
        client,
        deliveries: deliver_tx,
        events_tx,
        queues: HashMap::new(),
        slots: Slots::new(config.slots.clone()),
        bans: config.id_bans.clone(),
        config,
    };
    let handle = NetHandle {
        tx,
        peer_id: actor.config.peer_id.clone(),
        admission: Arc::new(actor.config.admission.clone()),
        guard,
        checkers: Arc::new(tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4)),
        )),
        peer_rates: Arc::new(Mutex::new(RateLimiter::new(
            actor.config.rate_burst,
            actor.config.rate_per_second,
            4096,
        ))),
    };
    tokio::spawn(actor.run(rx, events_rx));
    Ok((handle, deliver_rx))
}

struct Actor {
    config: NetConfig,
    guard: Arc<Mutex<AddressGuard>>,
    router: FloodRouter,
    table: PeerTable,
    scores: AppScores,
    client: PeerClient,
    deliveries: mpsc::Sender<Delivery>,
    events_tx: mpsc::Sender<Event>,
    queues: HashMap<PeerKey, Arc<SendQueue>>,
    slots: Slots,
    bans: IdBans,
}
