//! Connection slots: which peers the router talks to, inbound and outbound kept apart.
//!
//! Modelled on Bitcoin Core's connection manager. **Outbound** slots hold peers this node
//! chose (bootstrap, peer exchange, its own address book); nobody else can take them.
//! **Inbound** slots hold peers that reached us; when they are full a newcomer may evict
//! one, chosen so that an attacker with many keys on a few networks cannot push out a
//! long-lived useful peer: the peers that most recently sent valid data and the older half
//! of the rest are protected, and the victim is the youngest peer of the address range
//! (/24 for IPv4, /48 for IPv6, [`AddressRange`]) holding the most inbound slots. No range
//! holds more than [`SlotConfig::per_range`] slots in either direction, so keys are cheap
//! but ranges are not.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use crate::PeerKey;

/// Limits of the connection slots.
#[derive(Debug, Clone)]
pub struct SlotConfig {
    /// Peers that reached us.
    pub inbound: usize,
    /// Peers we chose.
    pub outbound: usize,
    /// Most peers of one address range, per direction.
    pub per_range: usize,
    /// Inbound peers protected for having sent valid data most recently.
    pub protect_useful: usize,
}

impl Default for SlotConfig {
    fn default() -> Self {
        SlotConfig {
            inbound: 34,
            outbound: 16,
            per_range: 4,
            protect_useful: 4,
        }
    }
}

/// Who opened the relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The peer reached us.
    Inbound,
    /// We chose the peer.
    Outbound,
}

/// An address range: the /24 of an IPv4 address, the /48 of an IPv6 one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddressRange([u8; 6]);

impl AddressRange {
    /// The range holding `ip` (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn of(ip: IpAddr) -> Self {
        match crate::hop::canonical(ip) {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                AddressRange([4, o[0], o[1], o[2], 0, 0])
            }
            IpAddr::V6(v6) => {
                let o = v6.octets();
                AddressRange([o[0], o[1], o[2], o[3], o[4], o[5]])
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Slot {
    direction: Direction,
    range: Option<AddressRange>,
    since: Instant,
    last_useful: Option<Instant>,
}

/// What [`Slots::admit`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// The peer has a slot (it may have had one already).
    Admitted,
    /// The peer has a slot; this inbound peer lost its own to make room.
    Evicted(PeerKey),
    /// No slot: its direction is full with nobody to evict, or its range is at its cap.
    Refused,
}

/// The slots in use.
#[derive(Debug, Default)]
pub struct Slots {
    config: SlotConfig,
    peers: HashMap<PeerKey, Slot>,
}

impl Slots {
    /// Empty slots with these limits.
    pub fn new(config: SlotConfig) -> Self {
        Slots {
            config,
            peers: HashMap::new(),
        }
    }

    /// Slots of `direction` whose range is `range` (`None`: peers known by host name).
    fn count_in(&self, direction: Direction, range: Option<AddressRange>) -> usize {
        self.peers
            .values()
            .filter(|s| s.direction == direction && s.range == range)
            .count()
    }

    /// Slots of `direction`.
    fn count(&self, direction: Direction) -> usize {
        self.peers
            .values()
            .filter(|s| s.direction == direction)
            .count()
    }

    /// Gives `peer` (at `ip`, if known) a slot in `direction` if the limits allow.
    pub fn admit(
        &mut self,
        peer: &str,
        ip: Option<IpAddr>,
        direction: Direction,
        now: Instant,
    ) -> Admission {
        if self.peers.contains_key(peer) {
            return Admission::Admitted;
        }
        let range = ip.map(AddressRange::of);
        let (cap, per_range) = match direction {
            Direction::Inbound => (self.config.inbound, self.config.per_range),
            Direction::Outbound => (self.config.outbound, self.config.per_range),
        };
        if range.is_some() && self.count_in(direction, range) >= per_range {
            return Admission::Refused;
        }
        let mut evicted = None;
        if self.count(direction) >= cap {
            if direction == Direction::Outbound {
                return Admission::Refused;
            }
            let Some(victim) = self.eviction_candidate(range) else {
                return Admission::Refused;
            };
            self.peers.remove(&victim);
            evicted = Some(victim);
        }
        self.peers.insert(
            peer.to_owned(),
            Slot {
                direction,
                range,
                since: now,
                last_useful: None,
            },
        );
        evicted.map_or(Admission::Admitted, Admission::Evicted)
    }

