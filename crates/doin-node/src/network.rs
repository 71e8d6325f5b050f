//! The node's side of the peer-to-peer network: starts the HTTP bridge to reference nodes
//! ([`doin_net::service`]) beside libp2p ([`crate::p2p`], between doin nodes), handles what
//! either delivers, announces the blocks this node mints, and keeps the peer endpoints the
//! sync loop and the evaluator use up to date.
//!
//! * Every message this node sends is sealed (signed over its dedupe id). Inbound, the
//!   network's admission ([`doin_net::admission`]) refuses, before routing, a message
//!   whose seal does not verify, one without a seal (unless `accept_unsigned_messages`
//!   opts in to reference peers), and one older than a minute (a replay) or dated ahead,
//!   charging the address it came from. Messages are only ever hints: a block
//!   announcement triggers a sync whose blocks are fully validated, a task announcement an
//!   earlier pull, and its revealed parameters become a migrant for the domain's optimizer
//!   ([`crate::migration`]), which re-measures them before starting from them.
//! * Blocks are announced, never pushed: peers pull them through `/chain/blocks` (or
//!   `/doin/sync/1` on libp2p). HTTP peers get every message by flooding, as the reference
//!   sends it, so a reference node hears of every block and follows the chain.
//! * Transfers submitted to this node over HTTP are gossiped on the `blocks` topic (which
//!   every node relays) inside a `chain_status` message whose payload carries the wire
//!   transfer in the extra key `"transfer"` (reference nodes read the status and ignore
//!   the key). A delivered transfer goes to the mempool with the delivering hop as its
//!   source (its rate limit): a peer bound to the connecting address, or that address
//!   ([`doin_net::hop`]); the transfer's own seal authenticates it.
//! * Verdicts on what is delivered go back with the delivery ([`NetHandle::report`]): to
//!   the message's signer and the connecting address, never to a peer a body only names.
//!   Sync peers that served invalid blocks are charged at their address too. Channel
//!   operations travel the same way under `"channel_op"` ([`crate::channel_gossip`]), and
//!   optimizers' commitments under `"commitment"` ([`crate::commitment_gossip`]), and
//!   verified optimae under `"verified_optimae"` ([`crate::optimae_gossip`]), on their
//!   domain's topic.
//! * Votes with their claims, for rejection evidence, see [`crate::evidence_gossip`].
//! * With libp2p ([`crate::p2p`]): everything published here goes out on its gossipsub
//!   topic and to the HTTP peers ([`Broadcast`]); gossip libp2p admitted is handled here
//!   beside HTTP deliveries, with the same code and verdicts, which go back to gossipsub
//!   (the sending peer's score). A message both transports deliver is handled once
//!   ([`SeenVerdicts`]). What one transport delivers and we find valid is passed to the
//!   other (`relay_across`): libp2p gossip is flooded to the HTTP peers, so reference
//!   nodes hear what every doin node gossips; a sealed HTTP message goes into gossipsub,
//!   and an unsealed one (a reference node's, admitted because this node accepts them)
//!   onto the reference topics ([`doin_net::p2p::Origin::Reference`]), which only the
//!   doin nodes that accept unsealed messages join, so what a reference node sends
//!   reaches them and nodes that refuse it never see it. Invalid input is not relayed:
//!   it is refused and charged to the address that sent it. Sync peers reached over
//!   libp2p that served invalid blocks are charged on their authenticated connection.
//!   Both transports ban addresses into one list ([`doin_net::address_bans`]): an
//!   address banned for what it posted is cut off libp2p, and the address of a libp2p
//!   peer banned for its gossip gets `403` on `POST /message`. Peers are banned by DOIN
//!   id into one list the same way ([`doin_net::id_bans`]): a signer banned on the bridge
//!   loses its libp2p connections under that key, and a libp2p peer banned for its
//!   gossip has what it signs refused on the bridge.

use std::sync::Arc;
use std::time::{Duration, Instant};

