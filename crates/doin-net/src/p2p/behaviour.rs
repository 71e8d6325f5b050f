//! The swarm: transports (TCP and QUIC, noise and yamux on TCP, relayed circuits) and the
//! protocols every DOIN node runs, built from one [`P2pConfig`] and the node's key.
//!
//! | protocol | why |
//! |---|---|
//! | connection limits, block list | the HTTP bridge's slots (34 in, 16 out), bans and the node's own blocks |
//! | address gate ([`super::address_gate`]) | addresses banned on either transport refused and closed |
//! | inbound slots ([`super::inbound_slots`]) | per-range caps and eviction as the HTTP slots |
//! | dial guard ([`super::dial_guard`]) | no dial (and no handshake) while the outbound slots are full; outbound per-range caps |
//! | identify | the peer's key (its DOIN id) and listen addresses |
//! | ping | liveness of idle connections |
//! | kademlia (`/doin/kad/1.0.0`) | finding peers from a few bootstrap addresses |
//! | gossipsub | every gossiped kind, forwarded only after our validator accepts |
//! | request-response (`/doin/sync/1`) | chain status and block pages |
//! | request-response (`/doin/tasks/1`) | evaluator task calls (pending, claim, complete) |
//! | autonat, relay client (and server), dcutr | reachability behind NAT |

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libp2p::gossipsub::{self, MessageAuthenticity, PeerScoreParams, PeerScoreThresholds};
use libp2p::swarm::{behaviour::toggle::Toggle, NetworkBehaviour};
use libp2p::{
    allow_block_list, autonat, connection_limits, dcutr, identify, identity::Keypair, kad, noise,
    ping, relay, request_response, tcp, yamux, StreamProtocol, Swarm, SwarmBuilder,
};
use sha2::{Digest, Sha256};

use super::codec::{SyncCodec, SYNC_PROTOCOL};
use super::task_codec::{TaskCodec, TASK_PROTOCOL};
use super::traffic::{Traffic, GOSSIPSUB_PREFIX};
use super::P2pConfig;

/// The kademlia protocol name (DOIN's own DHT, apart from the public IPFS one).
pub const KAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/doin/kad/1.0.0");
/// The identify protocol version string.
pub const IDENTIFY_VERSION: &str = "/doin/1.0.0";

pub use derived::{DoinBehaviour, DoinBehaviourEvent};

// The derive also writes `DoinBehaviourEvent`, one variant per protocol named after its
// field; it cannot carry docs, so the lint is off for this module alone.
#[allow(missing_docs)]
mod derived {
    use super::*;

    /// Every protocol a DOIN node runs.
    #[derive(NetworkBehaviour)]
    pub struct DoinBehaviour {
        /// Refuses banned peers' connections.
        pub(crate) blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
        /// Refuses and closes connections of banned addresses (shared with the HTTP
        /// bridge). Before the slots, so that a banned address takes none.
        pub(crate) gate: super::super::address_gate::AddressGate,
        /// Inbound slots by address range. Before the limits, so that a newcomer may
        /// evict before they count it.
        pub(crate) inbound: super::super::inbound_slots::InboundSlots,
        /// Inbound/outbound connection caps.
        pub(crate) limits: connection_limits::Behaviour,
        /// Refuses dials before their handshake while the outbound slots are full, and
        /// outbound peers beyond the per-range cap.
        pub(crate) dial_guard: super::super::dial_guard::DialGuard,
        /// Keys and addresses of peers.
        pub(crate) identify: identify::Behaviour,
        /// Liveness.
        pub(crate) ping: ping::Behaviour,
        /// Peer discovery (off with [`P2pConfig::discovery`]).
        pub(crate) kad: Toggle<kad::Behaviour<kad::store::MemoryStore>>,
        /// Gossip.
        pub(crate) gossipsub: gossipsub::Behaviour,
        /// Block sync.
        pub(crate) sync: request_response::Behaviour<SyncCodec>,
        /// Evaluator task calls.
        pub(crate) tasks: request_response::Behaviour<TaskCodec>,
        /// Whether we are reachable from outside.
        pub(crate) autonat: autonat::Behaviour,
        /// Listening and dialing through relays.
        pub(crate) relay_client: relay::client::Behaviour,
        /// Serving as a relay (off unless configured).
        pub(crate) relay_server: Toggle<relay::Behaviour>,
        /// Upgrading relayed connections to direct ones (hole punching).
        pub(crate) dcutr: dcutr::Behaviour,
    }
}

