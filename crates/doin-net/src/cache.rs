//! The seen-cache: which messages the HTTP bridge has already flooded (dedupe).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use doin_primitives::models::Message;

use crate::MessageId;

/// The id the flooding router dedupes by: [`Message::dedupe_id`].
///
/// The reference's GossipSub layer hashes the whole payload ([`Message::gossip_id`]), but
/// every hop rewrites the payload's transport keys (`_sender_port`, `_forwarder_id`), which
/// would give one message a new id per path and defeat dedupe. The dedupe id leaves those
/// keys out; it is the reference flooding layer's id and the one a seal signs.
pub fn message_id(m: &Message) -> MessageId {
    m.dedupe_id()
}

/// Ids seen recently: bounded in time (`ttl`) and in size (`capacity`, oldest evicted).
#[derive(Debug)]
pub struct SeenCache {
    ttl: Duration,
    capacity: usize,
    at: HashMap<MessageId, Instant>,
    order: VecDeque<(MessageId, Instant)>,
}

impl SeenCache {
    /// An empty cache.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        SeenCache {
            ttl,
            capacity: capacity.max(1),
            at: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Whether `id` was seen within the ttl.
    pub fn contains(&self, id: &str, now: Instant) -> bool {
        self.at
            .get(id)
            .is_some_and(|t| now.saturating_duration_since(*t) < self.ttl)
    }

    /// Records `id`; returns `true` if it was not seen within the ttl.
    pub fn insert(&mut self, id: &str, now: Instant) -> bool {
        if self.contains(id, now) {
            return false;
        }
        self.expire(now);
        while self.at.len() >= self.capacity {
            let Some((old, t)) = self.order.pop_front() else {
                break;
            };
            if self.at.get(&old) == Some(&t) {
                self.at.remove(&old);
            }
        }
        self.at.insert(id.to_owned(), now);
        self.order.push_back((id.to_owned(), now));
        true
    }

    /// Drops entries older than the ttl.
    pub fn expire(&mut self, now: Instant) {
        while let Some((id, t)) = self.order.front() {
            if now.saturating_duration_since(*t) < self.ttl {
                break;
            }
            if self.at.get(id) == Some(t) {
                self.at.remove(id);
            }
            self.order.pop_front();
        }
    }

    /// Number of ids held.
    pub fn len(&self) -> usize {
        self.at.len()
    }

    /// Whether no id is held.
    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_cache_expires_by_ttl() {
        let t0 = Instant::now();
        let mut s = SeenCache::new(Duration::from_secs(10), 100);
        assert!(s.insert("a", t0));
        assert!(!s.insert("a", t0 + Duration::from_secs(9)));
        assert!(s.contains("a", t0 + Duration::from_secs(9)));
        assert!(!s.contains("a", t0 + Duration::from_secs(10)));
        s.expire(t0 + Duration::from_secs(11));
        assert!(s.is_empty());
        assert!(s.insert("a", t0 + Duration::from_secs(11)));
    }

    #[test]
    fn seen_cache_is_bounded_oldest_first() {
        let t0 = Instant::now();
        let mut s = SeenCache::new(Duration::from_secs(1000), 3);
        for (i, id) in ["a", "b", "c", "d"].into_iter().enumerate() {
            assert!(s.insert(id, t0 + Duration::from_secs(i as u64)));
        }
        let now = t0 + Duration::from_secs(5);
        assert_eq!(s.len(), 3);
        assert!(!s.contains("a", now));
        assert!(s.contains("b", now) && s.contains("c", now) && s.contains("d", now));
    }
}
