//! Which accepted connections the server keeps: at most so many open in all and so many
//! from one address (the descriptors stay within the file limit, and one address cannot
//! take them all). When every place is taken, a new connection takes the place of an idle
//! one that has never sent a whole request (a slowloris connection, or a scanner's),
//! chosen from the address holding the most; if every connection has served a request,
//! the new one is closed as soon as it is accepted, so the listen backlog drains.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

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
    /// Connections that may still be evicted (never productive, not yet told to go), by
    /// age.
    evictable: BTreeMap<u64, (IpAddr, Arc<Tracked>)>,
    /// Connections told to go whose task has not closed them yet.
    evicting: usize,
    next_id: u64,
}

/// What the gate and a connection's task share.
#[derive(Debug, Default)]
struct Tracked {
    productive: AtomicBool,
    told_to_go: AtomicBool,
    evicted: Notify,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The server holds its maximum of connections, each of which has served a request.
    Full,
    /// The address holds its maximum of connections.
    AddressFull,
}

/// One admitted connection; its place is given back when dropped.
#[derive(Debug)]
pub struct Slot {
    gate: Arc<ConnectionGate>,
    id: u64,
    address: IpAddr,
    tracked: Arc<Tracked>,
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

    /// Admits a connection from `remote`, evicting an unproductive one when full, or says
    /// why not.
    pub fn admit(self: &Arc<Self>, remote: IpAddr) -> Result<Slot, Refused> {
        let address = address_key(remote);
        let mut open = self.lock();
        if open.per_address.get(&address).copied().unwrap_or(0) >= self.max_per_address {
            return Err(Refused::AddressFull);
        }
        if open.total >= self.max_total {
            // Evicted connections hold their descriptor until their task has closed them;
            // with an eighth of the cap waiting for that, refuse instead.
            if open.evicting > self.max_total / 8 {
                return Err(Refused::Full);
            }
            let victim = evictee(&open).ok_or(Refused::Full)?;
            if let Some((_, tracked)) = open.evictable.remove(&victim) {
                tracked.told_to_go.store(true, Ordering::Relaxed);
                tracked.evicted.notify_one();
                open.evicting += 1;
            }
        }
        *open.per_address.entry(address).or_insert(0) += 1;
        open.total += 1;
        let id = open.next_id;
        open.next_id += 1;
        let tracked = Arc::new(Tracked::default());
        open.evictable.insert(id, (address, tracked.clone()));
        Ok(Slot {
            gate: self.clone(),
            id,
            address,
            tracked,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().total
    }

    /// Connections told to go that are not closed yet.
    pub fn evicting(&self) -> usize {
        self.lock().evicting
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The connection to evict: the oldest unproductive one of the address holding the most
/// connections.
fn evictee(open: &Open) -> Option<u64> {
    let busiest = open
        .evictable
        .values()
        .map(|(a, _)| *a)
        .max_by_key(|a| open.per_address.get(a).copied().unwrap_or(0))?;
    open.evictable
        .iter()
        .find(|(_, (a, _))| *a == busiest)
        .map(|(id, _)| *id)
}

impl Slot {
    /// Marks the connection as having sent a whole request: it is no longer evicted.
    pub fn productive(&self) {
        if !self.tracked.productive.swap(true, Ordering::Relaxed) {
            self.gate.lock().evictable.remove(&self.id);
        }
    }

    /// Completes when the gate has evicted this connection for a new one.
    pub async fn evicted(&self) {
        self.tracked.evicted.notified().await;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.gate.lock();
        open.total = open.total.saturating_sub(1);
        open.evictable.remove(&self.id);
        if self.tracked.told_to_go.load(Ordering::Relaxed) {
            open.evicting = open.evicting.saturating_sub(1);
        }
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
        drop(a1);
        assert_eq!(gate.open(), 1);
        assert!(gate.admit(ip("10.0.0.1")).is_ok());
    }

    #[test]
    fn when_full_a_new_connection_evicts_an_unproductive_one_of_the_busiest_address() {
        let gate = ConnectionGate::new(4, 3);
        let honest = gate.admit(ip("10.0.0.1")).unwrap();
        honest.productive();
        let idle_other = gate.admit(ip("10.0.0.3")).unwrap();
        let s1 = gate.admit(ip("10.0.0.2")).unwrap();
        let s2 = gate.admit(ip("10.0.0.2")).unwrap();
        let newcomer = gate.admit(ip("10.0.0.4")).expect("evicts one");
        // The oldest of 10.0.0.2's is told to go; the others are not.
        let told =
            |s: &Slot| futures_util::FutureExt::now_or_never(Box::pin(s.evicted())).is_some();
        assert!(told(&s1));
        assert!(!told(&s2) && !told(&idle_other) && !told(&honest));
        assert_eq!(gate.evicting(), 1);
        drop(s1);
        assert_eq!(gate.evicting(), 0);
        newcomer.productive();
        s2.productive();
        idle_other.productive();
        // Everyone has served a request: nobody is evicted, the new one is refused.
        assert_eq!(gate.admit(ip("10.0.0.5")).unwrap_err(), Refused::Full);
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
