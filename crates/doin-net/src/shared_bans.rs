//! A ban list both transports hold: [`SharedBans`], a bounded [`BanList`] behind cheap
//! clones, that announces every new ban to its subscribers so that a transport can close
//! what the ban covers at once. Keyed by address ([`crate::address_bans`]) or by DOIN peer
//! id ([`crate::id_bans`]).

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::watch;

use crate::bans::{BanList, MAX_BANS};

/// Banned keys, shared by clones; every new ban is announced to
/// [`SharedBans::subscribe`]rs.
pub struct SharedBans<K> {
    inner: Arc<Inner<K>>,
}

struct Inner<K> {
    list: Mutex<BanList<K>>,
    /// Counts bans made, so that a transport can close what a new ban covers.
    made: watch::Sender<u64>,
}

impl<K> Clone for SharedBans<K> {
    fn clone(&self) -> Self {
        SharedBans {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K: Hash + Eq + Clone> SharedBans<K> {
    /// An empty list holding at most `capacity` bans.
    pub fn new(capacity: usize) -> Self {
        SharedBans {
            inner: Arc::new(Inner {
                list: Mutex::new(BanList::new(capacity)),
                made: watch::Sender::new(0),
            }),
        }
    }

    fn list(&self) -> MutexGuard<'_, BanList<K>> {
        self.inner.list.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bans `key` until `until` (a longer ban in force is kept) and tells the subscribers.
    pub fn ban(&self, key: K, until: Instant, now: Instant) {
        self.list().ban(key, until, now);
        self.inner.made.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Whether `key` is banned at `now`.
    pub fn is_banned<Q>(&self, key: &Q, now: Instant) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.list().is_banned(key, now)
    }

    /// When `key`'s ban ends, if it is banned at `now`.
    pub fn banned_until<Q>(&self, key: &Q, now: Instant) -> Option<Instant>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.list().banned_until(key, now)
    }

    /// The bans in force at `now`, each with when it ends.
    pub fn in_force(&self, now: Instant) -> Vec<(K, Instant)> {
        self.list().in_force(now)
    }

    /// Drops the bans that have ended.
    pub fn expire(&self, now: Instant) {
        self.list().expire(now);
    }

    /// Bans held (some may have ended since the last [`SharedBans::expire`]).
    pub fn len(&self) -> usize {
        self.list().len()
    }

    /// Whether no ban is held.
    pub fn is_empty(&self) -> bool {
        self.list().is_empty()
    }

    /// A receiver that changes whenever a ban is made.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.made.subscribe()
    }
}

impl<K: Hash + Eq + Clone> Default for SharedBans<K> {
    /// An empty list of [`MAX_BANS`] bans at most.
    fn default() -> Self {
        SharedBans::new(MAX_BANS)
    }
}

impl<K: Hash + Eq + Clone> std::fmt::Debug for SharedBans<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedBans")
            .field("held", &self.len())
            .finish()
    }
}
