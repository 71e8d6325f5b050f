//! One handling per message, whichever transport delivers it first: a doin node on both
//! the HTTP bridge and libp2p may receive a message twice, and the second copy gets the first
//! copy's verdict (the same content, so the same verdict) without being handled again.
//! Keyed by the message's dedupe id (the id its seal signs, transport keys left out);
//! bounded in time and count like the routers' own seen-caches.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use doin_net::Verdict;

/// How long a verdict is remembered (the routers' seen-cache TTL).
pub const TTL: Duration = Duration::from_secs(120);
/// Most verdicts remembered (the oldest go first).
pub const CAPACITY: usize = 10_000;

/// Verdicts of recently handled messages.
#[derive(Debug, Default)]
pub struct SeenVerdicts {
    at: HashMap<String, (Verdict, Instant)>,
    order: VecDeque<(String, Instant)>,
}

impl SeenVerdicts {
    /// The verdict of the message `id` if it was handled within [`TTL`].
    pub fn get(&mut self, id: &str, now: Instant) -> Option<Verdict> {
        self.expire(now);
        self.at.get(id).map(|(v, _)| *v)
    }

    /// Records the verdict of a message just handled.
    pub fn insert(&mut self, id: String, verdict: Verdict, now: Instant) {
        self.expire(now);
        while self.order.len() >= CAPACITY {
            if let Some((old, t)) = self.order.pop_front() {
                if self.at.get(&old).is_some_and(|(_, at)| *at == t) {
                    self.at.remove(&old);
                }
            }
        }
        self.order.push_back((id.clone(), now));
        self.at.insert(id, (verdict, now));
    }

    fn expire(&mut self, now: Instant) {
        while let Some((id, t)) = self.order.front() {
            if now.saturating_duration_since(*t) < TTL {
                break;
            }
            if self.at.get(id).is_some_and(|(_, at)| at == t) {
                self.at.remove(id);
            }
            self.order.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_is_remembered_for_its_ttl_and_within_capacity() {
        let mut seen = SeenVerdicts::default();
        let t0 = Instant::now();
        seen.insert("a".into(), Verdict::InvalidSignature, t0);
        assert_eq!(seen.get("a", t0), Some(Verdict::InvalidSignature));
        assert_eq!(seen.get("b", t0), None);
        assert_eq!(seen.get("a", t0 + TTL), None);
        for i in 0..CAPACITY + 5 {
            seen.insert(i.to_string(), Verdict::Valid, t0);
        }
        assert!(seen.at.len() <= CAPACITY);
        assert_eq!(seen.get("0", t0), None);
        assert_eq!(
            seen.get(&(CAPACITY + 4).to_string(), t0),
            Some(Verdict::Valid)
        );
    }
}
