//! Admission: what an inbound `POST /message` body must pass before the router sees it,
//! and who pays when it fails.
//!
//! The transport does not authenticate the hop that posts a body: `sender_id` and
//! `_forwarder_id` are claims anyone can write, so charging them would let an attacker
//! get an honest peer banned. Whatever a body does wrong before its seal is checked is
//! therefore charged to the **network address** it came from (its IP): a body over
//! [`crate::limits::MAX_MESSAGE_BYTES`], one that does not parse, an unsigned message (unless
//! the operator accepts reference peers), a seal that does not verify, a message older than
//! [`AdmissionConfig::max_age`] (a replay: the seen-cache outlives that age, so a copy
//! within it is dropped as a duplicate and a later one is refused here) or dated too far
//! ahead, and sending over the address's or the claimed peer's rate. An address whose
//! score falls to the ban threshold is refused outright (before any parsing) for the ban's
//! duration, whatever peer ids it claims. The ban goes to the [`AddressBans`] the libp2p
//! transport shares, so the address is refused there too, and an address banned there for
//! its gossip is refused here.

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use doin_primitives::models::Message;

use crate::address_bans::AddressBans;
use crate::limits::RateLimiter;
use crate::scoring::{AppScores, ScoreConfig, ScoreOutcome, Verdict};

/// Most addresses tracked (rates, scores and bans each).
const MAX_ADDRESSES: usize = 4096;

/// Admission settings.
#[derive(Debug, Clone)]
pub struct AdmissionConfig {
    /// Refuse messages without a seal (the default; reference peers sign nothing).
    pub require_seals: bool,
    /// Oldest message timestamp accepted, relative to our clock.
    pub max_age: Duration,
    /// Furthest ahead of our clock a message timestamp may be.
    pub max_ahead: Duration,
    /// Bodies one address may post at once (every peer behind it together).
    pub address_burst: u32,
    /// Bodies one address may post per second, sustained.
    pub address_per_second: f64,
    /// Score thresholds of addresses.
    pub scores: ScoreConfig,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        AdmissionConfig {
            require_seals: true,
            max_age: Duration::from_secs(60),
            max_ahead: Duration::from_secs(60),
            address_burst: 5_000,
            address_per_second: 2_500.0,
            scores: ScoreConfig {
                max_peers: MAX_ADDRESSES,
                ..ScoreConfig::default()
            },
        }
    }
}

/// Why a message's content was refused at admission.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No seal, and this node requires one.
    #[error("unsigned message (this node accepts signed messages only)")]
    Unsigned,
    /// The seal does not verify or its key is not the sender's.
    #[error("bad seal: {0}")]
    BadSeal(String),
    /// Older than the accepted age: a replay, or a message held back too long.
    #[error("message is {age_secs} s old; at most {max_secs} s accepted")]
    Stale {
        /// Its age in seconds.
        age_secs: i64,
        /// The limit.
        max_secs: u64,
    },
    /// Dated ahead of our clock.
    #[error("message is dated {ahead_secs} s ahead of our clock; at most {max_secs} s accepted")]
    FromTheFuture {
        /// How far ahead, in seconds.
        ahead_secs: i64,
        /// The limit.
        max_secs: u64,
    },
}

impl Refusal {
    /// The verdict the sending address earns.
    pub fn verdict(&self) -> Verdict {
        match self {
            Refusal::Unsigned | Refusal::BadSeal(_) => Verdict::InvalidSignature,
            Refusal::Stale { .. } | Refusal::FromTheFuture { .. } => Verdict::InvalidMessage,
        }
    }
}