use doin_consensus::transfer::TransferError;
use doin_net::p2p::{Origin, P2pHandle};
use doin_net::service::{Delivery, NetConfig, NetHandle};
use doin_net::Verdict;
use doin_primitives::identity::Identity;
use doin_primitives::models::message::{Message, MessageType};
use doin_primitives::models::payload::{BlockAnnouncement, ChainStatus, Payload};
use doin_primitives::models::{ChannelOp, Transfer, WireModel};
use doin_primitives::value::Map;
use doin_primitives::PeerId;
use tokio::sync::{mpsc, watch};

use crate::chain_service::{ChainHandle, SubmitTransferError};
use crate::clock::SharedClock;
use crate::config::NodeConfig;
use crate::mempool::MempoolError;
use crate::p2p::broadcast::Broadcast;
use crate::p2p::seen::SeenVerdicts;
use crate::peers::PeerSet;

/// The extra `chain_status` payload key that carries a gossiped transfer.
pub const TRANSFER_KEY: &str = "transfer";

/// How often the network's peer table is copied into the node's peer endpoints.
const PEER_REFRESH: Duration = Duration::from_secs(1);

/// The network settings a node config describes.
pub fn net_config(config: &NodeConfig, peer_id: &PeerId) -> NetConfig {
    let mut c = NetConfig::new(peer_id.clone(), config.port);
    c.bootstrap = config.http_bootstrap();
    if config.gossip_heartbeat_interval.is_finite() && config.gossip_heartbeat_interval > 0.0 {
        c.heartbeat_interval = Duration::from_secs_f64(config.gossip_heartbeat_interval);
    }
    // Peer exchange runs even with `discovery_enabled: false` (that key switches the
    // reference's LAN scan off), and often enough that a new peer is known within seconds.
    if config.discovery_interval.is_finite() && config.discovery_interval > 0.0 {
        c.discovery_interval = Duration::from_secs_f64(config.discovery_interval.clamp(0.5, 5.0));
    } else {
        c.discovery_interval = Duration::from_secs(5);
    }
    c.peers_file = Some(config.data_dir.join("peers.json"));
    c.admission.require_seals = !config.accept_unsigned_messages;
    c.slots.per_range = usize::try_from(config.max_peers_per_range.max(1)).unwrap_or(usize::MAX);
    c
}

/// The libp2p side [`start`] wires in: the handle, and the gossip its event loop
/// ([`crate::p2p::events`]) admitted.
pub struct P2pWiring {
    /// The libp2p handle.
    pub handle: P2pHandle,
    /// Admitted gossip, handled beside HTTP deliveries.
    pub(crate) inbound: mpsc::Receiver<Inbound>,
}

