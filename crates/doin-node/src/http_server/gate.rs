//! Which accepted connections the server keeps: at most so many open in all and so many
//! from one address. A connection over either cap is closed as soon as it is accepted, so
//! the listen backlog drains and the descriptors stay within the file limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// The open connections, counted in all and per address.
#[derive(Debug)]
pub struct ConnectionGate {
    max_total: usize,
    max_per_address: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The server holds its maximum of connections.
    Full,
    /// The address holds its maximum of connections.
    AddressFull,
}

/// One admitted connection; its place is given back when dropped.
#[derive(Debug)]
pub struct Slot {
    gate: Arc<ConnectionGate>,
    address: IpAddr,
}

impl ConnectionGate {
    /// A gate keeping `max_total` connections, `max_per_address` from one address.
    pub fn new(max_total: usize, max_per_address: usize) -> Arc<Self> {
        Arc::new(ConnectionGate {
            max_total,
            max_per_address,
            open: Mutex::new(Open::default()),
        })
    }

    /// Admits a connection from `remote`, or says why not.
    pub fn admit(self: &Arc<Self>, remote: IpAddr) -> Result<Slot, Refused> {
        let address = address_key(remote);
        let mut open = self.lock();
        if open.total >= self.max_total {
            return Err(Refused::Full);
        }
        let n = open.per_address.entry(address).or_insert(0);
        if *n >= self.max_per_address {
            return Err(Refused::AddressFull);
        }
        *n += 1;
        open.total += 1;
        Ok(Slot {
            gate: self.clone(),
            address,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().total
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.gate.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.per_address.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                // Only addresses with an open connection are kept: the map is bounded by
                // the connection cap.
                open.per_address.remove(&self.address);
            }
        }
    }
}

/// The address a connection is counted under: an IPv4 address, or the /64 an IPv6 one is
/// in (one host is usually given a whole /64).
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn one_address_cannot_take_every_connection() {
        let gate = ConnectionGate::new(4, 2);
        let a1 = gate.admit(ip("10.0.0.1")).unwrap();
        let _a2 = gate.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(
            gate.admit(ip("10.0.0.1")).unwrap_err(),
            Refused::AddressFull
        );
        let _b1 = gate.admit(ip("10.0.0.2")).unwrap();
        let _b2 = gate.admit(ip("10.0.0.2")).unwrap();
        assert_eq!(gate.admit(ip("10.0.0.3")).unwrap_err(), Refused::Full);
        drop(a1);
        assert_eq!(gate.open(), 3);
        let _c = gate.admit(ip("10.0.0.3")).unwrap();
    }

    #[test]
    fn an_ipv6_slash_64_counts_as_one_address_and_is_forgotten_when_closed() {
        let gate = ConnectionGate::new(10, 1);
        let a = gate.admit(ip("2001:db8:1:2::1")).unwrap();
        assert_eq!(
            gate.admit(ip("2001:db8:1:2::ffff")).unwrap_err(),
            Refused::AddressFull
        );
        assert!(gate.admit(ip("2001:db8:1:3::1")).is_ok());
        drop(a);
        assert!(gate.lock().per_address.is_empty());
        assert_eq!(address_key(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
    }
}
