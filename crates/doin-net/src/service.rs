//! The HTTP bridge to reference nodes: one tokio task owns the flooding router, the table
//! of HTTP peers, the scores and the HTTP client; a cheap [`NetHandle`] talks to it over a
//! bounded channel. (Doin nodes talk to each other over [`crate::p2p`].)
//!
//! Tasks: the actor (commands, heartbeat, discovery ticks), one sender task per connected
//! peer draining a bounded queue (oldest dropped on overflow, so a slow peer never blocks
//! the router), and short-lived discovery tasks (`GET /peers`) that report back.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use doin_primitives::models::{InboundBody, Message, WireModel};
use doin_primitives::value::Value;
use tokio::sync::{mpsc, oneshot, Notify};

use crate::admission::{check_message, AddressGuard, AdmissionConfig, Gate, Refusal};
use crate::bans::{BanList, MAX_BANS};
use crate::hop::{address_hop, bind, canonical, Binding};
use crate::limits::{RateLimiter, MAX_MESSAGE_BYTES, MAX_PEER_ID_LEN};
use crate::peers::{is_placeholder, placeholder_id, PeerSource, PeerTable, PeerTableError};
use crate::scoring::{AppScores, ScoreConfig, ScoreOutcome};
use crate::slots::{Admission, Direction, SlotConfig, Slots};
use crate::transport::{PeerClient, PexAnswer, TransportError};
use crate::{Action, FloodRouter, PeerId, Verdict};

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
}

impl NetConfig {
    /// Defaults for a node `peer_id` listening on `listen_port`.
    pub fn new(peer_id: impl Into<PeerId>, listen_port: u16) -> Self {
        NetConfig {
            peer_id: peer_id.into(),
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
        }
    }
}

/// A message for the node, with who handed it to us as far as that is authenticated
/// ([`crate::hop`]); verdicts on it go back through [`NetHandle::report`].
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The hop as routed: a peer bound to the connecting address, or that address's
    /// anonymous id (`addr-<ip>`); never a bare claim.
    pub from: PeerId,
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
    /// Larger than [`MAX_MESSAGE_BYTES`].
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
    /// No usable sender id.
    #[error("invalid message: sender id empty or longer than {MAX_PEER_ID_LEN} characters")]
    BadSender,
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

enum Command {
    Publish(Message),
    Inbound {
        claim: Claim,
        ip: IpAddr,
        port: Option<u16>,
        message: Message,
        reply: oneshot::Sender<Result<(), InboundError>>,
    },
    Report {
        hop: PeerId,
        signer: Option<PeerId>,
        address: Option<IpAddr>,
        verdict: Verdict,
    },
    Connect(String),
    PeersJson(oneshot::Sender<serde_json::Value>),
    Connected(oneshot::Sender<Vec<PeerId>>),
    Shutdown(oneshot::Sender<()>),
}

/// The identities a body claims: who it names as the hop, and who signed it.
struct Claim {
    /// `_forwarder_id` of a relayed message.
    relay: Option<PeerId>,
    /// A message's `sender_id`, verified by its seal when `signed`.
    sender: PeerId,
    /// Whether admission verified a seal by `sender`.
    signed: bool,
}

enum Event {
    Sent {
        peer: PeerId,
        ok: bool,
    },
    Pex {
        endpoint: String,
        asked: PeerId,
        answer: Result<PexAnswer, String>,
    },
}

/// A cheap, cloneable handle to the network service.
#[derive(Clone, Debug)]
pub struct NetHandle {
    tx: mpsc::Sender<Command>,
    peer_id: PeerId,
    admission: Arc<AdmissionConfig>,
    guard: Arc<Mutex<AddressGuard>>,
    /// Bodies parsed and seals verified at once, off the async workers.
    checkers: Arc<tokio::sync::Semaphore>,
    /// Each hop's rate, keyed by claimed peer and sending address (a claim from another
    /// address spends nobody else's allowance).
    peer_rates: Arc<Mutex<RateLimiter>>,
}