    /// The inbound peer to evict for a newcomer from `newcomer`'s range, if any: after
    /// the protected ones, the youngest of the most crowded range, unless that is the
    /// newcomer's own range or less crowded than the newcomer's would become.
    fn eviction_candidate(&self, newcomer: Option<AddressRange>) -> Option<PeerKey> {
        let mut inbound: Vec<(&PeerKey, &Slot)> = self
            .peers
            .iter()
            .filter(|(_, s)| s.direction == Direction::Inbound)
            .collect();
        // Protect the peers that sent valid data most recently.
        inbound.sort_by_key(|(id, s)| (std::cmp::Reverse(s.last_useful), (*id).clone()));
        let useful = inbound
            .iter()
            .take_while(|(_, s)| s.last_useful.is_some())
            .count()
            .min(self.config.protect_useful);
        let mut rest: Vec<(&PeerKey, &Slot)> = inbound.split_off(useful);
        // Protect the older half of the rest (long-lived peers).
        rest.sort_by_key(|(id, s)| (s.since, (*id).clone()));
        let keep = rest.len() / 2;
        let candidates = rest.split_off(keep);
        let mut by_range: HashMap<Option<AddressRange>, Vec<(&PeerKey, &Slot)>> = HashMap::new();
        for c in candidates {
            by_range.entry(c.1.range).or_default().push(c);
        }
        // The most crowded range counts every inbound peer it holds, protected or not (as
        // Bitcoin Core picks the netgroup with the most connections): a range's candidates
        // alone would tie a lone honest peer with an attacker's range whose other peers
        // sit in the protected older half, and the youngest of those ties is often the
        // honest peer that just joined.
        let crowded = by_range.values().max_by_key(|group| {
            let youngest = group.iter().map(|(_, s)| s.since).max();
            let total = self.count_in(Direction::Inbound, group[0].1.range);
            (total, group.len(), youngest)
        })?;
        let crowd = self.count_in(Direction::Inbound, crowded[0].1.range);
        let theirs = self.count_in(Direction::Inbound, newcomer);
        if (crowded[0].1.range.is_some() && crowded[0].1.range == newcomer) || crowd < theirs + 1 {
            return None;
        }
        crowded
            .iter()
            .max_by_key(|(id, s)| (s.since, (*id).clone()))
            .map(|(id, _)| (*id).clone())
    }

    /// Slots of `direction` held by peers of `ip`'s range.
    pub fn in_range(&self, ip: IpAddr, direction: Direction) -> usize {
        self.count_in(direction, Some(AddressRange::of(ip)))
    }

    /// Notes that `peer` sent valid data (protects it from eviction).
    pub fn mark_useful(&mut self, peer: &str, now: Instant) {
        if let Some(s) = self.peers.get_mut(peer) {
            s.last_useful = Some(now);
        }
    }

    /// Frees `peer`'s slot; returns whether it had one.
    pub fn remove(&mut self, peer: &str) -> bool {
        self.peers.remove(peer).is_some()
    }

    /// Whether `peer` has a slot.
    pub fn contains(&self, peer: &str) -> bool {
        self.peers.contains_key(peer)
    }

    /// `peer`'s direction, if it has a slot.
    pub fn direction(&self, peer: &str) -> Option<Direction> {
        self.peers.get(peer).map(|s| s.direction)
    }

    /// Peers with a slot.
    pub fn peers(&self) -> impl Iterator<Item = &PeerKey> {
        self.peers.keys()
    }

    /// Slots in use.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether no slot is in use.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ip(a: u8, b: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, a, b, 1]))
    }

    #[test]
    fn ranges_are_slash_24_and_slash_48() {
        let a = AddressRange::of("10.1.2.3".parse().unwrap_or(IpAddr::from([0; 4])));
        let b = AddressRange::of("10.1.2.200".parse().unwrap_or(IpAddr::from([0; 4])));
        let c = AddressRange::of("10.1.3.3".parse().unwrap_or(IpAddr::from([0; 4])));
        assert_eq!(a, b);
        assert_ne!(a, c);
        let v6 = |s: &str| AddressRange::of(s.parse().unwrap_or(IpAddr::from([0; 4])));
        assert_eq!(v6("2001:db8:1::1"), v6("2001:db8:1:ffff::2"));
        assert_ne!(v6("2001:db8:1::1"), v6("2001:db8:2::1"));
        assert_eq!(v6("::ffff:10.1.2.3"), a);
    }