/// Why the swarm could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A transport could not be set up.
    #[error("cannot set up the libp2p transport: {0}")]
    Transport(String),
    /// A protocol's configuration was refused.
    #[error("invalid network configuration: {0}")]
    Config(String),
}

/// The message id of gossip: SHA-256 of topic and data, so the same content is one message
/// whoever publishes or relays it.
pub fn content_message_id(message: &gossipsub::Message) -> gossipsub::MessageId {
    let mut h = Sha256::new();
    h.update(message.topic.as_str().as_bytes());
    h.update([0u8]);
    h.update(&message.data);
    gossipsub::MessageId::from(hex::encode(h.finalize()))
}

/// How long a message stays advertised (IHAVE) to peers outside the mesh: a peer that
/// missed it, on a loaded machine or a lossy link, can still ask for it this long.
const GOSSIP_WINDOW: std::time::Duration = std::time::Duration::from_secs(3);
/// How long a forwarded message may wait in a peer's send queue (gossipsub's default is
/// 1 s; blocks are rare and worth more than the latency).
const FORWARD_QUEUE: std::time::Duration = std::time::Duration::from_secs(5);

fn gossipsub_config(config: &P2pConfig) -> Result<gossipsub::Config, BuildError> {
    let heartbeat = config
        .heartbeat_interval
        .max(std::time::Duration::from_millis(10));
    let gossip_windows = (GOSSIP_WINDOW.as_millis() / heartbeat.as_millis()).clamp(3, 100) as usize;
    gossipsub::ConfigBuilder::default()
        .heartbeat_interval(heartbeat)
        .history_gossip(gossip_windows)
        .history_length(gossip_windows + 2)
        .forward_queue_duration(FORWARD_QUEUE)
        // Nothing is forwarded before the node's verdict (report_message_validation_result).
        .validate_messages()
        // DOIN messages carry their own seals; gossip adds no author, sequence or signature.
        .validation_mode(gossipsub::ValidationMode::Anonymous)
        .message_id_fn(content_message_id)
        .max_transmit_size(config.max_message_bytes)
        .build()
        .map_err(|e| BuildError::Config(e.to_string()))
}

/// Gossipsub scoring: the node's verdicts come in as invalid deliveries (P4, per topic in
/// [`topic_score_params`]) and as the application score ([`crate::scoring::AppScores`]).
/// Quiet topics are normal on a blockchain, so delivery-rate penalties (P3) are off; peers
/// on loopback (in-process networks, a node's own machine) are not colocation-penalised.
pub(crate) fn peer_score_params() -> (PeerScoreParams, PeerScoreThresholds) {
    let mut params = PeerScoreParams {
        app_specific_weight: 1.0,
        ..PeerScoreParams::default()
    };
    params.ip_colocation_factor_whitelist.extend([
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ]);
    (params, PeerScoreThresholds::default())
}

/// The score parameters of one DOIN topic: each invalid message costs (count² × 10).
pub(crate) fn topic_score_params() -> gossipsub::TopicScoreParams {
    gossipsub::TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.01,
        time_in_mesh_quantum: std::time::Duration::from_secs(1),
        time_in_mesh_cap: 100.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: -10.0,
        invalid_message_deliveries_decay: 0.9,
        ..gossipsub::TopicScoreParams::default()
    }
}

/// How long one relayed circuit lasts (its node then opens another).
const RELAY_CIRCUIT_DURATION: std::time::Duration = std::time::Duration::from_secs(10 * 60);
/// Bytes one relayed circuit carries, both ways.
const RELAY_CIRCUIT_BYTES: u64 = 64 << 20;

/// The relay server's limits: a DOIN node behind NAT carries its gossip, sync and task
/// calls through its circuits until dcutr gives it a direct connection, where libp2p's
/// defaults (2 minutes, 128 KiB) fit a hole-punching handshake only.
fn relay_config() -> relay::Config {
    relay::Config {
        max_circuit_duration: RELAY_CIRCUIT_DURATION,
        max_circuit_bytes: RELAY_CIRCUIT_BYTES,
        ..relay::Config::default()
    }
}