/// Checks a parsed message's seal and age at `now_micros` (µs since the Unix epoch).
pub fn check_message(
    m: &Message,
    now_micros: i64,
    config: &AdmissionConfig,
) -> Result<(), Refusal> {
    let ts = m.timestamp.unix_micros();
    let age = now_micros.saturating_sub(ts);
    if age > micros(config.max_age) {
        return Err(Refusal::Stale {
            age_secs: age / 1_000_000,
            max_secs: config.max_age.as_secs(),
        });
    }
    if age.saturating_neg() > micros(config.max_ahead) {
        return Err(Refusal::FromTheFuture {
            ahead_secs: age.saturating_neg() / 1_000_000,
            max_secs: config.max_ahead.as_secs(),
        });
    }
    match &m.seal {
        None if config.require_seals => Err(Refusal::Unsigned),
        None => Ok(()),
        Some(_) => m.verify_seal().map_err(|e| Refusal::BadSeal(e.to_string())),
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// What the address guard decided about one body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Go on.
    Open,
    /// The address is over its rate.
    RateLimited,
    /// The address is banned.
    Banned,
}

/// One address as `/peers` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct AddressScore {
    /// The IP address.
    pub address: IpAddr,
    /// Its score now.
    pub score: f64,
    /// Whether it is banned now.
    pub banned: bool,
}

/// Rates, scores and bans of the addresses bodies come from (bounded).
#[derive(Debug)]
pub struct AddressGuard {
    limiter: RateLimiter,
    scores: AppScores,
    bans: AddressBans,
    /// Addresses charged at least once (bounded; listed by [`AddressGuard::scores`]).
    charged: HashSet<IpAddr>,
}

impl AddressGuard {
    /// A guard with these settings, banning into `bans` (shared with libp2p).
    pub fn new(config: &AdmissionConfig, bans: AddressBans) -> Self {
        AddressGuard {
            limiter: RateLimiter::new(
                config.address_burst,
                config.address_per_second,
                MAX_ADDRESSES,
            ),
            scores: AppScores::new(config.scores.clone()),
            bans,
            charged: HashSet::new(),
        }
    }

    /// Whether a body from `ip` may be looked at (a rate-limited one is charged as spam).
    pub fn gate(&mut self, ip: IpAddr, now: Instant) -> Gate {
        if self.bans.is_banned(ip, now) {
            return Gate::Banned;
        }
        if !self.limiter.allow(&ip.to_string(), now) {
            self.charge(ip, Verdict::Spam, now);
            return Gate::RateLimited;
        }
        Gate::Open
    }

    /// Charges `ip` for a bad body; bans it at the threshold (a full ban list still bans:
    /// it forgets the ban that ends soonest, [`crate::bans::BanList`]).
    pub fn charge(&mut self, ip: IpAddr, verdict: Verdict, now: Instant) {
        if self.charged.len() >= MAX_ADDRESSES {
            let (scores, bans) = (&self.scores, &self.bans);
            self.charged
                .retain(|a| bans.is_banned(*a, now) || scores.score(&a.to_string(), now) != 0.0);
        }
        if self.charged.len() < MAX_ADDRESSES {
            self.charged.insert(ip);
        }
        if let ScoreOutcome::Ban(until) = self.scores.record(&ip.to_string(), verdict, now) {
            tracing::warn!(%ip, ?verdict, "address banned");
            self.bans.ban(ip, until, now);
        }
    }

    /// Whether `ip` is banned now.
    pub fn is_banned(&self, ip: IpAddr, now: Instant) -> bool {
        self.bans.is_banned(ip, now)
    }

    /// Number of addresses banned (some bans may have ended).
    pub fn bans_held(&self) -> usize {
        self.bans.len()
    }

