//! The flooding router (`network_protocol: "flooding"`, what the reference's example
//! configs use): every new message goes to every peer but the one it came from.
//!
//! As the reference (§5.3): a message with `ttl <= 0` or `ttl > 15` is dropped; a new one
//! is delivered and forwarded with `ttl - 1`. Unlike the reference, the seen-cache expires
//! by time as well as size, the originator is not sent its own message back, peers on the
//! same IP are not excluded (loopback peers are real peers), and a copy whose `ttl` would
//! reach 0 is not sent at all (its receiver would drop it).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use doin_primitives::models::message::MAX_TTL;
use doin_primitives::models::Message;

use crate::cache::{message_id, SeenCache};
use crate::control::Control;
use crate::{Action, PeerId, Router, Verdict};

/// The flooding router of one node.
#[derive(Debug)]
pub struct FloodRouter {
    local: PeerId,
    peers: BTreeSet<PeerId>,
    max_peers: usize,
    seen: SeenCache,
}

impl FloodRouter {
    /// A router for `local` with the reference's seen-cache (10,000 ids; 300 s here).
    pub fn new(local: impl Into<PeerId>) -> Self {
        Self::with_limits(local, Duration::from_secs(300), 10_000, 1_000)
    }

    /// A router with an explicit seen-cache ttl and bounds.
    pub fn with_limits(
        local: impl Into<PeerId>,
        seen_ttl: Duration,
        seen_capacity: usize,
        max_peers: usize,
    ) -> Self {
        FloodRouter {
            local: local.into(),
            peers: BTreeSet::new(),
            max_peers,
            seen: SeenCache::new(seen_ttl, seen_capacity),
        }
    }

    fn send_all(&self, message: &Message, skip: &[&str]) -> Vec<Action> {
        self.peers
            .iter()
            .filter(|p| !skip.contains(&p.as_str()) && **p != self.local)
            .map(|peer| Action::Send {
                peer: peer.clone(),
                message: message.clone(),
            })
            .collect()
    }
}

impl Router for FloodRouter {
    fn add_peer(&mut self, peer: &str, _now: Instant) -> Vec<Action> {
        if peer != self.local && self.peers.len() < self.max_peers {
            self.peers.insert(peer.to_owned());
        }
        Vec::new()
    }

    fn remove_peer(&mut self, peer: &str) {
        self.peers.remove(peer);
    }

    fn handle_message(&mut self, from: &str, message: Message, now: Instant) -> Vec<Action> {
        if message.ttl <= 0 || message.ttl > MAX_TTL {
            return Vec::new();
        }
        if !self.seen.insert(&message_id(&message), now) {
            return Vec::new();
        }
        let hop = message.forwarded();
        let mut actions = if hop.ttl > 0 {
            self.send_all(&hop, &[from, &message.sender_id])
        } else {
            Vec::new()
        };
        actions.push(Action::Deliver(message));
        actions
    }

    fn handle_control(&mut self, _from: &str, _control: Control, _now: Instant) -> Vec<Action> {
        Vec::new()
    }

    fn publish(&mut self, _topic: &str, message: Message, now: Instant) -> Vec<Action> {
        if !self.seen.insert(&message_id(&message), now) {
            return Vec::new();
        }
        self.send_all(&message, &[])
    }

    fn heartbeat(&mut self, now: Instant) -> Vec<Action> {
        self.seen.expire(now);
        Vec::new()
    }

    fn subscribe(&mut self, _topic: &str, _now: Instant) -> Vec<Action> {
        Vec::new()
    }

    fn unsubscribe(&mut self, _topic: &str, _now: Instant) -> Vec<Action> {
        Vec::new()
    }

    fn report(&mut self, _peer: &str, _verdict: Verdict) {}

    fn peers(&self) -> Vec<PeerId> {
        self.peers.iter().cloned().collect()
    }

    fn topic_peers(&self, _topic: &str) -> Vec<PeerId> {
        self.peers()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::models::payload::{OptimaeCommit, Payload};
    use doin_primitives::value::Map;

    fn msg(ttl: i64) -> Message {
        let mut m = Message::new(
            "origin",
            doin_primitives::Timestamp::from_unix_secs(1),
            &Payload::from(OptimaeCommit {
                commitment_hash: "c".into(),
                domain_id: "d".into(),
                extra: Map::new(),
            }),
        );
        m.ttl = ttl;
        m
    }

    fn router() -> FloodRouter {
        let mut r = FloodRouter::new("me");
        let t0 = Instant::now();
        for p in ["a", "b", "origin"] {
            r.add_peer(p, t0);
        }
        r
    }

    #[test]
    fn ttl_bounds_as_the_reference() {
        let t0 = Instant::now();
        assert!(router().handle_message("a", msg(0), t0).is_empty());
        assert!(router().handle_message("a", msg(-1), t0).is_empty());
        assert!(router().handle_message("a", msg(16), t0).is_empty());
        let out = router().handle_message("a", msg(15), t0);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(
            matches!(&out[0], Action::Send { peer, message } if peer == "b" && message.ttl == 14)
        );
        // ttl 1 is delivered but not forwarded: the copy would arrive with ttl 0.
        assert_eq!(
            router().handle_message("a", msg(1), t0),
            vec![Action::Deliver(msg(1))]
        );
    }

    #[test]
    fn duplicates_are_dropped_until_the_ttl_expires() {
        let t0 = Instant::now();
        let mut r = FloodRouter::with_limits("me", Duration::from_secs(5), 10, 10);
        r.add_peer("a", t0);
        assert_eq!(r.handle_message("a", msg(7), t0).len(), 1);
        assert!(r.handle_message("a", msg(7), t0).is_empty());
        r.heartbeat(t0 + Duration::from_secs(6));
        assert_eq!(
            r.handle_message("a", msg(7), t0 + Duration::from_secs(6))
                .len(),
            1
        );
    }
}
