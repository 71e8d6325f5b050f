//! The seen-cache (dedupe) and the message cache (IWANT answers, IHAVE gossip).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use doin_primitives::models::Message;

use crate::{MessageId, Topic};

/// The id routers dedupe by: [`Message::dedupe_id`].
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

/// Recent messages in history windows (one per heartbeat), bounded in total size.
#[derive(Debug)]
pub struct MessageCache {
    windows: VecDeque<Vec<(MessageId, Topic)>>,
    gossip_windows: usize,
    capacity: usize,
    messages: HashMap<MessageId, (Message, u32)>,
}

impl MessageCache {
    /// `history` windows are kept (the reference: 5 + the current one); the newest
    /// `gossip_windows` are advertised in IHAVE.
    pub fn new(history: usize, gossip_windows: usize, capacity: usize) -> Self {
        let mut windows = VecDeque::new();
        windows.push_front(Vec::new());
        MessageCache {
            windows,
            gossip_windows: gossip_windows.max(1),
            capacity: capacity.max(1),
            messages: HashMap::new(),
        }
        .with_history(history)
    }

    fn with_history(mut self, history: usize) -> Self {
        for _ in 1..history.max(1) {
            self.windows.push_back(Vec::new());
        }
        self
    }

    /// Adds a message to the current window (evicting the oldest if full).
    pub fn put(&mut self, id: MessageId, topic: Topic, message: Message) {
        if self.messages.contains_key(&id) {
            return;
        }
        while self.messages.len() >= self.capacity {
            let Some(oldest) = self.windows.iter_mut().rev().find(|w| !w.is_empty()) else {
                break;
            };
            let (old, _) = oldest.remove(0);
            self.messages.remove(&old);
        }
        self.messages.insert(id.clone(), (message, 0));
        if let Some(w) = self.windows.front_mut() {
            w.push((id, topic));
        }
    }

    /// The message for an IWANT, counting how often it was asked for; `None` when unknown
    /// or asked for more than `max_transmits` times (an IWANT flood).
    pub fn get_for_iwant(&mut self, id: &str, max_transmits: u32) -> Option<&Message> {
        let (m, n) = self.messages.get_mut(id)?;
        *n += 1;
        (*n <= max_transmits).then_some(&*m)
    }

    /// Whether the message is cached.
    pub fn contains(&self, id: &str) -> bool {
        self.messages.contains_key(id)
    }

    /// Ids of `topic` in the gossip windows, newest first.
    pub fn gossip_ids(&self, topic: &str) -> Vec<MessageId> {
        self.windows
            .iter()
            .take(self.gossip_windows)
            .flat_map(|w| w.iter().rev())
            .filter(|(_, t)| t == topic)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Starts a new window, dropping the oldest.
    pub fn shift(&mut self) {
        if let Some(old) = self.windows.pop_back() {
            for (id, _) in old {
                self.messages.remove(&id);
            }
        }
        self.windows.push_front(Vec::new());
    }

    /// Number of messages held.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether no message is held.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
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

    #[test]
    fn message_cache_windows_and_bound() {
        use doin_primitives::models::payload::{OptimaeCommit, Payload};
        use doin_primitives::value::Map;
        let msg = |i: usize| {
            Message::new(
                "p",
                doin_primitives::Timestamp::from_unix_secs(i as i64),
                &Payload::from(OptimaeCommit {
                    commitment_hash: format!("{i}"),
                    domain_id: "d".into(),
                    extra: Map::new(),
                }),
            )
        };
        let mut c = MessageCache::new(3, 2, 4);
        c.put("1".into(), "t".into(), msg(1));
        c.shift();
        c.put("2".into(), "t".into(), msg(2));
        c.put("x".into(), "u".into(), msg(9));
        assert_eq!(c.gossip_ids("t"), vec!["2".to_owned(), "1".to_owned()]);
        c.shift();
        assert_eq!(c.gossip_ids("t"), vec!["2".to_owned()]);
        assert!(c.contains("1"));
        c.shift();
        assert!(!c.contains("1"));
        assert_eq!(
            c.get_for_iwant("2", 1).map(|m| m.timestamp),
            Some(msg(2).timestamp)
        );
        assert!(c.get_for_iwant("2", 1).is_none());
        for i in 10..20 {
            c.put(format!("{i}"), "t".into(), msg(i));
        }
        assert_eq!(c.len(), 4);
    }
}