/// Longest an inbound body waits for a checker before the sender is told to retry.
const CHECK_WAIT: Duration = Duration::from_secs(1);

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl NetHandle {
    /// Floods our own message to every HTTP peer.
    pub async fn publish(&self, message: Message) -> Result<(), NetError> {
        self.tx
            .send(Command::Publish(message))
            .await
            .map_err(|_| NetError::Closed)
    }

    /// Handles a `POST /message` body from `remote`: the address's ban and rate, size
    /// limit, parse (bare message, `{"type":"message"}` or `{"type":"control"}`), the
    /// claimed peer's rate, a message's seal and age ([`crate::admission`]; failures are
    /// charged to the address), then the peer's ban, dedupe and routing in the actor. Never blocks on
    /// a full queue (answers [`InboundError::Busy`]).
    pub async fn inbound(&self, body: &[u8], remote: SocketAddr) -> Result<(), InboundError> {
        let ip = canonical_ip(remote);
        match self.lock_guard().gate(ip, Instant::now()) {
            Gate::Open => {}
            Gate::RateLimited => return Err(InboundError::RateLimited),
            Gate::Banned => return Err(InboundError::Banned),
        }
        let r = self.admit(body, remote).await;
        let verdict = match &r {
            Err(InboundError::TooLarge { .. }) => Some(Verdict::Oversize),
            Err(InboundError::Malformed(_) | InboundError::BadSender) => Some(Verdict::Malformed),
            Err(InboundError::Refused(refusal)) => Some(refusal.verdict()),
            Err(InboundError::RateLimited) => Some(Verdict::Spam),
            _ => None,
        };
        if let Some(v) = verdict {
            self.charge_address(remote, v);
        }
        r
    }

    /// Charges the address `remote` came from with a verdict (bodies the HTTP layer refused
    /// before [`NetHandle::inbound`], such as ones over its size limit).
    pub fn charge_address(&self, remote: SocketAddr, verdict: Verdict) {
        self.lock_guard()
            .charge(canonical_ip(remote), verdict, Instant::now());
    }

    fn lock_guard(&self) -> std::sync::MutexGuard<'_, AddressGuard> {
        self.guard.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn admit(&self, body: &[u8], remote: SocketAddr) -> Result<(), InboundError> {
        if body.len() > MAX_MESSAGE_BYTES {
            return Err(InboundError::TooLarge {
                len: body.len(),
                max: MAX_MESSAGE_BYTES,
            });
        }
        // Parsing and seal checks are CPU work: run them on the blocking pool, a few at a
        // time, so that a flood of bodies never stalls the tasks serving other requests.
        let permit = tokio::time::timeout(CHECK_WAIT, self.checkers.clone().acquire_owned())
            .await
            .map_err(|_| InboundError::Busy)?
            .map_err(|_| InboundError::Closed)?;
        let body = body.to_vec();
        let ip = canonical_ip(remote);
        let (admission, rates, me) = (
            self.admission.clone(),
            self.peer_rates.clone(),
            self.peer_id.clone(),
        );
        let parsed = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            // A control frame (a reference node on GossipSub): acknowledged, not routed.
            let Some((mut claim, port, message)) = parse_inbound(&body)? else {
                return Ok(None);
            };
            // The address's rate (checked before parsing) bounds the seal checks. Each hop
            // has its own rate too, keyed by the peer it claims to be *and* the address it
            // posts from: honest relays of one message each spend their own allowance,
            // and a body naming another peer from another address spends only a bucket of
            // that address, never the named peer's.
            check_message(&message, unix_now_micros(), &admission)?;
            claim.signed = message.seal.is_some();
            let hop = claim.relay.as_ref().unwrap_or(&claim.sender);
            let allowed = *hop == me
                || rates
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .allow(&format!("{hop}@{ip}"), Instant::now());
            if !allowed {
                return Err(if claim.relay.is_some() {
                    InboundError::RelayRateLimited
                } else {
                    InboundError::RateLimited
                });
            }
            Ok::<_, InboundError>(Some((claim, port, message)))
        })
        .await
        .map_err(|_| InboundError::Closed)??;
        let Some((claim, port, message)) = parsed else {
            return Ok(());
        };
        let hop = claim.relay.as_ref().unwrap_or(&claim.sender);
        if *hop == self.peer_id {
            return Ok(());
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .try_send(Command::Inbound {
                claim,
                ip: canonical_ip(remote),
                port,
                message,
                reply,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => InboundError::Busy,
                mpsc::error::TrySendError::Closed(_) => InboundError::Closed,
            })?;
        rx.await.map_err(|_| InboundError::Closed)?
    }

    /// The node's verdict on a delivered message's content. It goes to what is
    /// authenticated: the message's signer, and the address it came from (or, when a
    /// peer bound to that address relayed it, that peer's router score only); never to a
    /// peer the body merely named.
    pub async fn report(&self, delivery: &Delivery, verdict: Verdict) {
        let _ = self
            .tx
            .send(Command::Report {
                hop: delivery.from.clone(),
                signer: delivery.signer.clone(),
                address: delivery.address,
                verdict,
            })
            .await;
    }

    /// Asks the service to exchange peers with `endpoint` now (e.g. a CLI `--peer`).
    pub async fn connect(&self, endpoint: &str) -> Result<(), NetError> {
        self.tx
            .send(Command::Connect(endpoint.to_owned()))
            .await
            .map_err(|_| NetError::Closed)
    }

    /// The body of our `GET /peers` (the reference's shape).
    pub async fn peers_json(&self) -> Result<serde_json::Value, NetError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::PeersJson(tx))
            .await
            .map_err(|_| NetError::Closed)?;
        rx.await.map_err(|_| NetError::Closed)
    }

    /// Peers currently connected to the router.
    pub async fn connected(&self) -> Result<Vec<PeerId>, NetError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::Connected(tx))
            .await
            .map_err(|_| NetError::Closed)?;
        rx.await.map_err(|_| NetError::Closed)
    }

    /// Stops the service (the peer table is saved first).
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

