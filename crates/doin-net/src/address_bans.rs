//! One list of banned addresses for both transports.
//!
//! An address is banned for what arrived from it, whichever way it arrived: bodies that
//! cost it its score on `POST /message` ([`crate::admission::AddressGuard`]), or a libp2p
//! peer whose gossip put it below the ban line (the p2p actor bans the peer's address with
//! it). Both transports hold a clone of the same [`AddressBans`], so a ban earned on one
//! refuses the other: the HTTP bridge answers `403` to the address, and libp2p closes its
//! connections and refuses new ones, either way ([`crate::p2p::address_gate`]), until
//! the ban ends.
//!
//! Bans are by exact IP (IPv4-mapped IPv6 addresses count as IPv4), never by range: an
//! in-process network puts many honest nodes in one range (`127.0.0.x`), and a range is
//! what the slots cap, not what they ban. The list is bounded ([`BanList`]: a full list
//! still bans every newcomer and forgets the ban that ends soonest).

use std::net::IpAddr;
use std::time::Instant;

use tokio::sync::watch;

use crate::shared_bans::SharedBans;

/// The banned addresses, shared by cheap clones; every new ban is announced to
/// [`AddressBans::subscribe`]rs. IPv4-mapped IPv6 addresses are kept as IPv4.
#[derive(Clone, Debug, Default)]
pub struct AddressBans(SharedBans<IpAddr>);

impl AddressBans {
    /// An empty list holding at most `capacity` bans.
    pub fn new(capacity: usize) -> Self {
        AddressBans(SharedBans::new(capacity))
    }

    /// Bans `ip` until `until` (a longer ban in force is kept) and tells the subscribers.
    pub fn ban(&self, ip: IpAddr, until: Instant, now: Instant) {
        self.0.ban(ip.to_canonical(), until, now);
    }

    /// Whether `ip` is banned at `now`.
    pub fn is_banned(&self, ip: IpAddr, now: Instant) -> bool {
        self.0.is_banned(&ip.to_canonical(), now)
    }

    /// When `ip`'s ban ends, if it is banned at `now`.
    pub fn banned_until(&self, ip: IpAddr, now: Instant) -> Option<Instant> {
        self.0.banned_until(&ip.to_canonical(), now)
    }

    /// The addresses banned at `now`, each with when its ban ends.
    pub fn in_force(&self, now: Instant) -> Vec<(IpAddr, Instant)> {
        self.0.in_force(now)
    }

    /// Drops the bans that have ended.
    pub fn expire(&self, now: Instant) {
        self.0.expire(now);
    }

    /// Bans held (some may have ended since the last [`AddressBans::expire`]).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no ban is held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A receiver that changes whenever a ban is made.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;
    use std::time::Duration;

    #[test]
    fn a_ban_made_through_one_clone_holds_for_every_clone_and_is_announced() {
        let t0 = Instant::now();
        let http = AddressBans::new(8);
        let p2p = http.clone();
        let mut changes = p2p.subscribe();
        let ip: IpAddr = [127, 0, 0, 7].into();
        http.ban(ip, t0 + Duration::from_secs(60), t0);
        assert!(changes.has_changed().expect("sender alive"));
        assert!(p2p.is_banned(ip, t0));
        // Exact addresses: the neighbour in the same /24 is not banned.
        assert!(!p2p.is_banned([127, 0, 0, 8].into(), t0));
        // The IPv4-mapped form of the address is the same address.
        let mapped = IpAddr::V6(Ipv6Addr::from([0, 0, 0, 0, 0, 0xffff, 0x7f00, 0x0007]));
        assert!(p2p.is_banned(mapped, t0));
        assert!(!p2p.is_banned(ip, t0 + Duration::from_secs(61)));
        changes.mark_unchanged();
        assert!(!changes.has_changed().expect("sender alive"));
    }
}
