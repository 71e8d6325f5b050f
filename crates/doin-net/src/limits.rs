//! Every bound the network layer applies, and the per-peer token bucket.
//!
//! The reference accepts 100 MiB request bodies and caps nothing else; these limits are
//! ours. A gossip message is a header summary or an optimization result, far below
//! [`MAX_MESSAGE_BYTES`]; blocks travel by `GET /chain/blocks`, capped separately.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Largest `POST /message` body accepted (and sent): 1 MiB.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// Largest `GET /chain/blocks` response read (the reference allows 100 MiB requests).
pub const MAX_BLOCKS_RESPONSE_BYTES: usize = 64 << 20;
/// Largest response read from `GET /chain/status` or `GET /peers`.
pub const MAX_SMALL_RESPONSE_BYTES: usize = 1 << 20;
/// Most message ids in one IHAVE entry (the reference's `max_ihave_length`).
pub const MAX_IHAVE_IDS: usize = 100;
/// Most message ids in one IWANT list.
pub const MAX_IWANT_IDS: usize = 100;
/// Most topics in any one list of a control frame, and most IHAVE entries per frame.
pub const MAX_CONTROL_TOPICS: usize = 64;
/// Longest topic name accepted.
pub const MAX_TOPIC_LEN: usize = 200;
/// Longest message id accepted (a SHA-256 hex id is 64).
pub const MAX_MESSAGE_ID_LEN: usize = 128;
/// Longest peer id accepted in a control frame or a message's routing fields.
pub const MAX_PEER_ID_LEN: usize = 128;
/// Most peers accepted from one `GET /peers` answer.
pub const MAX_PEX_PEERS: usize = 200;

/// A token bucket: `burst` tokens, refilled at `per_second`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    burst: f64,
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(burst: u32, per_second: f64, now: Instant) -> Self {
        TokenBucket {
            burst: f64::from(burst),
            per_second,
            tokens: f64::from(burst),
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One token bucket per key (peer id or remote address), bounded in the number of keys.
#[derive(Debug)]
pub struct RateLimiter {
    burst: u32,
    per_second: f64,
    max_keys: usize,
    buckets: HashMap<String, TokenBucket>,
}

impl RateLimiter {
    /// A limiter allowing `burst` messages at once and `per_second` sustained, per key.
    pub fn new(burst: u32, per_second: f64, max_keys: usize) -> Self {
        RateLimiter {
            burst,
            per_second,
            max_keys: max_keys.max(1),
            buckets: HashMap::new(),
        }
    }

    /// Whether `key` may send one more message now.
    pub fn allow(&mut self, key: &str, now: Instant) -> bool {
        if !self.buckets.contains_key(key) && self.buckets.len() >= self.max_keys {
            self.evict_idle(now);
        }
        self.buckets
            .entry(key.to_owned())
            .or_insert_with(|| TokenBucket::new(self.burst, self.per_second, now))
            .try_take(now)
    }

    /// Forgets buckets that have refilled (they behave like new ones), or else the stalest.
    fn evict_idle(&mut self, now: Instant) {
        let full_after = Duration::from_secs_f64(f64::from(self.burst) / self.per_second.max(1e-9));
        self.buckets
            .retain(|_, b| now.saturating_duration_since(b.last) < full_after);
        if self.buckets.len() >= self.max_keys {
            if let Some(stalest) = self
                .buckets
                .iter()
                .min_by_key(|(_, b)| b.last)
                .map(|(k, _)| k.clone())
            {
                self.buckets.remove(&stalest);
            }
        }
    }

    /// Number of keys tracked.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refills_at_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(2, 1.0, t0);
        assert!(b.try_take(t0));
        assert!(b.try_take(t0));
        assert!(!b.try_take(t0));
        assert!(!b.try_take(t0 + Duration::from_millis(500)));
        assert!(b.try_take(t0 + Duration::from_millis(1000)));
    }

    #[test]
    fn limiter_is_bounded_in_keys() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(1, 1.0, 8);
        for i in 0..100 {
            assert!(r.allow(&format!("peer{i}"), t0));
        }
        assert!(r.len() <= 8);
        assert!(!r.allow("peer99", t0));
    }
}