fn unix_now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// The remote's IP, IPv4-mapped IPv6 addresses as IPv4.
fn canonical_ip(remote: SocketAddr) -> IpAddr {
    canonical(remote.ip())
}

fn endpoint_of(ip: IpAddr, port: u16) -> String {
    match canonical(ip) {
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
        ip => format!("{ip}:{port}"),
    }
}

/// Parses a `POST /message` body into the identities it claims, its port and the message;
/// `None` for a control frame (the reference's GossipSub sends them; flooding needs none).
fn parse_inbound(body: &[u8]) -> Result<Option<(Claim, Option<u16>, Message)>, InboundError> {
    let text = std::str::from_utf8(body).map_err(|_| {
        InboundError::Malformed(doin_primitives::ModelError::Invalid {
            model: "Message",
            field: "body",
            reason: "not UTF-8".into(),
        })
    })?;
    let m = match Message::from_http_body(text)? {
        InboundBody::Message(m) => m,
        InboundBody::Control(_) => return Ok(None),
    };
    // A relay names itself in `_forwarder_id`; its own messages carry none.
    let relay = m
        .payload
        .get("_forwarder_id")
        .and_then(Value::as_str)
        .filter(|f| *f != m.sender_id)
        .map(str::to_owned);
    let port = m
        .payload
        .get("_sender_port")
        .and_then(Value::as_i64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0);
    let claim = Claim {
        relay,
        sender: m.sender_id.clone(),
        signed: false,
    };
    let bad = |id: &str| id.is_empty() || id.len() > MAX_PEER_ID_LEN;
    if bad(&claim.sender) || claim.relay.as_deref().is_some_and(bad) {
        return Err(InboundError::BadSender);
    }
    Ok(Some((claim, port, m)))
}

/// A peer's bounded outbound queue, drained by its sender task.
struct SendQueue {
    items: Mutex<VecDeque<(String, String)>>,
    notify: Notify,
    closed: AtomicBool,
    dropped: AtomicU64,
}