    #[test]
    fn a_quiet_honest_peer_keeps_its_slot_while_fresh_keys_churn_through_few_ranges() {
        // The defaults, 20 attacking ranges, and an honest relay that sends nothing valid
        // (so it is never protected as useful) joining during the attack.
        let t0 = Instant::now();
        let mut s = Slots::new(SlotConfig::default());
        let mut k = 0u64;
        let mut attack = |s: &mut Slots, n: u64, at: Instant| {
            for _ in 0..n {
                let t = at + Duration::from_millis(k);
                let _ = s.admit(
                    &format!("k{k}"),
                    ip(1, (k % 20) as u8),
                    Direction::Inbound,
                    t,
                );
                k += 1;
            }
        };
        attack(&mut s, 500, t0);
        let t1 = t0 + Duration::from_secs(1);
        assert!(matches!(
            s.admit("honest", ip(2, 0), Direction::Inbound, t1),
            Admission::Evicted(_) | Admission::Admitted
        ));
        attack(&mut s, 2_000, t1);
        assert!(s.contains("honest"));
    }

    #[test]
    fn many_keys_on_few_ranges_cannot_keep_an_honest_peer_out() {
        let t0 = Instant::now();
        let config = SlotConfig {
            inbound: 10,
            outbound: 4,
            per_range: 3,
            protect_useful: 2,
        };
        let mut s = Slots::new(config);
        // 500 throwaway keys over 20 ranges fill every inbound slot they can.
        for k in 0..500u32 {
            let at = t0 + Duration::from_millis(u64::from(k));
            let _ = s.admit(
                &format!("k{k}"),
                ip(1, (k % 20) as u8),
                Direction::Inbound,
                at,
            );
        }
        assert_eq!(s.count(Direction::Inbound), 10);
        assert!(
            (0..20).all(|r| s.count_in(Direction::Inbound, ip(1, r).map(AddressRange::of)) <= 3)
        );
        // The honest peer from its own range gets in by evicting a crowded range's youngest.
        let t1 = t0 + Duration::from_secs(1);
        assert!(matches!(
            s.admit("honest", ip(2, 0), Direction::Inbound, t1),
            Admission::Evicted(_)
        ));
        s.mark_useful("honest", t1);
        // 500 more keys later: the honest peer keeps its slot.
        for k in 500..1000u32 {
            let at = t1 + Duration::from_millis(u64::from(k));
            let _ = s.admit(
                &format!("k{k}"),
                ip(1, (k % 20) as u8),
                Direction::Inbound,
                at,
            );
        }
        assert!(s.contains("honest"));
        // Outbound slots are ours: inbound churn never touches them, and they never evict.
        for o in 0..4u8 {
            assert_eq!(
                s.admit(&format!("o{o}"), ip(3, o), Direction::Outbound, t1),
                Admission::Admitted
            );
        }
        assert_eq!(
            s.admit("o9", ip(3, 9), Direction::Outbound, t1),
            Admission::Refused
        );
        for k in 1000..1100u32 {
            let _ = s.admit(
                &format!("k{k}"),
                ip(4, (k % 50) as u8),
                Direction::Inbound,
                t1,
            );
        }
        assert!((0..4u8).all(|o| s.contains(&format!("o{o}"))));
    }

    #[test]
    fn a_range_holds_at_most_per_range_slots_each_way() {
        let t0 = Instant::now();
        let mut s = Slots::new(SlotConfig {
            per_range: 2,
            ..SlotConfig::default()
        });
        let same = ip(9, 9);
        assert_eq!(
            s.admit("a", same, Direction::Inbound, t0),
            Admission::Admitted
        );
        assert_eq!(
            s.admit("b", same, Direction::Inbound, t0),
            Admission::Admitted
        );
        assert_eq!(
            s.admit("c", same, Direction::Inbound, t0),
            Admission::Refused
        );
        assert_eq!(
            s.admit("d", same, Direction::Outbound, t0),
            Admission::Admitted
        );
        assert!(s.remove("a"));
        assert_eq!(
            s.admit("c", same, Direction::Inbound, t0),
            Admission::Admitted
        );
    }
}