/// What [`start`] returns: the HTTP service, the node's gossip sender on both transports,
/// and the tasks it spawned.
pub struct Started {
    /// The HTTP bridge's service.
    pub net: NetHandle,
    /// Gossip out on both transports.
    pub broadcast: Broadcast,
    /// The tasks.
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Starts the HTTP bridge and the node's tasks around it (with `p2p`, libp2p's gossip is
/// handled and published beside the bridge's).
#[allow(clippy::too_many_arguments)]
pub fn start(
    config: &NodeConfig,
    identity: Arc<Identity>,
    peers: PeerSet,
    chain: ChainHandle,
    announcements: Announcements,
    stop: watch::Receiver<bool>,
    clock: SharedClock,
    p2p: Option<P2pWiring>,
) -> anyhow::Result<Started> {
    let mut net_config = net_config(config, identity.peer_id());
    // One ban list for both transports, by address and by id: an address or a peer
    // banned on either is refused on both.
    if let Some(w) = &p2p {
        net_config.address_bans = w.handle.address_bans().clone();
        net_config.id_bans = w.handle.id_bans().clone();
    }
    let (net, deliveries) = doin_net::service::spawn(net_config)?;
    let (p2p_handle, p2p_inbound) = match p2p {
        Some(w) => (Some(w.handle), Some(w.inbound)),
        None => (None, None),
    };
    let broadcast = Broadcast {
        net: net.clone(),
        p2p: p2p_handle.clone(),
    };
    let reporter = Reporter {
        net: net.clone(),
        p2p: p2p_handle.clone(),
    };
    let mut tasks = vec![
        tokio::spawn(handle_deliveries(
            reporter,
            deliveries,
            p2p_inbound,
            peers.clone(),
            chain.clone(),
            announcements,
            stop.clone(),
        )),
        tokio::spawn(refresh_peers(net.clone(), p2p_handle, peers, stop.clone())),
        tokio::spawn(announce_blocks(
            broadcast.clone(),
            identity.clone(),
            chain.clone(),
            stop.clone(),
            clock.clone(),
        )),
    ];
    if let Some(outbox) = chain.rejections().take_outbox() {
        tasks.push(tokio::spawn(crate::evidence_gossip::gossip_votes(
            broadcast.clone(),
            identity.clone(),
            outbox,
            stop.clone(),
            clock.clone(),
        )));
    }
    // What is submitted here is gossiped: channel operations, commitments, transfers.
    let relay = Relay {
        net: broadcast.clone(),
        identity,
        chain: chain.clone(),
        stop,
        clock,
    };
    if let Some(rx) = chain.take_channel_relay() {
        tasks.push(relay.spawn(
            rx,
            crate::channel_gossip::CHANNEL_OP_KEY,
            ChannelOp::compute_id,
        ));
    }
    if let Some(rx) = chain.take_commitment_relay() {
        let id = |c: &doin_consensus::commitment::OptimaeCommitment| c.bound_commitment.clone();
        tasks.push(relay.spawn(rx, crate::commitment_gossip::COMMITMENT_KEY, id));
    }
    if let Some(rx) = chain.take_optimae_relay() {
        let id = |v: &doin_consensus::carried::VerifiedOptimae| v.optimae_id();
        tasks.push(relay.spawn(rx, crate::optimae_gossip::OPTIMAE_KEY, id));
    }
    if let Some(rx) = chain.take_transfer_relay() {
        tasks.push(relay.spawn(rx, TRANSFER_KEY, Transfer::compute_id));
    }
    Ok(Started {
        net,
        broadcast,
        tasks,
    })
}

/// Who takes what `task_created` announcements carry: the optimizers (the revealed
/// parameters, [`crate::migration`]) and the evaluator (the task, when its quorum slot
/// names this node, [`crate::announced_tasks`]).
#[derive(Clone)]
pub struct Announcements {
    /// The optimizers' migrants.
    pub migrants: crate::migration::MigrantBoard,
    /// The evaluator's announced tasks.
    pub tasks: crate::announced_tasks::AnnouncedTasks,
}

/// Offers the parameters a `task_created` announcement reveals to the domain's optimizer
/// (only a registered domain's, and only claims better than what it holds).
fn note_migrant(migrants: &crate::migration::MigrantBoard, message: &Message) {
    use doin_primitives::models::payload::TaskCreated;
    let Ok(task) = TaskCreated::from_map(&message.payload) else {
        return;
    };
    let Some(claimed) = task.reported_performance else {
        return;
    };
    if task.parameters.is_empty() {
        return;
    }
    migrants.announce(
        &task.domain_id,
        crate::migration::Migrant {
            parameters: task.parameters,
            claimed,
            from: task.requester_id,
        },
    );
}

/// A message delivered by either transport, past admission (seal and age checked).
pub(crate) enum Inbound {
    /// A `POST /message` body.
    Http(Delivery),
    /// A gossipsub message, waiting for our verdict before it is forwarded.
    P2p {
        /// The message.
        message: Message,
        /// The libp2p peer's DOIN id (its libp2p id until identified): what rate limits
        /// charge.
        from: String,
        /// The delivery, to report the verdict on.
        gossip: doin_net::p2p::GossipMessage,
    },
}

impl Inbound {
    fn message(&self) -> &Message {
        match self {
            Inbound::Http(d) => &d.message,
            Inbound::P2p { message, .. } => message,
        }
    }