impl SendQueue {
    fn push(&self, endpoint: String, body: String, cap: usize) {
        let Ok(mut q) = self.items.lock() else { return };
        if q.len() >= cap {
            q.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        q.push_back((endpoint, body));
        drop(q);
        self.notify.notify_one();
    }

    fn pop(&self) -> Option<(String, String)> {
        self.items.lock().ok()?.pop_front()
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.notify.notify_one();
    }
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
    let router = FloodRouter::new(config.peer_id.clone());
    let guard = Arc::new(Mutex::new(AddressGuard::new(&config.admission)));
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
        bans: BanList::new(MAX_BANS),
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
    queues: HashMap<PeerId, Arc<SendQueue>>,
    slots: Slots,
    bans: BanList<PeerId>,
}

impl Actor {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>, mut events: mpsc::Receiver<Event>) {
        let mut heartbeat = tokio::time::interval(self.config.heartbeat_interval);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut discovery = tokio::time::interval(self.config.discovery_interval);
        discovery.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.reconnect_known();
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(Command::Shutdown(done)) => {
                        self.stop();
                        let _ = done.send(());
                        return;
                    }
                    Some(c) => self.on_command(c),
                    None => {
                        self.stop();
                        return;
                    }
                },
                Some(e) = events.recv() => self.on_event(e),
                _ = heartbeat.tick() => {
                    let now = Instant::now();
                    self.bans.expire(now);
                    self.router.heartbeat(now);
                }
                _ = discovery.tick() => self.discover(),
            }
        }
    }

    fn stop(&mut self) {
        if let Err(e) = self.table.save() {
            tracing::warn!("saving peers: {e}");
        }
        for q in self.queues.values() {
            q.close();
        }
    }

    fn on_command(&mut self, c: Command) {
        let now = Instant::now();
        match c {
            Command::Publish(m) => {
                let actions = self.router.publish(m, now);
                self.apply(actions, None);
            }
            Command::Inbound {
                claim,
                ip,
                port,
                message,
                reply,
            } => {
                let r = self.on_inbound(claim, ip, port, message, now);
                let _ = reply.send(r);
            }
            Command::Report {
                hop,
                signer,
                address,
                verdict,
            } => self.on_verdict(&hop, signer.as_deref(), address, verdict, now),
            Command::Connect(endpoint) => self.pex(vec![(placeholder_id(&endpoint), endpoint)]),
            Command::PeersJson(reply) => {
                let peers: Vec<serde_json::Value> = self
                    .table
                    .iter()
                    // Endpoints heard of but not yet asked for their id are not peers yet.
                    .filter(|e| {
                        e.source == PeerSource::Bootstrap
                            || !is_placeholder(&e.peer_id, &e.endpoint)
                    })
                    .filter_map(|e| {
                        let (host, port) = e.endpoint.rsplit_once(':')?;
                        let port: u16 = port.parse().ok()?;
                        // The reference's three keys, then DOIN's: the application score,
                        // last successful contact (Unix seconds), failures, connection.
                        Some(serde_json::json!({
                            "peer_id": e.peer_id,
                            "address": host,
                            "port": port,
                            "score": self.scores.score(&e.peer_id, Instant::now()),
                            "last_seen": e.last_seen,
                            "failures": e.failures,
                            "connected": self.slots.contains(&e.peer_id),
                            "direction": match self.slots.direction(&e.peer_id) {
                                Some(Direction::Inbound) => "inbound",
                                Some(Direction::Outbound) => "outbound",
                                None => "none",
                            },
                        }))
                    })
                    .collect();
                // DOIN's: every address charged at admission, its score and ban.
                let addresses: Vec<serde_json::Value> = self
                    .guard
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .scores(Instant::now())
                    .into_iter()
                    .map(|a| {
                        serde_json::json!({
                            "address": a.address.to_string(),
                            "score": a.score,
                            "banned": a.banned,
                        })
                    })
                    .collect();
                let _ = reply.send(serde_json::json!({
                    "self": {"peer_id": self.config.peer_id, "port": self.config.listen_port},
                    "peers": peers,
                    "addresses": addresses,
                }));
            }
            Command::Connected(reply) => {
                let mut peers: Vec<PeerId> = self.slots.peers().cloned().collect();
                peers.sort();
                let _ = reply.send(peers);
            }
            Command::Shutdown(_) => {}
        }
    }

    /// Routes an admitted body. The hop is the peer the body names only when that claim
    /// is bound to the connecting address ([`crate::hop`]); a peer speaking for itself from
    /// an address the book does not contradict is added (or its port refreshed) and given
    /// an inbound slot. Nothing else here changes any peer's entry.
    fn on_inbound(
        &mut self,
        claim: Claim,
        ip: IpAddr,
        port: Option<u16>,
        message: Message,
        now: Instant,
    ) -> Result<(), InboundError> {
        if claim.signed && self.bans.is_banned(&claim.sender, now) {
            return Err(InboundError::Banned);
        }
        let hop = match &claim.relay {
            Some(relay) => match bind(&self.table, relay, ip) {
                Binding::Known => relay.clone(),
                Binding::New | Binding::Elsewhere => address_hop(ip),
            },
            None => match bind(&self.table, &claim.sender, ip) {
                Binding::Known | Binding::New => {
                    if let Some(p) = port {
                        let slots = &self.slots;
                        self.table.upsert_keeping(
                            &claim.sender,
                            &endpoint_of(ip, p),
                            PeerSource::Inbound,
                            unix_now(),
                            |id| slots.contains(id),
                        );
                    }
                    claim.sender.clone()
                }
                Binding::Elsewhere => address_hop(ip),
            },
        };
        if self.bans.is_banned(&hop, now) || self.table.is_banned(&hop, unix_now()) {
            return Err(InboundError::Banned);
        }
        if self.table.endpoint(&hop).is_some() {
            self.connect(&hop, Direction::Inbound, now);
        }
        let actions = self.router.handle_message(&hop, message, now);
        self.apply(actions, Some((&hop, ip)));
        Ok(())
    }

    /// A verdict on a delivered message: the signer's score, and the address's (unless a
    /// peer bound to the address relayed someone else's message: a relay passing on what
    /// it received is not its source).
    fn on_verdict(
        &mut self,
        hop: &str,
        signer: Option<&str>,
        address: Option<IpAddr>,
        verdict: Verdict,
        now: Instant,
    ) {
        let hop_is_peer = self.table.endpoint(hop).is_some();
        match signer {
            Some(s) => self.on_report(s, verdict, now),
            // An unsigned message (a lenient node): the bound hop is all we know.
            None if hop_is_peer => self.on_report(hop, verdict, now),
            None => {}
        }
        let relayed_by_peer = hop_is_peer && signer.is_some_and(|s| s != hop);
        if !verdict.is_bad() {
            self.slots.mark_useful(hop, now);
        } else if relayed_by_peer {
            tracing::debug!(
                hop,
                ?verdict,
                "a peer relayed a bad message; its signer pays"
            );
        } else if let Some(ip) = address {
            self.guard
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .charge(ip, verdict, now);
        }
    }

    fn on_report(&mut self, peer: &str, verdict: Verdict, now: Instant) {
        if let ScoreOutcome::Ban(until) = self.scores.record(peer, verdict, now) {
            tracing::warn!(peer, ?verdict, "peer banned");
            self.bans.ban(peer.to_owned(), until, now);
            let secs = until.saturating_duration_since(now).as_secs();
            self.table.ban(peer, unix_now() + secs);
            self.disconnect(peer);
        }
    }

    /// Gives `peer` a slot in `direction` if the slots allow ([`Slots::admit`]), evicting
    /// the inbound peer they name.
    fn connect(&mut self, peer: &str, direction: Direction, now: Instant) {
        if peer == self.config.peer_id
            || self.slots.contains(peer)
            || self.bans.is_banned(&peer.to_owned(), now)
            || self.table.is_banned(peer, unix_now())
        {
            return;
        }
        let ip = self.table.endpoint(peer).and_then(crate::hop::endpoint_ip);
        match self.slots.admit(peer, ip, direction, now) {
            Admission::Admitted => {}
            Admission::Evicted(victim) => {
                tracing::debug!(peer, %victim, "inbound slots full; evicted a peer");
                self.drop_peer(&victim);
            }
            Admission::Refused => return,
        }
        self.router.add_peer(peer);
    }

    fn disconnect(&mut self, peer: &str) {
        self.slots.remove(peer);
        self.drop_peer(peer);
    }

    fn drop_peer(&mut self, peer: &str) {
        self.router.remove_peer(peer);
        if let Some(q) = self.queues.remove(peer) {
            q.close();
        }
    }

    fn on_event(&mut self, e: Event) {
        let now = Instant::now();
        match e {
            Event::Sent { peer, ok: true } => self.table.record_success(&peer, unix_now()),
            Event::Sent { peer, ok: false } => {
                self.table.record_failure(&peer, unix_now());
                if !matches!(self.table.get(&peer), Some(e) if e.failures < 3) {
                    self.disconnect(&peer);
                }
            }
            Event::Pex {
                endpoint,
                asked,
                answer,
            } => match answer {
                Ok(a) => {
                    let unix = unix_now();
                    // What a peer says about ids adds entries; it never moves an entry
                    // the book holds at another endpoint (that would be a relay claim
                    // moving another peer's endpoint).
                    if let Some((id, _)) = &a.self_peer {
                        if *id != asked && is_placeholder(&asked, &endpoint) {
                            // The stand-in has its id now (or was us): it goes.
                            self.disconnect(&asked);
                            self.table.remove(&asked);
                        }
                        if *id != self.config.peer_id && !self.moves(id, &endpoint) {
                            let source = if self.config.bootstrap.contains(&endpoint) {
                                PeerSource::Bootstrap
                            } else {
                                PeerSource::Pex
                            };
                            let slots = &self.slots;
                            self.table
                                .upsert_keeping(id, &endpoint, source, unix, |id| {
                                    slots.contains(id)
                                });
                            self.table.record_success(id, unix);
                            self.connect(id, Direction::Outbound, now);
                        }
                    }
                    for p in a.peers {
                        if p.peer_id == self.config.peer_id || self.moves(&p.peer_id, &p.endpoint())
                        {
                            continue;
                        }
                        let endpoint = p.endpoint();
                        if is_placeholder(&p.peer_id, &endpoint) {
                            // An id the answering node has not learnt yet (the reference
                            // lists such peers as `host:port`, us among them): the endpoint
                            // is asked for its own id next round instead.
                            if !self.table.iter().any(|e| e.endpoint == endpoint) {
                                let id = placeholder_id(&endpoint);
                                let slots = &self.slots;
                                self.table.upsert_keeping(
                                    &id,
                                    &endpoint,
                                    PeerSource::Pex,
                                    unix,
                                    |id| slots.contains(id),
                                );
                            }
                            continue;
                        }
                        let slots = &self.slots;
                        self.table.upsert_keeping(
                            &p.peer_id,
                            &endpoint,
                            PeerSource::Pex,
                            unix,
                            |id| slots.contains(id),
                        );
                        if self.table.is_dialable(&p.peer_id, unix) {
                            self.connect(&p.peer_id, Direction::Outbound, now);
                        }
                    }
                }
                Err(reason) => {
                    tracing::debug!(%endpoint, %reason, "peer exchange failed");
                    self.table.record_failure(&asked, unix_now());
                }
            },
        }
    }

    /// Whether recording `peer` at `endpoint` would move an entry the book holds elsewhere.
    fn moves(&self, peer: &str, endpoint: &str) -> bool {
        self.table.endpoint(peer).is_some_and(|ep| ep != endpoint)
    }

    /// Connects the dialable peers of a reloaded table.
    fn reconnect_known(&mut self) {
        let now = Instant::now();
        let ids: Vec<PeerId> = self
            .table
            .dialable(unix_now())
            .into_iter()
            .filter(|e| !is_placeholder(&e.peer_id, &e.endpoint))
            .map(|e| e.peer_id.clone())
            .collect();
        for id in ids {
            self.connect(&id, Direction::Outbound, now);
        }
    }

    /// One discovery round: bootstrap peers, then peer exchange with up to 8 known peers.
    fn discover(&mut self) {
        let unix = unix_now();
        let mut targets: Vec<(PeerId, String)> = Vec::new();
        for ep in self.config.bootstrap.clone() {
            let known = self
                .table
                .iter()
                .find(|e| e.endpoint == ep)
                .map(|e| e.peer_id.clone());
            let id = known.unwrap_or_else(|| {
                self.table
                    .upsert(&placeholder_id(&ep), &ep, PeerSource::Bootstrap, unix);
                placeholder_id(&ep)
            });
            if self.table.is_dialable(&id, unix) {
                targets.push((id, ep));
            }
        }
        for e in self.table.dialable(unix) {
            if targets.len() >= 8 + self.config.bootstrap.len() {
                break;
            }
            if !targets.iter().any(|(id, _)| *id == e.peer_id) {
                targets.push((e.peer_id.clone(), e.endpoint.clone()));
            }
        }
        self.pex(targets);
        if let Err(e) = self.table.save() {
            tracing::warn!("saving peers: {e}");
        }
    }

    fn pex(&self, targets: Vec<(PeerId, String)>) {
        if targets.is_empty() {
            return;
        }
        let client = self.client.clone();
        let events = self.events_tx.clone();
        tokio::spawn(async move {
            for (asked, endpoint) in targets {
                let answer = tokio::time::timeout(Duration::from_secs(5), client.peers(&endpoint))
                    .await
                    .map_err(|_| "timed out".to_owned())
                    .and_then(|r| r.map_err(|e| e.to_string()));
                if events
                    .send(Event::Pex {
                        endpoint,
                        asked,
                        answer,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
    }

    /// Performs a router's actions; `origin` is the hop and address of the body that
    /// caused them.
    fn apply(&mut self, actions: Vec<Action>, origin: Option<(&str, IpAddr)>) {
        for a in actions {
            match a {
                Action::Deliver(message) => {
                    let d = Delivery {
                        from: origin
                            .map_or(self.config.peer_id.as_str(), |o| o.0)
                            .to_owned(),
                        signer: message.seal.is_some().then(|| message.sender_id.clone()),
                        address: origin.map(|o| o.1),
                        message,
                    };
                    if self.deliveries.try_send(d).is_err() {
                        tracing::warn!("delivery channel full; message dropped");
                    }
                }
                Action::Send { peer, message } => {
                    let body = self.outbound_message(message);
                    self.enqueue(&peer, body);
                }
            }
        }
    }

    /// The wire body of a message we send: our port, and our id as forwarder when relaying
    /// (both outside the message id and the seal).
    fn outbound_message(&self, mut m: Message) -> String {
        m.payload.insert(
            "_sender_port".into(),
            i64::from(self.config.listen_port).into(),
        );
        if m.sender_id == self.config.peer_id {
            m.payload.shift_remove("_forwarder_id");
        } else {
            m.payload
                .insert("_forwarder_id".into(), self.config.peer_id.clone().into());
        }
        m.to_wire_json()
    }

    fn enqueue(&mut self, peer: &str, body: String) {
        let Some(endpoint) = self.table.endpoint(peer).map(str::to_owned) else {
            return;
        };
        if body.len() > MAX_MESSAGE_BYTES {
            tracing::warn!(
                peer,
                len = body.len(),
                "outbound message over the size limit"
            );
            return;
        }
        let cap = self.config.send_queue_capacity.max(1);
        let q = self.queues.entry(peer.to_owned()).or_insert_with(|| {
            let q = Arc::new(SendQueue {
                items: Mutex::new(VecDeque::new()),
                notify: Notify::new(),
                closed: AtomicBool::new(false),
                dropped: AtomicU64::new(0),
            });
            tokio::spawn(send_loop(
                peer.to_owned(),
                q.clone(),
                self.client.clone(),
                self.events_tx.clone(),
            ));
            q
        });
        q.push(endpoint, body, cap);
    }
}

/// Messages and control frames this process posted to peers (published and forwarded).
pub static FRAMES_SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// Posts to peers that failed.
pub static FRAMES_FAILED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Most frames one sender posts to one peer per second: well under the address rate a
/// peer admits ([`crate::admission::AdmissionConfig`]: 2,500 a second after a burst of
/// 5,000), so an honest node relaying an attacker's flood is never charged as its source
/// (and banned) by its neighbours. Frames over it wait in the bounded queue, which drops
/// the oldest.
const SEND_PER_SECOND: u32 = 1_000;
/// How long a sender pauses after a peer answers 429 or 503 (it is shedding load).
const BACK_OFF: Duration = Duration::from_secs(1);

async fn send_loop(
    peer: PeerId,
    q: Arc<SendQueue>,
    client: PeerClient,
    events: mpsc::Sender<Event>,
) {
    let mut window = (tokio::time::Instant::now(), 0u32);
    loop {
        while let Some((endpoint, body)) = q.pop() {
            if window.1 >= SEND_PER_SECOND {
                tokio::time::sleep_until(window.0 + Duration::from_secs(1)).await;
            }
            let now = tokio::time::Instant::now();
            if now >= window.0 + Duration::from_secs(1) {
                window = (now, 0);
            }
            window.1 += 1;
            let sent = client.post_body(&endpoint, body).await;
            let counter = if sent.is_ok() {
                &FRAMES_SENT
            } else {
                &FRAMES_FAILED
            };
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let ok = match sent {
                Ok(_) => true,
                // A peer that answers "too many" or "overloaded" is up and shedding load
                // (its rate limit for our address, a flood we relay): back-pressure, not a
                // failure that should cost it its connection.
                Err(TransportError::Status {
                    status: 429 | 503, ..
                }) => {
                    tokio::time::sleep(BACK_OFF).await;
                    continue;
                }
                Err(e) => {
                    tracing::debug!(%peer, %endpoint, "send failed: {e}");
                    false
                }
            };
            // Outcomes are advisory: drop them rather than block when the actor is busy.
            let _ = events.try_send(Event::Sent {
                peer: peer.clone(),
                ok,
            });
        }
        if q.closed.load(Ordering::Relaxed) {
            return;
        }
        q.notify.notified().await;
        if q.closed.load(Ordering::Relaxed) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbound_parser_reads_reference_samples() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/reference/wire-samples"
        );
        for f in [
            "gossip_block_announcement.json",
            "message_optimae_reveal.json",
        ] {
            let body = std::fs::read(format!("{dir}/{f}")).unwrap_or_else(|e| panic!("{e}"));
            let (claim, port, _) = parse_inbound(&body)
                .unwrap_or_else(|e| panic!("{f}: {e}"))
                .unwrap_or_else(|| panic!("{f}: read as a control frame"));
            assert_eq!(claim.sender.len(), 40);
            assert!(port.is_some());
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 2000, failure_persistence: None, ..Default::default()
        })]

        #[test]
        fn random_bytes_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse_inbound(&body);
        }

        #[test]
        fn control_frames_are_acknowledged_unread(
            sender in "[a-z0-9]{0,8}",
            key in "(graft|prune|ihave|iwant|subscribe|unsubscribe|x)",
            value in r#"(\[\]|\["[a-z]{0,3}"\]|7|null|\{\}|"s"|\[\{"topic":"t","ids":\[1\]\}\])"#,
        ) {
            let body = format!(r#"{{"type":"control","sender_id":"{sender}","control":{{"{key}":{value}}}}}"#);
            proptest::prop_assert!(matches!(parse_inbound(body.as_bytes()), Ok(None)));
        }
    }

    #[test]
    fn malformed_bodies_are_typed_errors() {
        type Check = fn(&InboundError) -> bool;
        let cases: [(&[u8], Check); 4] = [
            (b"\xff\xfe", |e| matches!(e, InboundError::Malformed(_))),
            (b"[1,2]", |e| matches!(e, InboundError::Malformed(_))),
            (br#"{"type":"message"}"#, |e| matches!(e, InboundError::Malformed(_))),
            (
                br#"{"msg_type":"chain_status","sender_id":"","timestamp":"2026-01-01T00:00:00Z","payload":{}}"#,
                |e| matches!(e, InboundError::BadSender),
            ),
        ];
        for (body, check) in cases {
            match parse_inbound(body) {
                Err(e) => assert!(check(&e), "{}: {e:?}", String::from_utf8_lossy(body)),
                Ok(_) => panic!("accepted {}", String::from_utf8_lossy(body)),
            }
        }
    }
}
