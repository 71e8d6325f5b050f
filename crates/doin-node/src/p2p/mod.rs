//! The node on libp2p: the transport of [`doin_net::p2p`] started from the node's own key
//! and config: how doin nodes talk to each other (the HTTP wire stays the bridge to
//! reference nodes, [`crate::network`]).
//!
//! * [`start`] — the [`doin_net::p2p::P2pNode`] from the node's identity (its P-256 key
//!   is its libp2p key, so its `/p2p/<id>` follows from `identity.pem`), `listen_addrs`
//!   and the multiaddrs of `bootstrap_peers`; it subscribes to the served domains' topics.
//!   A listen address that cannot be bound fails the start with the address and reason.
//! * [`broadcast`] — every message the node gossips goes out on both transports, on the
//!   gossipsub topic of its kind and domain.
//! * [`events`] — the loop over [`doin_net::p2p::P2pEvent`]s: gossip passes the same
//!   admission as a `POST /message` body (seal, age, the topic matching the message) and is
//!   then handled with HTTP deliveries ([`crate::network`]), its verdict reported to
//!   gossipsub (nothing is forwarded before it; a bad one scores the sender down); sync
//!   requests are answered from the store as `/chain/status` and `/chain/blocks` are, and
//!   evaluators' task calls from the task queue as `/tasks/*` are; a reference node's
//!   unsealed message, which a doin node took over HTTP and relayed, arrives on the
//!   reference topics, joined only with `accept_unsigned_messages`; identified peers join
//!   the [`crate::peers::PeerSet`] as `/p2p/<id>` endpoints, which the sync loop
//!   ([`crate::sync::p2p`]) and the evaluator reach over libp2p, and leave it when their
//!   last connection closes (requests go to connected peers only).
//! * [`seen`] — a message both transports deliver is handled once.

pub mod broadcast;
pub mod events;
pub mod seen;

use std::time::Duration;

use anyhow::Context;
use doin_net::p2p::{P2pConfig, P2pNode};
use doin_primitives::identity::Identity;
use libp2p::{Multiaddr, PeerId};

use crate::config::NodeConfig;

/// The prefix of a libp2p peer's endpoint in the [`crate::peers::PeerSet`].
pub const ENDPOINT_PREFIX: &str = "/p2p/";

/// The endpoint of a libp2p peer (`/p2p/<id>`).
pub fn endpoint_of(peer: &PeerId) -> String {
    format!("{ENDPOINT_PREFIX}{peer}")
}

/// The libp2p peer of an endpoint, if it is one.
pub fn peer_of_endpoint(endpoint: &str) -> Option<PeerId> {
    endpoint.strip_prefix(ENDPOINT_PREFIX)?.parse().ok()
}

/// The libp2p settings of a node config, listening on `listen` (a circuit through a
/// relay among them for a node behind NAT): `max_peers_per_range` caps inbound peers
/// per address range, `relay_server` and `external_addrs` make a relay.
pub fn p2p_config(config: &NodeConfig, listen: Vec<Multiaddr>) -> P2pConfig {
    let mut c = P2pConfig {
        listen_addrs: listen,
        bootstrap: config.p2p_bootstrap(),
        max_per_range: config.max_peers_per_range.max(1),
        // Validated with the config.
        external_addrs: config.p2p_external_addrs().unwrap_or_default(),
        relay_server: config.relay_server,
        // A node that takes reference nodes' unsealed messages takes them relayed too.
        reference_topics: config.accept_unsigned_messages,
        ..P2pConfig::default()
    };
    if config.gossip_heartbeat_interval.is_finite() && config.gossip_heartbeat_interval > 0.0 {
        c.heartbeat_interval =
            Duration::from_secs_f64(config.gossip_heartbeat_interval.clamp(0.1, 10.0));
    }
    if config.discovery_interval.is_finite() && config.discovery_interval > 0.0 {
        c.discovery_interval = Duration::from_secs_f64(config.discovery_interval.clamp(0.25, 60.0));
    }
    c
}

/// Starts the libp2p node on the current runtime and subscribes to the served domains.
pub async fn start(
    config: &NodeConfig,
    identity: &Identity,
    listen: Vec<Multiaddr>,
) -> anyhow::Result<P2pNode> {
    let shown: Vec<String> = listen.iter().map(ToString::to_string).collect();
    let node = P2pNode::start(identity, p2p_config(config, listen)).with_context(|| {
        format!(
            "cannot start libp2p on {} (is another node using the port? set listen_addrs, \
             or [] to talk to HTTP peers (reference nodes) only)",
            shown.join(", ")
        )
    })?;
    for d in &config.domains {
        node.handle
            .subscribe_domain(&d.domain_id)
            .await
            .with_context(|| format!("domain {}: libp2p topics", d.domain_id))?;
    }
    tracing::info!(
        peer = %node.handle.local_peer(),
        "libp2p on {} (peers reach this node at <address>/p2p/{})",
        shown.join(", "),
        node.handle.local_peer()
    );
    Ok(node)
}
