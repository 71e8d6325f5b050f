//! The one rate-limit core under the node's keyed limiters (per address, per peer, per
//! client): governor's GCRA, which is a token bucket of `burst` cells refilled one per
//! `period`, kept in a store bounded in keys.
//!
//! Two things are ours. The **store** holds at most `max_keys` keys in least-recently-used
//! order, so a flood of new keys evicts the stalest in O(1) instead of scanning the table;
//! an evicted key only gets a fresh bucket back. The **clock** is the caller's: every
//! check takes `now`, as the rest of the network layer does, so tests and the simulator
//! drive time.

use std::hash::Hash;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::ShrinkableKeyedStateStore;
use governor::state::StateStore;
use governor::Quota;
use lru::LruCache;

/// The longest refill period (a rate of zero or less refills nothing in practice).
const MAX_PERIOD: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A keyed GCRA limiter on the caller's clock, bounded in keys.
#[derive(Debug)]
pub struct KeyedLimiter<K: Hash + Eq + Clone> {
    limiter: Option<Gcra<K>>,
    quota: Option<Quota>,
    store: BoundedStore<K>,
    clock: CallerClock,
    origin: Option<Instant>,
}

type Gcra<K> = governor::RateLimiter<K, BoundedStore<K>, CallerClock, NoOpMiddleware<Nanos>>;

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    /// `burst` cells at once per key, one more every `period`; at most `max_keys` keys
    /// (at least one). A burst of 0 admits nothing.
    pub fn new(burst: u32, period: Duration, max_keys: usize) -> Self {
        let clock = CallerClock::default();
        let period = period.clamp(Duration::from_nanos(1), MAX_PERIOD);
        let quota = NonZeroU32::new(burst)
            .and_then(|burst| Some(Quota::with_period(period)?.allow_burst(burst)));
        let store = BoundedStore::new(max_keys);
        let limiter = quota.map(|q| governor::RateLimiter::new(q, store.clone(), clock.clone()));
        KeyedLimiter {
            limiter,
            quota,
            store,
            clock,
            origin: None,
        }
    }

    /// `per_second` cells per key sustained, `burst` at once (a token bucket's terms).
    pub fn per_second(burst: u32, per_second: f64, max_keys: usize) -> Self {
        let period = if per_second.is_finite() && per_second > 0.0 {
            Duration::try_from_secs_f64(1.0 / per_second).unwrap_or(MAX_PERIOD)
        } else {
            MAX_PERIOD
        };
        Self::new(burst, period, max_keys)
    }

    /// `limit` cells per key per `window`, all of them at once if need be.
    pub fn per_window(limit: u32, window: Duration, max_keys: usize) -> Self {
        Self::new(limit, window / limit.max(1), max_keys)
    }

    /// Takes one cell of `key` at `now`; `Err` with how long until one is free when none
    /// is.
    pub fn check(&mut self, key: &K, now: Instant) -> Result<(), Duration> {
        let nanos = self.set_clock(now);
        let Some(limiter) = &self.limiter else {
            return Err(MAX_PERIOD);
        };
        limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(Nanos::from(nanos)))
    }

    /// Whether a cell of `key` would be taken at `now`, without taking it (governor's
    /// check, run on a copy of the key's state); `Err` with the wait as [`Self::check`].
    pub fn would_admit(&mut self, key: &K, now: Instant) -> Result<(), Duration> {
        let nanos = self.set_clock(now);
        let Some(quota) = self.quota else {
            return Err(MAX_PERIOD);
        };
        let Some(tat) = self.store.peek(key) else {
            return Ok(()); // an unknown key has its whole burst
        };
        // Built at time 0 like the real one, so the copied state means the same instants.
        let clock = CallerClock::default();
        let store = BoundedStore::new(1);
        store.table().put(key.clone(), tat);
        let copy: Gcra<K> = governor::RateLimiter::new(quota, store, clock.clone());
        clock.0.store(nanos, Ordering::Relaxed);
        copy.check_key(key)
            .map_err(|not_until| not_until.wait_time_from(Nanos::from(nanos)))
    }

    /// Cells of `key`'s burst taken at `now` and not yet refilled (0 for an unknown key).
    pub fn taken(&mut self, key: &K, now: Instant) -> u32 {
        let nanos = self.set_clock(now);
        let (Some(quota), Some(tat)) = (self.quota, self.store.peek(key)) else {
            return 0;
        };
        // The theoretical arrival time runs one period ahead per cell not yet refilled.
        let ahead = tat.as_u64().saturating_sub(nanos);
        let period = u64::try_from(quota.replenish_interval().as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        let cells = ahead.div_ceil(period);
        u32::try_from(cells)
            .unwrap_or(u32::MAX)
            .min(quota.burst_size().get())
    }

    /// Keys tracked.
    pub fn len(&self) -> usize {
        self.store.table().len()
    }

    /// Forgets the keys whose buckets are full again at `now` (they behave as new ones).
    pub fn retain_recent(&mut self, now: Instant) {
        self.set_clock(now);
        if let Some(l) = &self.limiter {
            l.retain_recent();
        }
    }

    fn set_clock(&mut self, now: Instant) -> u64 {
        let origin = *self.origin.get_or_insert(now);
        // An instant before the first one counts as the first.
        let since = now.saturating_duration_since(origin);
        let nanos = u64::try_from(since.as_nanos()).unwrap_or(u64::MAX);
        self.clock.0.store(nanos, Ordering::Relaxed);
        nanos
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The time the caller passed, in nanoseconds since its first check.
#[derive(Debug, Clone, Default)]
struct CallerClock(Arc<AtomicU64>);

impl Clock for CallerClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(self.0.load(Ordering::Relaxed))
    }
}

