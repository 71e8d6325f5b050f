//! A bounded ban list that never stops banning.
//!
//! Bans are fed by outsiders (every address or key that misbehaves earns one), so the list
//! is bounded; when it is full a new ban evicts the ban that ends soonest (the least
//! severe, or the oldest, of the ones in force), after expired bans are dropped. A full
//! list therefore still bans every newcomer; what it forgets first is the ban that would
//! have lapsed first anyway.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::time::Instant;

/// Default bound of a ban list.
pub const MAX_BANS: usize = 4096;

/// Keys banned until an instant, at most `capacity` of them.
#[derive(Debug, Clone)]
pub struct BanList<K> {
    capacity: usize,
    until: HashMap<K, Instant>,
    /// Bans that pushed another one out because the list was full.
    evicted: u64,
}

impl<K: Hash + Eq + Clone> BanList<K> {
    /// An empty list holding at most `capacity` bans (at least one).
    pub fn new(capacity: usize) -> Self {
        BanList {
            capacity: capacity.max(1),
            until: HashMap::new(),
            evicted: 0,
        }
    }

    /// Bans `key` until `until` (a longer ban already in force is kept).
    pub fn ban(&mut self, key: K, until: Instant, now: Instant) {
        if let Some(t) = self.until.get_mut(&key) {
            *t = (*t).max(until);
            return;
        }
        if self.until.len() >= self.capacity {
            self.until.retain(|_, t| *t > now);
        }
        if self.until.len() >= self.capacity {
            if let Some(soonest) = self
                .until
                .iter()
                .min_by_key(|(_, t)| **t)
                .map(|(k, _)| k.clone())
            {
                self.until.remove(&soonest);
                self.evicted += 1;
            }
        }
        self.until.insert(key, until);
    }

    /// Whether `key` is banned at `now`.
    pub fn is_banned<Q>(&self, key: &Q, now: Instant) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.until.get(key).is_some_and(|t| *t > now)
    }

    /// When `key`'s ban ends, if it is banned at `now`.
    pub fn banned_until<Q>(&self, key: &Q, now: Instant) -> Option<Instant>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.until.get(key).copied().filter(|t| *t > now)
    }

    /// The bans in force at `now`, each with when it ends.
    pub fn in_force(&self, now: Instant) -> Vec<(K, Instant)> {
        self.until
            .iter()
            .filter(|(_, t)| **t > now)
            .map(|(k, t)| (k.clone(), *t))
            .collect()
    }

    /// Lifts `key`'s ban.
    pub fn unban<Q>(&mut self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.until.remove(key);
    }

    /// Drops the bans that have ended.
    pub fn expire(&mut self, now: Instant) {
        self.until.retain(|_, t| *t > now);
    }

    /// Bans held (some may have ended since the last [`BanList::expire`]).
    pub fn len(&self) -> usize {
        self.until.len()
    }

    /// Whether no ban is held.
    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }

    /// Bans evicted to make room for newer ones since the list was made.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_full_list_keeps_banning_and_forgets_the_soonest_ending_ban() {
        let t0 = Instant::now();
        let mut b = BanList::new(4);
        for i in 0..4u64 {
            b.ban(i, t0 + Duration::from_secs(100 + i), t0);
        }
        assert_eq!(b.len(), 4);
        // Full: the newcomer is banned; the ban ending soonest (key 0) makes room.
        b.ban(99, t0 + Duration::from_secs(50), t0);
        assert!(b.is_banned(&99, t0));
        assert!(!b.is_banned(&0, t0));
        assert!((1..4).all(|i| b.is_banned(&i, t0)));
        assert_eq!((b.len(), b.evicted()), (4, 1));
        // Thousands more: every one of them is banned when it arrives.
        for i in 1_000..5_000u64 {
            b.ban(i, t0 + Duration::from_secs(1_000), t0);
            assert!(b.is_banned(&i, t0));
        }
        assert_eq!(b.len(), 4);
    }

    #[test]
    fn ended_bans_make_room_before_any_ban_in_force_is_evicted() {
        let t0 = Instant::now();
        let mut b = BanList::new(2);
        b.ban("old", t0 + Duration::from_secs(1), t0);
        b.ban("long", t0 + Duration::from_secs(1_000), t0);
        let later = t0 + Duration::from_secs(2);
        b.ban("new", later + Duration::from_secs(10), later);
        assert!(b.is_banned(&"long", later) && b.is_banned(&"new", later));
        assert_eq!(b.evicted(), 0);
        // A longer ban of a banned key extends it; a shorter one does not shorten it.
        b.ban("new", later + Duration::from_secs(1), later);
        assert_eq!(
            b.banned_until(&"new", later),
            Some(later + Duration::from_secs(10))
        );
    }
}
