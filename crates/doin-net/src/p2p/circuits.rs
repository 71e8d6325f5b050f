//! Listening through relays: the `listen_addrs` of a node behind NAT that end in
//! `/p2p-circuit`, kept open for as long as the node runs.
//!
//! A circuit listen asks the relay for a reservation over a connection to it. The relay
//! client dials the relay itself when none is open, but with libp2p's default dial
//! condition: while the node's own dial to the same relay (a bootstrap peer, as it usually
//! is) is under way, that dial is refused and the listener closes at once. So a circuit is
//! listened on only once a connection to its relay is established, and listened on again
//! when its listener closes (the relay restarted, the reservation lapsed); the actor dials
//! the relays of circuits not listening on each housekeeping tick.

use std::collections::HashMap;

use libp2p::core::transport::ListenerId;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

/// One circuit address: the relay it goes through and the relay's own address.
#[derive(Debug, Clone)]
struct Circuit {
    address: Multiaddr,
    relay: PeerId,
    relay_address: Multiaddr,
}

/// The node's circuit listen addresses and their listeners.
#[derive(Debug, Default)]
pub(crate) struct Circuits {
    waiting: Vec<Circuit>,
    listening: HashMap<ListenerId, Circuit>,
}

impl Circuits {
    /// Takes the circuit addresses (`<relay address>/p2p/<relay>/p2p-circuit`) out of
    /// `listen_addrs`; returns the others.
    pub(crate) fn split(listen_addrs: &[Multiaddr]) -> (Circuits, Vec<Multiaddr>) {
        let mut circuits = Circuits::default();
        let mut direct = Vec::new();
        for addr in listen_addrs {
            match circuit_of(addr) {
                Some(c) => circuits.waiting.push(c),
                None => direct.push(addr.clone()),
            }
        }
        (circuits, direct)
    }

    /// The relays of circuits not listening (to dial when not connected).
    pub(crate) fn relays_to_reach(&self) -> Vec<(PeerId, Multiaddr)> {
        self.waiting
            .iter()
            .map(|c| (c.relay, c.relay_address.clone()))
            .collect()
    }

    /// A connection to `peer` is up: the waiting circuits through it, to listen on now.
    pub(crate) fn take_ready(&mut self, peer: &PeerId) -> Vec<Multiaddr> {
        let (ready, waiting): (Vec<Circuit>, Vec<Circuit>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|c| c.relay == *peer);
        self.waiting = waiting;
        ready.into_iter().map(|c| c.address).collect()
    }

    /// The listener `id` listens on `address` (one of ours, or a circuit given later).
    pub(crate) fn listening(&mut self, id: ListenerId, address: &Multiaddr) {
        if let Some(c) = circuit_of(address) {
            self.listening.insert(id, c);
        }
    }

    /// Listening on `address` failed at once: it waits for its relay again.
    pub(crate) fn failed(&mut self, address: &Multiaddr) {
        if let Some(c) = circuit_of(address) {
            self.waiting.push(c);
        }
    }

    /// The listener `id` closed: its circuit, if it was one, waits for its relay again.
    pub(crate) fn closed(&mut self, id: ListenerId) -> bool {
        match self.listening.remove(&id) {
            Some(c) => {
                self.waiting.push(c);
                true
            }
            None => false,
        }
    }
}

/// The circuit `addr` names: `<relay address>/p2p/<relay>/p2p-circuit`.
fn circuit_of(addr: &Multiaddr) -> Option<Circuit> {
    let parts: Vec<Protocol> = addr.iter().collect();
    let [relay_part @ .., Protocol::P2p(relay), Protocol::P2pCircuit] = parts.as_slice() else {
        return None;
    };
    let relay_address: Multiaddr = relay_part.iter().cloned().collect();
    Some(Circuit {
        address: addr.clone(),
        relay: *relay,
        relay_address: relay_address.with(Protocol::P2p(*relay)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn circuits_wait_for_their_relay_and_wait_again_when_closed() {
        let relay = PeerId::random();
        let circuit: Multiaddr = format!("/ip4/10.0.0.1/tcp/4001/p2p/{relay}/p2p-circuit")
            .parse()
            .unwrap_or_else(|_| Multiaddr::empty());
        let direct: Multiaddr = "/ip4/0.0.0.0/tcp/0"
            .parse()
            .unwrap_or_else(|_| Multiaddr::empty());
        let (mut c, others) = Circuits::split(&[circuit.clone(), direct.clone()]);
        assert_eq!(others, vec![direct]);
        let reach = c.relays_to_reach();
        assert_eq!(reach.len(), 1);
        assert_eq!(reach[0].0, relay);
        assert_eq!(
            reach[0].1.to_string(),
            format!("/ip4/10.0.0.1/tcp/4001/p2p/{relay}")
        );
        assert!(c.take_ready(&PeerId::random()).is_empty());
        assert_eq!(c.take_ready(&relay), vec![circuit.clone()]);
        assert!(c.relays_to_reach().is_empty());
        let id = ListenerId::next();
        c.listening(id, &circuit);
        assert!(c.closed(id));
        assert_eq!(c.relays_to_reach().len(), 1);
        assert!(!c.closed(ListenerId::next()));
    }
}