    /// The hop that delivered it: the HTTP delivery's hop, or the libp2p peer.
    fn from(&self) -> &str {
        match self {
            Inbound::Http(d) => &d.from,
            Inbound::P2p { from, .. } => from,
        }
    }
}

/// Where verdicts go: the HTTP service for its deliveries, libp2p for its own.
#[derive(Clone)]
pub(crate) struct Reporter {
    pub(crate) net: NetHandle,
    pub(crate) p2p: Option<P2pHandle>,
}

impl Reporter {
    pub(crate) async fn report(&self, d: &Inbound, verdict: Verdict) {
        match d {
            Inbound::Http(delivery) => self.net.report(delivery, verdict).await,
            Inbound::P2p { gossip, .. } => {
                if let Some(p2p) = &self.p2p {
                    let _ = p2p.report(gossip, verdict).await;
                }
            }
        }
    }
}

async fn handle_deliveries(
    reporter: Reporter,
    mut deliveries: mpsc::Receiver<Delivery>,
    mut p2p_inbound: Option<mpsc::Receiver<Inbound>>,
    peers: PeerSet,
    chain: ChainHandle,
    announcements: Announcements,
    mut stop: watch::Receiver<bool>,
) {
    let mut seen = SeenVerdicts::default();
    loop {
        let d = tokio::select! {
            d = deliveries.recv() => match d { Some(d) => Inbound::Http(d), None => return },
            Some(d) = async {
                match p2p_inbound.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            } => d,
            _ = stop.wait_for(|s| *s) => return,
        };
        // A message both transports deliver is handled once; the copy gets its verdict.
        let id = d.message().dedupe_id();
        if let Some(verdict) = seen.get(&id, Instant::now()) {
            reporter.report(&d, verdict).await;
            continue;
        }
        let verdict = handle_one(&d, &peers, &chain, &announcements).await;
        seen.insert(id, verdict, Instant::now());
        reporter.report(&d, verdict).await;
        if !verdict.is_bad() {
            relay_across(&reporter, &d, verdict).await;
        }
    }
}

/// Passes a message one transport delivered, and that we did not find bad, to the other.
/// Libp2p gossip is flooded to the HTTP peers, the ignored too (reference nodes hear what
/// every doin node gossips: an announcement of a block we already hold, or that is off
/// our tip, still tells a reference node to pull from us, and such announcements are most
/// of them where several nodes mint). An HTTP message goes into its gossipsub topic only
/// when found valid and useful (`verdict.forwards()`, as gossipsub forwards), without the
/// HTTP hop's transport keys: a sealed one on the sealed topics, an unsealed one (a
/// reference node's, which only reaches here when this node accepts them) on the
/// reference topics, which only nodes that accept unsealed messages join (the others
/// would refuse it and charge us).
async fn relay_across(reporter: &Reporter, d: &Inbound, verdict: Verdict) {
    match d {
        Inbound::P2p { message, .. } => {
            if let Err(e) = reporter.net.publish(message.clone()).await {
                tracing::debug!("libp2p gossip not relayed to HTTP peers: {e}");
            }
        }
        Inbound::Http(delivery) => {
            let Some(p2p) = reporter.p2p.as_ref().filter(|_| verdict.forwards()) else {
                return;
            };
            let origin = if delivery.message.seal.is_some() {
                Origin::Sealed
            } else {
                Origin::Reference
            };
            let mut message = delivery.message.clone();
            for key in doin_primitives::models::message::TRANSPORT_KEYS {
                message.payload.shift_remove(key);
            }
            if let Some((kind, domain)) = crate::p2p::broadcast::kind_of(&message) {
                let bytes = message.to_wire_json().into_bytes();
                // A duplicate (libp2p had it first) is refused by gossipsub: nothing to do.
                if let Err(e) = p2p.publish_of(origin, kind, domain.as_deref(), bytes).await {
                    tracing::debug!(?kind, "HTTP message not relayed into libp2p: {e}");
                }
            }
        }
    }
}

/// Handles one delivered message; returns the verdict on it.
async fn handle_one(
    d: &Inbound,
    peers: &PeerSet,
    chain: &ChainHandle,
    announcements: &Announcements,
) -> Verdict {
    if matches!(d.message().msg_type, MessageType::TaskCreated) {
        // A task for this evaluator is evaluated from the announcement; a reference node's
        // task (no DOIN fields) is pulled from the peers' queues.
        match crate::announced_tasks::task_of(&d.message().payload) {
            Some(task) => {
                announcements.tasks.offer(task);
            }
            None => peers.request_task_poll(),
        }
        // Before the evidence pool takes the announcement's claim (and the message).
        note_migrant(&announcements.migrants, d.message());
    }
    if let Some(verdict) = crate::evidence_gossip::take_delivered(chain, d.message()) {
        return verdict;
    }
    match d.message().msg_type {
        MessageType::BlockAnnouncement => {
            match d.message().payload.get(crate::block_gossip::BLOCK_KEY) {
                Some(block) => return crate::block_gossip::deliver(chain, peers, block).await,
                None => peers.request_sync(),
            }
        }
        MessageType::ChainStatus => {
            if let Some(v) = d
                .message()
                .payload
                .get(crate::commitment_gossip::COMMITMENT_KEY)
            {
                return crate::commitment_gossip::deliver(chain, d.from(), v).await;
            }
            if let Some(v) = d.message().payload.get(crate::optimae_gossip::OPTIMAE_KEY) {
                return crate::optimae_gossip::deliver(chain, d.from(), v).await;
            }
            if let Some(v) = d
                .message()
                .payload
                .get(crate::channel_gossip::CHANNEL_OP_KEY)
            {
                return crate::channel_gossip::deliver(chain, d.from(), v).await;
            }
            if let Some(v) = d.message().payload.get(TRANSFER_KEY) {
                return match Transfer::from_value(v) {
                    Ok(t) => match chain.submit_transfer(t, d.from(), false).await {
                        Ok(_) => Verdict::Valid,
                        // A forged transfer costs the peer that relayed it.
                        Err(SubmitTransferError::Refused(MempoolError::Invalid(
                            TransferError::BadSignature(e),
                        ))) => {
                            tracing::debug!(peer = %d.from(), "gossiped transfer with a bad seal: {e}");
                            Verdict::InvalidSignature
                        }
                        // Another peer's copy or a stale nonce: not the relay's fault.
                        Err(e) => {
                            tracing::debug!(peer = %d.from(), "gossiped transfer refused: {e}");
                            Verdict::Valid
                        }
                    },
                    Err(e) => {
                        tracing::debug!(peer = %d.from(), "malformed gossiped transfer: {e}");
                        Verdict::Malformed
                    }
                };
            }
        }
        _ => {}
    }
    Verdict::Valid
}

async fn refresh_peers(
    net: NetHandle,
    p2p: Option<P2pHandle>,
    peers: PeerSet,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(PEER_REFRESH);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        // Sync peers that served invalid blocks cost the address they are reached at.
        // Libp2p ones cost the peer of their authenticated connection.
        for endpoint in peers.take_offenders() {
            if let Ok(addr) = endpoint.parse::<std::net::SocketAddr>() {
                net.charge_address(addr, Verdict::InvalidBlock);
            } else if let (Some(p2p), Some(peer)) = (&p2p, crate::p2p::peer_of_endpoint(&endpoint))
            {
                let _ = p2p.report_peer(peer, Verdict::InvalidBlock).await;
            }
        }
        let Ok(v) = net.peers_json().await else {
            return;
        };
        for p in v["peers"].as_array().into_iter().flatten() {
            if let (Some(host), Some(port)) = (p["address"].as_str(), p["port"].as_u64()) {
                peers.add(&format!("{host}:{port}"));
            }
        }
    }
}

