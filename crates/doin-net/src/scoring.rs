//! Per-peer application score: what the node's verdicts say about a peer's data.
//!
//! On libp2p it feeds gossipsub's application score ([`crate::p2p`]), beside gossipsub's
//! own delivery scores; on both transports it decides disconnects and bans. Penalties add up; the score decays toward zero (half-life
//! [`ScoreConfig::half_life`]) so an honest peer that once relayed a bad message recovers.
//! Below [`ScoreConfig::ban_below`] the peer is disconnected and banned for
//! [`ScoreConfig::ban_for`], and its score is reset so it starts over after the ban.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::PeerKey;

/// What the node (or the transport) found about data a peer sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The data was valid and useful.
    Valid,
    /// A seal (signature) did not verify, or the key does not hash to the sender id.
    InvalidSignature,
    /// A block failed validation.
    InvalidBlock,
    /// A message failed validation (bad payload, forged id).
    InvalidMessage,
    /// Too many messages, or the same useless message again and again.
    Spam,
    /// A body above [`crate::limits::MAX_MESSAGE_BYTES`].
    Oversize,
    /// A body that did not parse.
    Malformed,
    /// Nothing wrong found, and nothing this node can use now: a block whose parent it
    /// lacks (it syncs instead). Neither forwarded nor charged, and no credit either.
    Ignored,
}

impl Verdict {
    /// The score change this verdict causes.
    pub fn penalty(self) -> f64 {
        match self {
            Verdict::Valid => 1.0,
            Verdict::InvalidSignature => -20.0,
            Verdict::InvalidBlock => -30.0,
            Verdict::InvalidMessage => -10.0,
            Verdict::Spam => -2.0,
            Verdict::Oversize => -10.0,
            Verdict::Malformed => -5.0,
            Verdict::Ignored => 0.0,
        }
    }

    /// Whether the verdict says the data was bad.
    pub fn is_bad(self) -> bool {
        !matches!(self, Verdict::Valid | Verdict::Ignored)
    }

    /// Whether the data goes on to other peers (only what was found valid and useful).
    pub fn forwards(self) -> bool {
        self == Verdict::Valid
    }
}

/// Thresholds of the application score.
#[derive(Debug, Clone)]
pub struct ScoreConfig {
    /// Score at or below which a peer is banned.
    pub ban_below: f64,
    /// How long a ban lasts.
    pub ban_for: Duration,
    /// Highest score a peer can bank from good behaviour.
    pub max_score: f64,
    /// Time for a score to halve toward zero.
    pub half_life: Duration,
    /// Most peers tracked (the lowest-magnitude scores are forgotten first).
    pub max_peers: usize,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        ScoreConfig {
            ban_below: -50.0,
            ban_for: Duration::from_secs(30 * 60),
            max_score: 20.0,
            half_life: Duration::from_secs(600),
            max_peers: 4096,
        }
    }
}

/// What recording a verdict led to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScoreOutcome {
    /// The peer stays.
    Kept(f64),
    /// The peer fell below the limit: disconnect it and ban it until then.
    Ban(Instant),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    score: f64,
    at: Instant,
}

/// Application scores of all peers.
#[derive(Debug, Default)]
pub struct AppScores {
    config: ScoreConfig,
    entries: HashMap<PeerKey, Entry>,
}

impl AppScores {
    /// Empty scores with these thresholds.
    pub fn new(config: ScoreConfig) -> Self {
        AppScores {
            config,
            entries: HashMap::new(),
        }
    }

    fn decayed(&self, e: Entry, now: Instant) -> f64 {
        let dt = now.saturating_duration_since(e.at).as_secs_f64();
        let hl = self.config.half_life.as_secs_f64().max(1e-9);
        e.score * 0.5f64.powf(dt / hl)
    }

    /// The peer's current score (0 for an unknown peer).
    pub fn score(&self, peer: &str, now: Instant) -> f64 {
        self.entries
            .get(peer)
            .map_or(0.0, |e| self.decayed(*e, now))
    }

    /// Applies a verdict.
    pub fn record(&mut self, peer: &str, verdict: Verdict, now: Instant) -> ScoreOutcome {
        let score = (self.score(peer, now) + verdict.penalty()).min(self.config.max_score);
        if score <= self.config.ban_below {
            self.entries.remove(peer);
            return ScoreOutcome::Ban(now + self.config.ban_for);
        }
        if !self.entries.contains_key(peer) && self.entries.len() >= self.config.max_peers {
            // Forget the peer whose score says the least.
            if let Some(k) = self
                .entries
                .iter()
                .min_by(|a, b| a.1.score.abs().total_cmp(&b.1.score.abs()))
                .map(|(k, _)| k.clone())
            {
                self.entries.remove(&k);
            }
        }
        self.entries
            .insert(peer.to_owned(), Entry { score, at: now });
        ScoreOutcome::Kept(score)
    }

    /// Forgets a peer.
    pub fn remove(&mut self, peer: &str) {
        self.entries.remove(peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_invalid_signatures_ban() {
        let t0 = Instant::now();
        let mut s = AppScores::new(ScoreConfig::default());
        assert_eq!(s.record("p", Verdict::Valid, t0), ScoreOutcome::Kept(1.0));
        assert!(matches!(
            s.record("p", Verdict::InvalidSignature, t0),
            ScoreOutcome::Kept(_)
        ));
        assert!(matches!(
            s.record("p", Verdict::InvalidSignature, t0),
            ScoreOutcome::Kept(_)
        ));
        match s.record("p", Verdict::InvalidSignature, t0) {
            ScoreOutcome::Ban(until) => assert_eq!(until, t0 + Duration::from_secs(1800)),
            other => panic!("expected a ban, got {other:?}"),
        }
        assert_eq!(s.score("p", t0), 0.0);
    }

    #[test]
    fn scores_decay_toward_zero() {
        let t0 = Instant::now();
        let mut s = AppScores::new(ScoreConfig::default());
        s.record("p", Verdict::InvalidBlock, t0);
        let later = s.score("p", t0 + Duration::from_secs(600));
        assert!((later + 15.0).abs() < 1e-9, "{later}");
    }
}