/// Each key's theoretical arrival time, at most `max_keys` of them, least recently used
/// evicted first.
/// Cloning shares the table: the limiter owns one handle, [`KeyedLimiter`] reads through
/// another.
#[derive(Debug)]
struct BoundedStore<K: Hash + Eq>(Arc<Mutex<LruCache<K, Nanos>>>);

impl<K: Hash + Eq> Clone for BoundedStore<K> {
    fn clone(&self) -> Self {
        BoundedStore(self.0.clone())
    }
}

impl<K: Hash + Eq> BoundedStore<K> {
    fn new(max_keys: usize) -> Self {
        BoundedStore(Arc::new(Mutex::new(LruCache::new(
            NonZeroUsize::new(max_keys).unwrap_or(NonZeroUsize::MIN),
        ))))
    }

    fn table(&self) -> std::sync::MutexGuard<'_, LruCache<K, Nanos>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A key's theoretical arrival time, without making it recently used.
    fn peek(&self, key: &K) -> Option<Nanos> {
        self.table().peek(key).copied()
    }
}

impl<K: Hash + Eq + Clone> StateStore for BoundedStore<K> {
    type Key = K;

    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let mut table = self.table();
        let (out, tat) = f(table.get(key).copied())?;
        // A new key past the bound takes the place of the least recently used one.
        table.put(key.clone(), tat);
        Ok(out)
    }
}

impl<K: Hash + Eq + Clone> ShrinkableKeyedStateStore<K> for BoundedStore<K> {
    fn retain_recent(&self, drop_below: Nanos) {
        let mut table = self.table();
        let fresh: Vec<K> = table
            .iter()
            .filter(|(_, tat)| **tat < drop_below)
            .map(|(k, _)| k.clone())
            .collect();
        for k in fresh {
            table.pop(&k);
        }
    }

    fn len(&self) -> usize {
        self.table().len()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_cell_per_period() {
        let t0 = Instant::now();
        let mut l = KeyedLimiter::per_second(2, 1.0, 8);
        assert!(l.check(&"a", t0).is_ok());
        assert!(l.check(&"a", t0).is_ok());
        assert_eq!(l.check(&"a", t0), Err(Duration::from_secs(1)));
        let half = t0 + Duration::from_millis(500);
        assert_eq!(l.check(&"a", half), Err(Duration::from_millis(500)));
        assert!(l.check(&"a", t0 + Duration::from_secs(1)).is_ok());
        assert!(l.check(&"b", t0).is_ok(), "keys are limited apart");
    }

    #[test]
    fn the_table_keeps_the_most_recent_keys_and_evicts_the_stalest() {
        let t0 = Instant::now();
        let mut l = KeyedLimiter::per_second(1, 1.0, 8);
        for i in 0..100 {
            assert!(
                l.check(&i, t0).is_ok(),
                "a new key is never refused for room"
            );
        }
        assert_eq!(l.len(), 8);
        assert!(
            l.check(&99, t0).is_err(),
            "the newest keys are still limited"
        );
        assert!(l.check(&0, t0).is_ok(), "the stalest was forgotten");
    }

    #[test]
    fn a_look_takes_nothing_and_counts_what_is_not_refilled() {
        let t0 = Instant::now();
        let mut l = KeyedLimiter::per_window(2, Duration::from_secs(10), 8);
        assert_eq!(l.would_admit(&"a", t0), Ok(()));
        assert_eq!(l.taken(&"a", t0), 0);
        assert!(l.check(&"a", t0).is_ok());
        assert_eq!(l.would_admit(&"a", t0), Ok(()));
        assert_eq!(l.taken(&"a", t0), 1);
        assert!(l.check(&"a", t0).is_ok());
        assert_eq!(l.taken(&"a", t0), 2);
        for _ in 0..3 {
            assert_eq!(l.would_admit(&"a", t0), Err(Duration::from_secs(5)));
        }
        let later = t0 + Duration::from_secs(5);
        assert_eq!(l.taken(&"a", later), 1);
        assert_eq!(l.would_admit(&"a", later), Ok(()));
        assert!(l.check(&"a", later).is_ok(), "looking took no cell");
        assert!(l.check(&"a", later).is_err());
    }

    #[test]
    fn a_window_quota_and_a_zero_burst() {
        let t0 = Instant::now();
        let mut l = KeyedLimiter::per_window(3, Duration::from_secs(60), 8);
        for _ in 0..3 {
            assert!(l.check(&"a", t0).is_ok());
        }
        assert_eq!(l.check(&"a", t0), Err(Duration::from_secs(20)));
        let mut none = KeyedLimiter::new(0, Duration::from_secs(1), 8);
        assert!(none.check(&"a", t0).is_err());
        assert!(none.is_empty());
    }
}