/// Announces each block this node mints (`block_announcement`, sealed), with the block
/// ([`crate::block_gossip`]).
async fn announce_blocks(
    net: Broadcast,
    identity: Arc<Identity>,
    chain: ChainHandle,
    mut stop: watch::Receiver<bool>,
    clock: SharedClock,
) {
    let mut views = chain.watch();
    let mut last = views.borrow().tip_hash.clone();
    loop {
        tokio::select! {
            r = views.changed() => if r.is_err() { return },
            _ = stop.wait_for(|s| *s) => return,
        }
        let view = views.borrow().clone();
        if view.tip_hash == last {
            continue;
        }
        last = view.tip_hash.clone();
        let Some(tip) = &view.tip_header else {
            continue;
        };
        if tip.generator_id != *identity.peer_id() {
            continue;
        }
        let mut extra = Map::new();
        if let Some(block) = view.minted_tip.as_ref().filter(|b| b.hash == view.tip_hash) {
            crate::block_gossip::attach(&mut extra, block);
        }
        let payload = Payload::BlockAnnouncement(BlockAnnouncement {
            block_index: tip.index,
            block_hash: view.tip_hash.clone(),
            previous_hash: tip.previous_hash.clone(),
            generator_id: tip.generator_id.clone(),
            transaction_count: view.tip_tx_count,
            weighted_performance_sum: tip.weighted_performance_sum,
            threshold: tip.threshold,
            extra,
        });
        let mut message = Message::new(identity.peer_id(), clock.now(), &payload);
        message.sign(&identity);
        crate::metrics::METRICS.gossip_published.inc();
        if let Err(e) = net.publish(message).await {
            tracing::debug!("cannot announce block {}: {e}", tip.index);
        }
    }
}

