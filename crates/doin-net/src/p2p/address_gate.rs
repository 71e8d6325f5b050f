//! Connections from and to banned addresses: refused before they start, and closed when
//! the ban comes while they are open.
//!
//! The bans are the node's one list ([`crate::address_bans`]), shared with the HTTP
//! bridge: an address that lost its score on `POST /message` is refused here, and the
//! address of a libp2p peer banned for its gossip ([`AddressGate::ban_address`]) is
//! refused there, whatever key it comes back with.
//!
//! * An inbound connection from a banned address is refused before its handshake
//!   (`handle_pending_inbound_connection`), so a reconnecting flood costs a refused socket.
//! * A dial whose every address is banned does not start; one that reaches a banned
//!   address by another route (a DHT record) is refused once established.
//! * A ban made while connections from the address are open closes them
//!   ([`AddressGate::close_banned`], which the actor calls on every new ban).
//! * The node's own machine (`127.0.0.1`, `::1`) is never banned by address, as it has no
//!   range in the slots: nobody reaches us from there but our own host,
//!   and an in-process test network puts every node there (bans by key still apply). Other
//!   loopback addresses (`127.0.0.x`) are banned one by one, as any address is.
//! * Relayed connections (`/p2p-circuit`) carry their relay's address, not the peer's:
//!   they are not refused for it.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::task::{Context, Poll};
use std::time::Instant;

use libp2p::core::{transport::PortUse, Endpoint};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{
    dummy, CloseConnection, ConnectionClosed, ConnectionDenied, ConnectionId, FromSwarm,
    NetworkBehaviour, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};

use crate::address_bans::AddressBans;

/// Why a connection was refused.
#[derive(Debug, thiserror::Error)]
#[error("the address {0} is banned")]
pub struct AddressBanned(pub IpAddr);

/// Refuses and closes connections of banned addresses.
pub struct AddressGate {
    bans: AddressBans,
    /// Open connections that a ban could close, with their peer and address.
    open: HashMap<ConnectionId, (PeerId, IpAddr)>,
    /// Connections whose address was banned while they were open, to close.
    closing: VecDeque<(PeerId, ConnectionId)>,
}

impl AddressGate {
    /// A gate refusing what `bans` holds.
    pub fn new(bans: AddressBans) -> Self {
        AddressGate {
            bans,
            open: HashMap::new(),
            closing: VecDeque::new(),
        }
    }

    /// Bans the IP of `address` until `until`, unless it is the node's own machine or a
    /// relay's address; returns the IP banned.
    pub fn ban_address(&self, address: &Multiaddr, until: Instant) -> Option<IpAddr> {
        let ip = ranged_ip(address)?;
        self.bans.ban(ip, until, Instant::now());
        Some(ip)
    }

    /// Queues the close of every open connection whose address is banned now; returns
    /// how many.
    pub fn close_banned(&mut self) -> usize {
        let now = Instant::now();
        let banned: Vec<ConnectionId> = self
            .open
            .iter()
            .filter(|(_, (_, ip))| self.bans.is_banned(*ip, now))
            .map(|(c, _)| *c)
            .collect();
        for c in &banned {
            if let Some((peer, ip)) = self.open.remove(c) {
                tracing::info!(%peer, %ip, "closing a connection from a banned address");
                self.closing.push_back((peer, *c));
            }
        }
        banned.len()
    }

    /// The IP of `address`, if it is banned now.
    fn banned_ip(&self, address: &Multiaddr) -> Option<IpAddr> {
        ranged_ip(address).filter(|ip| self.bans.is_banned(*ip, Instant::now()))
    }

    fn check(&self, address: &Multiaddr) -> Result<(), ConnectionDenied> {
        match self.banned_ip(address) {
            Some(ip) => Err(ConnectionDenied::new(AddressBanned(ip))),
            None => Ok(()),
        }
    }
}

impl NetworkBehaviour for AddressGate {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_pending_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.check(remote)
    }

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check(remote)?;
        Ok(dummy::ConnectionHandler)
    }

    fn handle_pending_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: Option<PeerId>,
        addresses: &[Multiaddr],
        _: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        // Only when every address is banned: another may lead elsewhere, and an
        // established connection is checked again.
        let banned: Vec<IpAddr> = addresses.iter().filter_map(|a| self.banned_ip(a)).collect();
        match banned.first() {
            Some(ip) if banned.len() == addresses.len() => {
                Err(ConnectionDenied::new(AddressBanned(*ip)))
            }
            _ => Ok(Vec::new()),
        }
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        addr: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check(addr)?;
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(e) => {
                if let Some(ip) = ranged_ip(e.endpoint.get_remote_address()) {
                    self.open.insert(e.connection_id, (e.peer_id, ip));
                }
            }
            FromSwarm::ConnectionClosed(ConnectionClosed { connection_id, .. }) => {
                self.open.remove(&connection_id);
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
        match self.closing.pop_front() {
            Some((peer_id, connection)) => Poll::Ready(ToSwarm::CloseConnection {
                peer_id,
                connection: CloseConnection::One(connection),
            }),
            None => Poll::Pending,
        }
    }
}

/// The IP that counts for address ranges and bans: `None` for the node's own machine
/// (`127.0.0.1`, `::1`) and for relayed connections.
pub(crate) fn ranged_ip(address: &Multiaddr) -> Option<IpAddr> {
    if address.iter().any(|p| p == Protocol::P2pCircuit) {
        return None;
    }
    let ip = address.iter().find_map(|p| match p {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    })?;
    let ip = ip.to_canonical();
    let own = ip == IpAddr::V4(Ipv4Addr::LOCALHOST) || ip == IpAddr::V6(Ipv6Addr::LOCALHOST);
    (!own).then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_machine_and_relayed_addresses_have_no_ranged_ip() {
        let ip = |s: &str| ranged_ip(&s.parse().expect("multiaddr"));
        assert_eq!(ip("/ip4/127.0.0.1/tcp/1"), None);
        assert_eq!(ip("/ip6/::1/tcp/1"), None);
        assert_eq!(
            ip("/ip4/127.0.0.7/udp/1/quic-v1"),
            Some([127, 0, 0, 7].into())
        );
        assert_eq!(
            ip("/ip4/10.0.0.1/tcp/1/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit"),
            None
        );
    }
}
