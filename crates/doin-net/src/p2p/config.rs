//! What an operator (or a test) sets about the libp2p node; defaults match the HTTP bridge's
//! limits ([`crate::slots::SlotConfig`], [`crate::limits`]).

use std::time::Duration;

use libp2p::Multiaddr;

use crate::address_bans::AddressBans;
use crate::limits::MAX_MESSAGE_BYTES;
use crate::scoring::ScoreConfig;
use crate::slots::SlotConfig;

/// Configuration of a [`super::P2pNode`].
#[derive(Debug, Clone)]
pub struct P2pConfig {
    /// Addresses to listen on (`/ip4/0.0.0.0/tcp/8471`, `/ip4/0.0.0.0/udp/8471/quic-v1`).
    pub listen_addrs: Vec<Multiaddr>,
    /// Peers to join the network through, each with its `/p2p/<peer id>`.
    pub bootstrap: Vec<Multiaddr>,
    /// Most established inbound connections (the HTTP bridge's inbound slots).
    pub max_inbound: u32,
    /// Most peers from one address range, /24 or /48, each way (the HTTP bridge's
    /// `per_range`; [`super::inbound_slots`], [`super::dial_guard`]).
    pub max_per_range: u32,
    /// Most established outbound connections (the HTTP bridge's outbound slots).
    pub max_outbound: u32,
    /// Most connections being set up at once, each way.
    pub max_pending: u32,
    /// Largest gossip message (the whole gossipsub frame).
    pub max_message_bytes: usize,
    /// Gossipsub heartbeat (mesh maintenance, gossip emission).
    pub heartbeat_interval: Duration,
    /// Look for peers through the DHT (off: talk only to the peers dialed, as a node
    /// behind a fixed set of relays would, or a test that needs a fixed topology).
    pub discovery: bool,
    /// Below this many connected peers, look for more through the DHT.
    pub min_peers: usize,
    /// How often to look for peers while below [`P2pConfig::min_peers`].
    pub discovery_interval: Duration,
    /// How long a request (status, page) may take.
    pub request_timeout: Duration,
    /// Inbound sync requests waiting for the node's answer; more are refused as busy.
    pub max_pending_inbound_requests: usize,
    /// Our own requests in flight; more fail at once as busy.
    pub max_pending_outbound_requests: usize,
    /// Capacity of the event channel to the node (a full channel drops, gossip unvalidated).
    pub event_capacity: usize,
    /// Capacity of the command channel from handles.
    pub command_capacity: usize,
    /// Addresses at which others reach us, declared by the operator (a public address;
    /// autonat confirms others).
    pub external_addrs: Vec<Multiaddr>,
    /// Serve as a circuit relay for other nodes (it needs an external address).
    pub relay_server: bool,
    /// What verdicts cost a peer, and when it is banned.
    pub scores: ScoreConfig,
    /// Idle connections are closed after this long.
    pub idle_timeout: Duration,
    /// Join the topics of reference nodes' unsealed messages as well
    /// ([`super::topics::Origin::Reference`]): set by a node that accepts unsealed
    /// messages; a node that refuses them stays off those topics and never receives one.
    pub reference_topics: bool,
    /// Where addresses are banned; the HTTP bridge takes the same list
    /// ([`super::P2pHandle::address_bans`], [`crate::address_bans`]).
    pub address_bans: AddressBans,
    /// Where peers are banned by DOIN id; the HTTP bridge takes the same list
    /// ([`super::P2pHandle::id_bans`], [`crate::id_bans`]).
    pub id_bans: crate::id_bans::IdBans,
}

impl Default for P2pConfig {
    fn default() -> Self {
        let slots = SlotConfig::default();
        P2pConfig {
            listen_addrs: Vec::new(),
            bootstrap: Vec::new(),
            discovery: true,
            min_peers: 8,
            max_inbound: slots.inbound as u32,
            max_outbound: slots.outbound as u32,
            max_per_range: slots.per_range as u32,
            max_pending: 16,
            max_message_bytes: MAX_MESSAGE_BYTES,
            heartbeat_interval: Duration::from_secs(1),
            discovery_interval: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            max_pending_inbound_requests: 64,
            max_pending_outbound_requests: 64,
            event_capacity: 1024,
            command_capacity: 256,
            external_addrs: Vec::new(),
            relay_server: false,
            scores: ScoreConfig::default(),
            idle_timeout: Duration::from_secs(120),
            reference_topics: false,
            address_bans: AddressBans::default(),
            id_bans: crate::id_bans::IdBans::default(),
        }
    }
}

impl P2pConfig {
    /// A configuration for in-process test networks on loopback: OS-assigned TCP port,
    /// fast heartbeat and discovery so tests wait on events, not on timers.
    pub fn loopback() -> Self {
        P2pConfig {
            listen_addrs: vec![loopback_tcp()],
            heartbeat_interval: Duration::from_millis(100),
            discovery_interval: Duration::from_millis(250),
            request_timeout: Duration::from_secs(10),
            ..P2pConfig::default()
        }
    }
}

/// `/ip4/127.0.0.1/tcp/0`.
pub fn loopback_tcp() -> Multiaddr {
    Multiaddr::empty()
        .with(libp2p::multiaddr::Protocol::Ip4(
            std::net::Ipv4Addr::LOCALHOST,
        ))
        .with(libp2p::multiaddr::Protocol::Tcp(0))
}

/// `/ip4/127.0.0.1/udp/0/quic-v1`.
pub fn loopback_quic() -> Multiaddr {
    Multiaddr::empty()
        .with(libp2p::multiaddr::Protocol::Ip4(
            std::net::Ipv4Addr::LOCALHOST,
        ))
        .with(libp2p::multiaddr::Protocol::Udp(0))
        .with(libp2p::multiaddr::Protocol::QuicV1)
}
