//! Dials refused before they start while every outbound slot is taken.
//!
//! The connection limits ([`libp2p::connection_limits`]) count an outbound connection
//! only once it is established, after the TCP or QUIC set-up, the noise handshake and the
//! key check: a dial beyond [`super::P2pConfig::max_outbound`] cost both sides a full
//! handshake and was then thrown away. Kademlia dials every peer a query walks to, so a
//! node with its slots full kept handshaking (about 7,500 wasted handshakes in 40 s across
//! 64 in-process nodes, which starved gossip of CPU). This behaviour refuses such a dial at
//! once, before any packet is sent; the limits behaviour stays the authority on
//! established connections.

use std::collections::HashSet;
use std::convert::Infallible;
use std::task::{Context, Poll};

use libp2p::core::{transport::PortUse, Endpoint};
use libp2p::swarm::{
    dummy, ConnectionClosed, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler,
    THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};

/// Why a dial was refused before it started.
#[derive(Debug, thiserror::Error)]
#[error("all {limit} outbound connection slots are taken")]
pub struct OutboundSlotsFull {
    /// The outbound limit.
    pub limit: u32,
}

/// Refuses new dials while `limit` outbound connections are established.
pub struct DialGuard {
    limit: u32,
    outbound: HashSet<ConnectionId>,
}

impl DialGuard {
    /// A guard for at most `limit` established outbound connections.
    pub fn new(limit: u32) -> Self {
        DialGuard {
            limit,
            outbound: HashSet::new(),
        }
    }
}

impl NetworkBehaviour for DialGuard {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_pending_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: Option<PeerId>,
        _: &[Multiaddr],
        _: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        if self.outbound.len() >= self.limit as usize {
            return Err(ConnectionDenied::new(OutboundSlotsFull {
                limit: self.limit,
            }));
        }
        Ok(Vec::new())
    }

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(e) if e.endpoint.is_dialer() => {
                self.outbound.insert(e.connection_id);
            }
            FromSwarm::ConnectionClosed(ConnectionClosed { connection_id, .. }) => {
                self.outbound.remove(&connection_id);
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Infallible, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}
