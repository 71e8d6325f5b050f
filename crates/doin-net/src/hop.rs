//! Who handed us a body, as far as it is authenticated.
//!
//! `POST /message` carries two kinds of identity. The **signer** of a message is
//! authenticated: admission verified that its seal's key hashes to `sender_id`. The
//! **hop** (`_forwarder_id`, or a control frame's `sender_id`) and its `_sender_port` are
//! claims outside any signature, and a signed message can be replayed by anyone from
//! anywhere, so neither says which peer is at the other end of the connection. The one
//! thing the transport does authenticate is the **connecting address**.
//!
//! A claimed peer id is therefore taken as the hop only when it is *bound* to the
//! connecting address ([`bind`]): the address book already lists that peer at this IP,
//! or (for a peer speaking for itself) does not know the peer yet. Anything else is routed
//! as the anonymous hop [`address_hop`] of its address: its penalties, rates and
//! address-book effects land on the address, never on the peer it named.

use std::net::IpAddr;

use crate::peers::PeerTable;
use crate::PeerKey;

/// How a claimed peer id relates to the address a body came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// The address book lists the peer at this address: the claim is taken.
    Known,
    /// The address book does not know the peer: a peer speaking for itself may be added
    /// at this address (a relay claim may not).
    New,
    /// The address book lists the peer elsewhere: the claim is ignored.
    Elsewhere,
}

/// The IP of a `host:port` endpoint, if its host is an IP literal (`[v6]:port` too).
pub fn endpoint_ip(endpoint: &str) -> Option<IpAddr> {
    let (host, _) = endpoint.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.parse::<IpAddr>().ok().map(canonical)
}

/// An IP with IPv4-mapped IPv6 addresses written as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        ip => ip,
    }
}

/// Whether the claim that `peer` sent a body from `ip` is bound to that address.
pub fn bind(table: &PeerTable, peer: &str, ip: IpAddr) -> Binding {
    match table.endpoint(peer) {
        None => Binding::New,
        Some(ep) if endpoint_ip(ep) == Some(canonical(ip)) => Binding::Known,
        Some(_) => Binding::Elsewhere,
    }
}

/// The router id of a hop known only by its address (`addr-<ip>`): it is never in the
/// address book and never connected, so routing to it is impossible and scoring it
/// touches no real peer.
pub fn address_hop(ip: IpAddr) -> PeerKey {
    format!("addr-{}", canonical(ip))
}

/// Whether `id` is a hop known only by its address ([`address_hop`]), not a peer.
pub fn is_address_hop(id: &str) -> bool {
    id.starts_with("addr-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peers::PeerSource;

    #[test]
    fn a_claim_binds_only_at_the_peers_own_address() {
        let mut t = PeerTable::in_memory();
        t.upsert("b", "127.0.0.1:9000", PeerSource::Pex, 1);
        t.upsert("v6", "[::1]:9000", PeerSource::Pex, 1);
        let here: IpAddr = [127, 0, 0, 1].into();
        let there: IpAddr = [127, 0, 7, 1].into();
        assert_eq!(bind(&t, "b", here), Binding::Known);
        assert_eq!(bind(&t, "b", there), Binding::Elsewhere);
        assert_eq!(bind(&t, "unknown", there), Binding::New);
        assert_eq!(
            bind(&t, "v6", "::1".parse().unwrap_or(here)),
            Binding::Known
        );
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap_or(there);
        assert_eq!(bind(&t, "b", mapped), Binding::Known);
        assert_eq!(address_hop(mapped), "addr-127.0.0.1");
    }
}