    /// Every address charged so far (score now, and whether it is banned).
    pub fn scores(&self, now: Instant) -> Vec<AddressScore> {
        let mut out: Vec<AddressScore> = self
            .charged
            .iter()
            .map(|ip| AddressScore {
                address: *ip,
                score: self.scores.score(&ip.to_string(), now),
                banned: self.bans.is_banned(*ip, now),
            })
            .collect();
        // Addresses banned on the other transport (never charged here) too.
        out.extend(
            self.bans
                .in_force(now)
                .into_iter()
                .filter(|(ip, _)| !self.charged.contains(ip))
                .map(|(ip, _)| AddressScore {
                    address: ip,
                    score: self.scores.score(&ip.to_string(), now),
                    banned: true,
                }),
        );
        out.sort_by(|a, b| a.score.total_cmp(&b.score));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::identity::Identity;
    use doin_primitives::models::payload::{OptimaeCommit, Payload};
    use doin_primitives::value::Map;
    use doin_primitives::Timestamp;

    fn message(at_micros: i64) -> Message {
        Message::new(
            "0".repeat(40),
            Timestamp::from_unix_micros(at_micros),
            &Payload::from(OptimaeCommit {
                commitment_hash: "c".repeat(64),
                domain_id: "quadratic".into(),
                extra: Map::new(),
            }),
        )
    }

    fn signed(at_micros: i64) -> Message {
        let id = Identity::generate();
        let mut m = message(at_micros);
        m.sender_id = id.peer_id().to_string();
        m.sign(&id);
        m
    }

    #[test]
    fn seals_and_ages_are_checked() {
        let c = AdmissionConfig::default();
        let now = 1_800_000_000_000_000;
        assert_eq!(check_message(&signed(now), now, &c), Ok(()));
        assert_eq!(
            check_message(&message(now), now, &c),
            Err(Refusal::Unsigned)
        );
        let lenient = AdmissionConfig {
            require_seals: false,
            ..c.clone()
        };
        assert_eq!(check_message(&message(now), now, &lenient), Ok(()));
        let mut forged = signed(now);
        forged.sender_id = "f".repeat(40);
        assert!(matches!(
            check_message(&forged, now, &lenient),
            Err(Refusal::BadSeal(_))
        ));
        let old = signed(now - 61_000_000);
        assert!(matches!(
            check_message(&old, now, &c),
            Err(Refusal::Stale { age_secs: 61, .. })
        ));
        assert!(check_message(&signed(now - 59_000_000), now, &c).is_ok());
        assert!(matches!(
            check_message(&signed(now + 61_000_000), now, &c),
            Err(Refusal::FromTheFuture { .. })
        ));
    }

    #[test]
    fn bad_addresses_are_banned_and_rates_bounded() {
        let c = AdmissionConfig {
            address_burst: 3,
            address_per_second: 1.0,
            ..AdmissionConfig::default()
        };
        let t0 = Instant::now();
        let mut g = AddressGuard::new(&c, AddressBans::default());
        let bad: IpAddr = [127, 0, 0, 2].into();
        let good: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..2 {
            g.charge(bad, Verdict::InvalidSignature, t0);
            assert_eq!(g.gate(bad, t0), Gate::Open);
        }
        g.charge(bad, Verdict::InvalidSignature, t0);
        assert_eq!(g.gate(bad, t0), Gate::Banned);
        assert_eq!(g.gate(good, t0), Gate::Open);
        assert!(g.scores(t0).iter().any(|a| a.address == bad && a.banned));
        assert_eq!(g.gate(bad, t0 + Duration::from_secs(1801)), Gate::Open);
        // Three bodies at once, then the fourth is over the rate.
        let other: IpAddr = [127, 0, 0, 3].into();
        for _ in 0..3 {
            assert_eq!(g.gate(other, t0), Gate::Open);
        }
        assert_eq!(g.gate(other, t0), Gate::RateLimited);
        assert!(g
            .scores(t0)
            .iter()
            .any(|a| a.address == other && a.score < 0.0));
    }

    #[test]
    fn the_guard_keeps_banning_past_its_table_size() {
        let t0 = Instant::now();
        let mut g = AddressGuard::new(&AdmissionConfig::default(), AddressBans::default());
        // Twice as many bad addresses as the table holds: each is banned as it earns it.
        for i in 0..(2 * MAX_ADDRESSES as u32) {
            let ip = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
            for _ in 0..3 {
                g.charge(ip, Verdict::InvalidSignature, t0);
            }
            assert_eq!(g.gate(ip, t0), Gate::Banned, "address {i}");
        }
        assert!(g.bans_held() <= MAX_ADDRESSES);
    }
}
