//! Every bound the network layer applies, and the per-key token buckets.
//!
//! The reference accepts 100 MiB request bodies and caps nothing else; these limits are
//! ours. A gossip message is a header summary or an optimization result, far below
//! [`MAX_MESSAGE_BYTES`]; blocks travel by `GET /chain/blocks`, capped separately.

use std::time::Instant;

use crate::keyed_limit::KeyedLimiter;

/// Largest `POST /message` body accepted (and sent): 1 MiB.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// Largest `GET /chain/blocks` response read (the reference allows 100 MiB requests).
pub const MAX_BLOCKS_RESPONSE_BYTES: usize = 64 << 20;
/// Largest response read from `GET /chain/status` or `GET /peers`.
pub const MAX_SMALL_RESPONSE_BYTES: usize = 1 << 20;
/// Longest topic name accepted.
pub const MAX_TOPIC_LEN: usize = 200;
/// Longest peer id (or placeholder, as reference nodes list them) accepted in a
/// `GET /peers` answer. A message's routing fields take DOIN peer ids only
/// ([`doin_primitives::PeerId::parse`]).
pub const MAX_PEER_ID_LEN: usize = 128;
/// Most peers accepted from one `GET /peers` answer.
pub const MAX_PEX_PEERS: usize = 200;

/// A token bucket per key (peer id or remote address): `burst` messages at once and
/// `per_second` sustained, bounded in the number of keys (the least recently used key is
/// forgotten for a new one). The buckets are [`KeyedLimiter`]'s (governor).
#[derive(Debug)]
pub struct RateLimiter {
    buckets: KeyedLimiter<String>,
}

impl RateLimiter {
    /// A limiter allowing `burst` messages at once and `per_second` sustained, per key.
    pub fn new(burst: u32, per_second: f64, max_keys: usize) -> Self {
        RateLimiter {
            buckets: KeyedLimiter::per_second(burst, per_second, max_keys.max(1)),
        }
    }

    /// Whether `key` may send one more message now.
    pub fn allow(&mut self, key: &str, now: Instant) -> bool {
        self.buckets.check(&key.to_owned(), now).is_ok()
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
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_key_refills_at_its_rate() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(2, 1.0, 8);
        assert!(r.allow("p", t0));
        assert!(r.allow("p", t0));
        assert!(!r.allow("p", t0));
        assert!(!r.allow("p", t0 + Duration::from_millis(500)));
        assert!(r.allow("p", t0 + Duration::from_millis(1000)));
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
