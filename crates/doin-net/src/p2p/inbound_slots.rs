//! Inbound libp2p connections held to the HTTP mesh's slot rules ([`crate::slots`]).
//!
//! The connection limits ([`libp2p::connection_limits`]) count connections; keys are free,
//! so on their own they let one machine with many throwaway identities take every inbound
//! slot and keep an honest peer out. This behaviour gives each inbound connection a slot
//! in a [`Slots`] table, as `POST /message` peers get one: at most
//! [`super::P2pConfig::max_per_range`] peers per address range (/24 for IPv4, /48 for
//! IPv6), and when the inbound slots are full a newcomer from a less crowded range evicts
//! the youngest unprotected peer of the most crowded range; the peers whose data our
//! validators accepted most recently ([`InboundSlots::mark_useful`]) and the older half of
//! the rest are protected. Keys are cheap, ranges are not.
//!
//! * A connection from a range already at its cap is refused before its handshake
//!   (`handle_pending_inbound_connection`), so a reconnecting flood costs a refused
//!   socket, not a noise or TLS handshake. (Banned addresses are refused before they get
//!   here: [`super::address_gate`].)
//! * The node's own machine (`127.0.0.1`, `::1`) has no range: nobody reaches us from
//!   there but our own host, and an in-process test network puts every node there.
//!   Outbound dials have the same per-range cap, with the same exemption
//!   ([`super::dial_guard`]).
//! * Relayed connections (`/p2p-circuit`) have no range of their own (their address is the
//!   relay's); the relay's limits bound them.
//!
//! The connection limits stay as the hard bound, a few connections above the slots
//! ([`EVICTION_HEADROOM`]) so that a newcomer can be admitted while its victim closes.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::IpAddr;
use std::task::{Context, Poll};
use std::time::Instant;

use libp2p::core::{transport::PortUse, Endpoint};
use libp2p::swarm::{
    dummy, CloseConnection, ConnectionClosed, ConnectionDenied, ConnectionId, FromSwarm,
    ListenFailure, NetworkBehaviour, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};

use super::address_gate::ranged_ip;
use crate::slots::{AddressRange, Admission, Direction, SlotConfig, Slots};

/// Established inbound connections the connection limits allow above the slots: room for
/// a newcomer while the peer it evicted closes.
pub const EVICTION_HEADROOM: u32 = 4;

/// Inbound peers protected for having sent data our validators accepted most recently.
const PROTECT_USEFUL: usize = 4;

/// Why an inbound connection was refused.
#[derive(Debug, thiserror::Error)]
pub enum InboundRefused {
    /// The address range already holds its share of inbound peers.
    #[error("the address range of {0} holds its {1} inbound peers")]
    RangeFull(IpAddr, usize),
    /// Every inbound slot is taken and nobody may be evicted for this peer.
    #[error("every inbound slot is taken")]
    SlotsFull,
}

/// Inbound slots by address range.
pub struct InboundSlots {
    slots: Slots,
    per_range: usize,
    /// Inbound connections holding their peer's slot.
    connections: HashMap<ConnectionId, PeerId>,
    /// Connections of evicted peers, still closing, with their range: they count
    /// against it until closed, or a range could briefly exceed its cap.
    closing: HashMap<ConnectionId, Option<AddressRange>>,
    /// The range of each peer holding a slot.
    ranges: HashMap<PeerId, Option<AddressRange>>,
    /// Peers evicted, whose connections are to be closed.
    evicted: VecDeque<PeerId>,
}

impl InboundSlots {
    /// At most `inbound` inbound peers, `per_range` of them per address range.
    pub fn new(inbound: u32, per_range: u32) -> Self {
        let per_range = (per_range.max(1)) as usize;
        InboundSlots {
            slots: Slots::new(SlotConfig {
                inbound: inbound as usize,
                // Outbound peers are ours, bounded by the connection limits and the dial
                // guard; they never enter this table.
                outbound: 0,
                per_range,
                protect_useful: PROTECT_USEFUL,
            }),
            per_range,
            connections: HashMap::new(),
            closing: HashMap::new(),
            ranges: HashMap::new(),
            evicted: VecDeque::new(),
        }
    }

    /// Notes that `peer` sent data our validators accepted (protects its slot).
    pub fn mark_useful(&mut self, peer: &PeerId) {
        self.slots.mark_useful(&peer.to_string(), Instant::now());
    }

    /// Refuses a connection from a range at its cap (counting evicted peers still
    /// closing).
    fn check(&self, ip: Option<IpAddr>) -> Result<(), InboundRefused> {
        let Some(ip) = ip else { return Ok(()) };
        let range = Some(AddressRange::of(ip));
        let closing = self.closing.values().filter(|r| **r == range).count();
        if self.slots.in_range(ip, Direction::Inbound) + closing >= self.per_range {
            return Err(InboundRefused::RangeFull(ip, self.per_range));
        }
        Ok(())
    }

    /// Frees the slot of `connection`'s peer when it was the peer's last inbound one.
    fn release(&mut self, connection: ConnectionId) {
        self.closing.remove(&connection);
        if let Some(peer) = self.connections.remove(&connection) {
            if !self.connections.values().any(|p| *p == peer) {
                self.slots.remove(&peer.to_string());
                self.ranges.remove(&peer);
            }
        }
    }

    /// Frees `victim`'s slot; its connections count against its range until closed.
    fn evict(&mut self, victim: PeerId) {
        let range = self.ranges.remove(&victim).flatten();
        let closing: Vec<ConnectionId> = self
            .connections
            .iter()
            .filter(|(_, p)| **p == victim)
            .map(|(c, _)| *c)
            .collect();
        for c in closing {
            self.connections.remove(&c);
            self.closing.insert(c, range);
        }
        self.evicted.push_back(victim);
    }
}

impl NetworkBehaviour for InboundSlots {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_pending_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.check(ranged_ip(remote)).map_err(ConnectionDenied::new)
    }

    fn handle_established_inbound_connection(
        &mut self,
        connection: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        let ip = ranged_ip(remote);
        let key = peer.to_string();
        if !self.slots.contains(&key) {
            self.check(ip).map_err(ConnectionDenied::new)?;
        }
        match self
            .slots
            .admit(&key, ip, Direction::Inbound, Instant::now())
        {
            Admission::Admitted => {}
            Admission::Evicted(victim) => {
                if let Ok(victim) = victim.parse::<PeerId>() {
                    tracing::debug!(%victim, newcomer = %peer, "inbound peer evicted");
                    self.evict(victim);
                }
            }
            Admission::Refused => return Err(ConnectionDenied::new(InboundRefused::SlotsFull)),
        }
        self.connections.insert(connection, peer);
        self.ranges.insert(peer, ip.map(AddressRange::of));
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
            FromSwarm::ConnectionClosed(ConnectionClosed { connection_id, .. })
            // Admitted here, then denied by a behaviour after this one.
            | FromSwarm::ListenFailure(ListenFailure { connection_id, .. }) => {
                self.release(connection_id)
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
        match self.evicted.pop_front() {
            Some(peer_id) => Poll::Ready(ToSwarm::CloseConnection {
                peer_id,
                connection: CloseConnection::All,
            }),
            None => Poll::Pending,
        }
    }
}