/// What [`gossip_relayed`] needs besides the items, for each kind of item relayed.
#[derive(Clone)]
struct Relay {
    net: Broadcast,
    identity: Arc<Identity>,
    chain: ChainHandle,
    stop: watch::Receiver<bool>,
    /// Stamps the messages it signs.
    clock: SharedClock,
}

impl Relay {
    /// Spawns [`gossip_relayed`] for the items arriving on `rx`.
    fn spawn<T: WireModel + Send + 'static>(
        &self,
        rx: mpsc::Receiver<T>,
        key: &'static str,
        id: fn(&T) -> String,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(gossip_relayed(self.clone(), rx, key, id))
    }
}

/// Gossips what is submitted to this node over HTTP and relayed on `relay` (transfers,
/// channel operations, commitments): each item rides under `key` in the extra fields of a
/// sealed `chain_status` message on the `blocks` topic, which reference nodes ignore. `id`
/// names an item in the log when it cannot be published.
async fn gossip_relayed<T: WireModel>(
    r: Relay,
    mut relay: mpsc::Receiver<T>,
    key: &'static str,
    id: fn(&T) -> String,
) {
    let Relay {
        net,
        identity,
        chain,
        mut stop,
        clock,
    } = r;
    loop {
        let item = tokio::select! {
            item = relay.recv() => match item { Some(item) => item, None => return },
            _ = stop.wait_for(|s| *s) => return,
        };
        let view = chain.view();
        let mut extra = Map::new();
        extra.insert(key.into(), item.to_value());
        let payload = Payload::ChainStatus(ChainStatus {
            chain_height: view.height,
            tip_hash: view.tip_hash.clone(),
            tip_index: view.tip_index,
            finalized_height: view.finalized_height,
            extra,
        });
        let mut message = Message::new(identity.peer_id(), clock.now(), &payload);
        message.sign(&identity);
        crate::metrics::METRICS.gossip_published.inc();
        if let Err(e) = net.publish(message).await {
            tracing::debug!("cannot gossip {key} {}: {e}", id(&item));
        }
    }
}
