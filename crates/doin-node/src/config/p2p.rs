//! The libp2p keys of the config: where the node listens (`listen_addrs`: its own
//! addresses, or a relay's circuit when it sits behind NAT), where others reach it
//! (`external_addrs`), and the two
//! forms a peer address takes in `bootstrap_peers` and `--peers` — `host:port` for an HTTP
//! peer (a reference node), a multiaddr ending in `/p2p/<peer id>` for a doin node on
//! libp2p.

use std::net::IpAddr;

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

use super::NodeConfig;

/// A peer address as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerAddr {
    /// `host:port`: an HTTP peer (a reference node).
    Http(String),
    /// A multiaddr with its `/p2p/<peer id>`: a peer on libp2p.
    P2p {
        /// The whole address (dialed as given).
        addr: Multiaddr,
        /// Its peer id.
        peer: PeerId,
    },
}

/// Reads one `bootstrap_peers` / `--peers` entry; the error says what is wrong with it.
pub fn parse_peer_addr(s: &str) -> Result<PeerAddr, String> {
    let s = s.trim();
    if s.starts_with('/') {
        let addr: Multiaddr = s
            .parse()
            .map_err(|e| format!("{s:?} is not a multiaddr: {e}"))?;
        let Some(Protocol::P2p(peer)) = addr.iter().last() else {
            return Err(format!(
                "{s:?} lacks its peer id: a libp2p peer is `<address>/p2p/<peer id>` \
                 (the peer prints it at start and shows it in /status)"
            ));
        };
        return Ok(PeerAddr::P2p { addr, peer });
    }
    let endpoint = s.trim_start_matches("http://").trim_end_matches('/');
    let Some((host, port)) = endpoint.rsplit_once(':') else {
        return Err(format!(
            "{s:?} is neither `host:port` (an HTTP peer) nor a multiaddr ending in \
             `/p2p/<peer id>` (a libp2p peer)"
        ));
    };
    if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(format!(
            "{s:?}: an HTTP peer is `host:port` with a port from 1 to 65535"
        ));
    }
    Ok(PeerAddr::Http(endpoint.to_owned()))
}

impl NodeConfig {
    /// The libp2p listen addresses: `listen_addrs` as given, or when absent QUIC on the
    /// UDP port of the same number as the HTTP port, at `host` (`0.0.0.0:8470` listens on
    /// `/ip4/0.0.0.0/udp/8470/quic-v1`, so one port number, TCP and UDP, serves both
    /// transports and two nodes on a laptop on different `--port`s do not collide; port 0
    /// listens on a port the system picks). `None`: `listen_addrs` is `[]`, libp2p is off.
    pub fn p2p_listen_addrs(&self) -> Result<Option<Vec<Multiaddr>>, String> {
        let Some(given) = &self.listen_addrs else {
            return self.default_listen_addrs().map(Some);
        };
        if given.is_empty() {
            return Ok(None);
        }
        let mut addrs = Vec::new();
        for (i, s) in given.iter().enumerate() {
            let addr: Multiaddr = s
                .trim()
                .parse()
                .map_err(|e| format!("listen_addrs[{i}]: {s:?} is not a multiaddr: {e}"))?;
            if !is_transport_addr(&addr) && !is_circuit_listen_addr(&addr) {
                return Err(format!(
                    "listen_addrs[{i}]: {s:?}: listen on `/ip4/<ip>/tcp/<port>` or \
                     `/ip4/<ip>/udp/<port>/quic-v1` (or /ip6), or behind NAT on a relay's \
                     circuit, `<relay address>/p2p/<relay id>/p2p-circuit`"
                ));
            }
            addrs.push(addr);
        }
        Ok(Some(addrs))
    }

    fn default_listen_addrs(&self) -> Result<Vec<Multiaddr>, String> {
        let ip: IpAddr = match self.host.trim() {
            "" | "localhost" => IpAddr::from([127, 0, 0, 1]),
            h => h.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
        };
        let ip = match ip {
            IpAddr::V4(v4) => Protocol::Ip4(v4),
            IpAddr::V6(v6) => Protocol::Ip6(v6),
        };
        Ok(vec![Multiaddr::empty()
            .with(ip)
            .with(Protocol::Udp(self.port))
            .with(Protocol::QuicV1)])
    }

    /// The libp2p `external_addrs`; the error names the entry that is not a multiaddr.
    pub fn p2p_external_addrs(&self) -> Result<Vec<Multiaddr>, String> {
        self.external_addrs
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.trim()
                    .parse()
                    .map_err(|e| format!("external_addrs[{i}]: {s:?} is not a multiaddr: {e}"))
            })
            .collect()
    }

    /// The libp2p peers of `bootstrap_peers` (entries already validated).
    pub fn p2p_bootstrap(&self) -> Vec<Multiaddr> {
        self.bootstrap_peers
            .iter()
            .filter_map(|p| match parse_peer_addr(p) {
                Ok(PeerAddr::P2p { addr, .. }) => Some(addr),
                _ => None,
            })
            .collect()
    }

    /// The peer ids of the libp2p peers of `bootstrap_peers`.
    pub fn p2p_bootstrap_peers(&self) -> Vec<PeerId> {
        self.bootstrap_peers
            .iter()
            .filter_map(|p| match parse_peer_addr(p) {
                Ok(PeerAddr::P2p { peer, .. }) => Some(peer),
                _ => None,
            })
            .collect()
    }

    /// The HTTP peers of `bootstrap_peers` (`host:port`).
    pub fn http_bootstrap(&self) -> Vec<String> {
        self.bootstrap_peers
            .iter()
            .filter_map(|p| match parse_peer_addr(p) {
                Ok(PeerAddr::Http(endpoint)) => Some(endpoint),
                _ => None,
            })
            .collect()
    }
}

/// `/ip4|ip6/<ip>/tcp/<port>` or `/ip4|ip6/<ip>/udp/<port>/quic-v1`: an address of our own.
fn is_transport_addr(addr: &Multiaddr) -> bool {
    let mut it = addr.iter();
    let ip = matches!(it.next(), Some(Protocol::Ip4(_) | Protocol::Ip6(_)));
    let rest: Vec<Protocol> = it.collect();
    ip && matches!(
        rest.as_slice(),
        [Protocol::Tcp(_)] | [Protocol::Udp(_), Protocol::QuicV1]
    )
}

/// `<relay transport address>/p2p/<relay id>/p2p-circuit`: listening through a relay.
fn is_circuit_listen_addr(addr: &Multiaddr) -> bool {
    let parts: Vec<Protocol> = addr.iter().collect();
    match parts.as_slice() {
        [relay @ .., Protocol::P2p(_), Protocol::P2pCircuit] => {
            is_transport_addr(&relay.iter().cloned().collect())
        }
        _ => false,
    }
}
