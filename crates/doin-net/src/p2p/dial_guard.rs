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
//!
//! Outbound peers are capped per address range as inbound ones are
//! ([`super::P2pConfig::max_per_range`] per /24 or /48, [`super::inbound_slots`]): an
//! attacker who makes many identities of one range known to us (kademlia records,
//! identify's listen addresses) would otherwise have us dial them all and fill our
//! outbound slots. A dial whose every address lies in a full range does not start; one
//! that reaches such a range by an address we could not see beforehand (kademlia adds its
//! own) is refused once established. The node's own machine (`127.0.0.1`, `::1`) and
//! relayed addresses have no range, as for inbound peers.

use std::collections::HashMap;
use std::convert::Infallible;
use std::task::{Context, Poll};

use libp2p::core::{transport::PortUse, Endpoint};
use libp2p::swarm::{
    dummy, ConnectionClosed, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler,
    THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};

use super::address_gate::ranged_ip;
use crate::slots::AddressRange;

/// Why a dial was refused before it started.
#[derive(Debug, thiserror::Error)]
#[error("all {limit} outbound connection slots are taken")]
pub struct OutboundSlotsFull {
    /// The outbound limit.
    pub limit: u32,
}

/// Why a dial, or an outbound connection, was refused for its address range.
#[derive(Debug, thiserror::Error)]
#[error("the address range of {address} holds its {per_range} outbound peers")]
pub struct OutboundRangeFull {
    /// The address dialed.
    pub address: Multiaddr,
    /// The cap per range.
    pub per_range: usize,
}

/// Refuses new dials while `limit` outbound connections are established, and outbound
/// peers beyond `per_range` in one address range.
pub struct DialGuard {
    limit: u32,
    per_range: usize,
    /// Established outbound connections: their peer and its range (`None`: no range).
    outbound: HashMap<ConnectionId, (PeerId, Option<AddressRange>)>,
}

impl DialGuard {
    /// A guard for at most `limit` established outbound connections, to at most
    /// `per_range` peers of one address range.
    pub fn new(limit: u32, per_range: u32) -> Self {
        DialGuard {
            limit,
            per_range: per_range.max(1) as usize,
            outbound: HashMap::new(),
        }
    }

    /// Whether `address` lies in a range that holds its share of outbound peers, not
    /// counting `peer` (a second connection to a peer holds no new place).
    fn range_full(&self, address: &Multiaddr, peer: Option<PeerId>) -> bool {
        let Some(range) = ranged_ip(address).map(AddressRange::of) else {
            return false;
        };
        let mut peers: Vec<PeerId> = self
            .outbound
            .values()
            .filter(|(p, r)| *r == Some(range) && Some(*p) != peer)
            .map(|(p, _)| *p)
            .collect();
        peers.sort_unstable();
        peers.dedup();
        peers.len() >= self.per_range
    }

    fn refuse_range(&self, address: &Multiaddr) -> ConnectionDenied {
        ConnectionDenied::new(OutboundRangeFull {
            address: address.clone(),
            per_range: self.per_range,
        })
    }
}

impl NetworkBehaviour for DialGuard {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_pending_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: Option<PeerId>,
        addresses: &[Multiaddr],
        _: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        if self.outbound.len() >= self.limit as usize {
            return Err(ConnectionDenied::new(OutboundSlotsFull {
                limit: self.limit,
            }));
        }
        // Only when every address is in a full range: another may lead elsewhere.
        if let Some(first) = addresses.first() {
            if addresses.iter().all(|a| self.range_full(a, peer)) {
                return Err(self.refuse_range(first));
            }
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
        peer: PeerId,
        addr: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        if self.range_full(addr, Some(peer)) {
            return Err(self.refuse_range(addr));
        }
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(e) if e.endpoint.is_dialer() => {
                let range = ranged_ip(e.endpoint.get_remote_address()).map(AddressRange::of);
                self.outbound.insert(e.connection_id, (e.peer_id, range));
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