fn behaviour(
    key: &Keypair,
    relay_client: relay::client::Behaviour,
    config: &P2pConfig,
    traffic: &Traffic,
) -> Result<DoinBehaviour, BuildError> {
    let local = key.public().to_peer_id();
    let limits = connection_limits::ConnectionLimits::default()
        .with_max_established_incoming(Some(
            config
                .max_inbound
                .saturating_add(super::inbound_slots::EVICTION_HEADROOM),
        ))
        .with_max_established_outgoing(Some(config.max_outbound))
        .with_max_pending_incoming(Some(config.max_pending))
        .with_max_pending_outgoing(Some(config.max_pending))
        .with_max_established_per_peer(Some(2));

    let gossipsub =
        gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, gossipsub_config(config)?)
            .map_err(|e| BuildError::Config(e.to_string()))?;
    // Gossipsub counts every copy it receives and the first ones ([`Traffic`]).
    let mut gossipsub = traffic.register(|r| {
        gossipsub.with_metrics(
            r.sub_registry_with_prefix(GOSSIPSUB_PREFIX),
            gossipsub::MetricsConfig::default(),
        )
    });
    let (params, thresholds) = peer_score_params();
    gossipsub
        .with_peer_score(params, thresholds)
        .map_err(BuildError::Config)?;

    let mut kad_config = kad::Config::new(KAD_PROTOCOL);
    // Our own housekeeping bootstraps while below the outbound target; kademlia's
    // periodic one is a slow backstop.
    kad_config.set_periodic_bootstrap_interval(Some(
        config
            .discovery_interval
            .max(std::time::Duration::from_secs(60)),
    ));
    let mut kad =
        kad::Behaviour::with_config(local, kad::store::MemoryStore::new(local), kad_config);
    // Every DOIN node serves the DHT: on loopback and private networks no address is ever
    // confirmed external, and in client mode nobody would learn of anybody.
    kad.set_mode(Some(kad::Mode::Server));

    let rr_config = request_response::Config::default()
        .with_request_timeout(config.request_timeout)
        .with_max_concurrent_streams(config.max_pending_inbound_requests);
    let full = request_response::ProtocolSupport::Full;
    let sync = request_response::Behaviour::with_codec(
        SyncCodec,
        [(SYNC_PROTOCOL, full.clone())],
        rr_config.clone(),
    );
    let tasks =
        request_response::Behaviour::with_codec(TaskCodec, [(TASK_PROTOCOL, full)], rr_config);

    Ok(DoinBehaviour {
        blocked: allow_block_list::Behaviour::default(),
        gate: super::address_gate::AddressGate::new(config.address_bans.clone()),
        inbound: super::inbound_slots::InboundSlots::new(config.max_inbound, config.max_per_range),
        limits: connection_limits::Behaviour::new(limits),
        dial_guard: super::dial_guard::DialGuard::new(config.max_outbound, config.max_per_range),
        identify: identify::Behaviour::new(
            identify::Config::new(IDENTIFY_VERSION.to_owned(), key.public())
                .with_push_listen_addr_updates(true),
        ),
        ping: ping::Behaviour::new(ping::Config::new()),
        kad: Toggle::from(config.discovery.then_some(kad)),
        gossipsub,
        sync,
        tasks,
        autonat: autonat::Behaviour::new(local, autonat::Config::default()),
        relay_client,
        relay_server: Toggle::from(
            config
                .relay_server
                .then(|| relay::Behaviour::new(local, relay_config())),
        ),
        dcutr: dcutr::Behaviour::new(local),
    })
}

/// The swarm of a node with key `key`: TCP (noise, yamux), QUIC, relayed circuits, gossip
/// counted in `traffic`.
pub fn build_swarm(
    key: Keypair,
    config: &P2pConfig,
    traffic: &Traffic,
) -> Result<Swarm<DoinBehaviour>, BuildError> {
    let idle = config.idle_timeout;
    let swarm = SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| BuildError::Transport(e.to_string()))?
        .with_quic()
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .map_err(|e| BuildError::Transport(e.to_string()))?
        .with_behaviour(|key, relay_client| {
            behaviour(key, relay_client, config, traffic)
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
        })
        .map_err(|e| BuildError::Config(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(idle))
        .build();
    Ok(swarm)
}
