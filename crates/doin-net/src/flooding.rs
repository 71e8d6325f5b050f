//! The flooding router of the HTTP bridge: every new message goes to every HTTP peer (the
//! reference nodes) but the one it came from, as the reference's flooding does (what its
//! example configs run; a reference node on GossipSub takes it too, since it takes every
//! message from every peer).
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
use crate::{Action, PeerKey};

/// The flooding router of one node.
#[derive(Debug)]
pub struct FloodRouter {
    local: PeerKey,
    peers: BTreeSet<PeerKey>,
    max_peers: usize,
    seen: SeenCache,
}

impl FloodRouter {
    /// A router for `local` with the reference's seen-cache (10,000 ids; 300 s here).
    pub fn new(local: impl Into<PeerKey>) -> Self {
        Self::with_limits(local, Duration::from_secs(300), 10_000, 1_000)
    }

    /// A router with an explicit seen-cache ttl and bounds.
    pub fn with_limits(
        local: impl Into<PeerKey>,
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

impl FloodRouter {
    /// A peer connected (or was learnt).
    pub fn add_peer(&mut self, peer: &str) {
        if peer != self.local && self.peers.len() < self.max_peers {
            self.peers.insert(peer.to_owned());
        }
    }

    /// A peer went away (or was banned).
    pub fn remove_peer(&mut self, peer: &str) {
        self.peers.remove(peer);
    }

    /// A message arrived from `from` (the peer that sent it to us, not the originator):
    /// delivered and forwarded to every other peer once, within its `ttl`.
    pub fn handle_message(&mut self, from: &str, message: Message, now: Instant) -> Vec<Action> {
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

    /// Publishes our own message to every peer.
    pub fn publish(&mut self, message: Message, now: Instant) -> Vec<Action> {
        if !self.seen.insert(&message_id(&message), now) {
            return Vec::new();
        }
        self.send_all(&message, &[])
    }

    /// Periodic maintenance: the seen-cache expires.
    pub fn heartbeat(&mut self, now: Instant) {
        self.seen.expire(now);
    }

    /// Peers a new message goes to.
    pub fn peers(&self) -> Vec<PeerKey> {
        self.peers.iter().cloned().collect()
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
        for p in ["a", "b", "origin"] {
            r.add_peer(p);
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
        r.add_peer("a");
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
