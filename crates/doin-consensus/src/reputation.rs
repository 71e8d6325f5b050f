//! Reputation: integer micro-points per peer, earned and lost by on-chain events and decayed
//! by chain time (header timestamps), never by a node's clock.
//!
//! Events, applied at the including block's timestamp after decaying to it:
//! optimae accepted `+1.0`; optimae rejected `-3.0`; evaluator vote agreeing with the
//! quorum median `+0.4`; divergent vote `-2.0`. Scores never go below 0.

use crate::params::{ChainParams, MICROS_PER_POINT};

/// Score a peer has gained or lost, in micro-points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reputation {
    /// The score at `last_update_micros`, in micro-points.
    pub score: u64,
    /// Chain time (µs) the score was last decayed to.
    pub last_update_micros: i64,
}

/// An on-chain event that changes a reputation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReputationEvent {
    /// The peer's optimae was accepted: `+1.0`.
    OptimaeAccepted,
    /// The peer's optimae was rejected: `-3.0`.
    OptimaeRejected,
    /// The peer's vote agreed with the quorum median: `+0.4`.
    VoteAgreed,
    /// The peer's vote diverged from the quorum median: `-2.0`.
    VoteDivergent,
}

impl ReputationEvent {
    /// The change in micro-points (positive or negative).
    pub fn delta_micro(self) -> i64 {
        match self {
            ReputationEvent::OptimaeAccepted => 1_000_000,
            ReputationEvent::OptimaeRejected => -3_000_000,
            ReputationEvent::VoteAgreed => 400_000,
            ReputationEvent::VoteDivergent => -2_000_000,
        }
    }
}

/// The score after `elapsed_micros` of chain time with half-life `half_life_secs`.
///
/// Exact in integers: with `H` the half-life in µs, `k = elapsed / H`, `r = elapsed % H`,
/// `decayed = (score >> k) * (2H - r) / (2H)`. At whole half-lives this is an exact
/// halving; between them it falls linearly from `score >> k` to `(score >> k) / 2`, a
/// piecewise-linear curve through the points of `score * 2^(-t/H)` (it lies slightly
/// below the exponential between halvings). A non-positive elapsed time changes nothing.
pub fn decay(score: u64, elapsed_micros: i64, half_life_secs: u64) -> u64 {
    if elapsed_micros <= 0 || half_life_secs == 0 {
        return score;
    }
    let h = u128::from(half_life_secs) * 1_000_000;
    let elapsed = elapsed_micros as u128;
    let k = elapsed / h;
    if k >= 64 {
        return 0;
    }
    let r = elapsed % h;
    let halved = u128::from(score >> k);
    (halved * (2 * h - r) / (2 * h)) as u64
}

/// The reputation decayed to `at_micros` (earlier times change nothing).
pub fn decayed_to(rep: &Reputation, at_micros: i64, half_life_secs: u64) -> Reputation {
    if at_micros <= rep.last_update_micros {
        return *rep;
    }
    Reputation {
        score: decay(
            rep.score,
            at_micros - rep.last_update_micros,
            half_life_secs,
        ),
        last_update_micros: at_micros,
    }
}

/// Applies `event` at chain time `at_micros`: decay first, then add or subtract (floor 0).
pub fn apply_event(
    rep: &Reputation,
    event: ReputationEvent,
    at_micros: i64,
    half_life_secs: u64,
) -> Reputation {
    let mut r = decayed_to(rep, at_micros, half_life_secs);
    let delta = event.delta_micro();
    r.score = if delta >= 0 {
        r.score.saturating_add(delta.unsigned_abs())
    } else {
        r.score.saturating_sub(delta.unsigned_abs())
    };
    r
}

/// Reputation at which an optimizer's increments count in full: 10 points.
pub const FULL_WEIGHT_SCORE: u64 = 10 * MICROS_PER_POINT;

/// The weight scaling of an optimizer's increment:
/// `0.5 + 0.5 * min(score, 10 points) / 10 points` (a new peer counts half).
pub fn rep_factor(score_micro: u64) -> f64 {
    0.5 + 0.5 * (score_micro.min(FULL_WEIGHT_SCORE) as f64 / FULL_WEIGHT_SCORE as f64)
}

/// Whether a score reaches the chain's minimum reputation for consensus duties.
pub fn meets_minimum(score_micro: u64, params: &ChainParams) -> bool {
    score_micro >= params.min_reputation_micro
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 604_800;
    const HM: i64 = 604_800 * 1_000_000;

    #[test]
    fn decay_halves_exactly_at_each_half_life() {
        assert_eq!(decay(8_000_000, HM, H), 4_000_000);
        assert_eq!(decay(8_000_000, 2 * HM, H), 2_000_000);
        assert_eq!(decay(8_000_000, 3 * HM, H), 1_000_000);
        assert_eq!(decay(8_000_000, 64 * HM, H), 0);
        assert_eq!(decay(8_000_000, 0, H), 8_000_000);
        assert_eq!(decay(8_000_000, -5, H), 8_000_000);
    }

    #[test]
    fn decay_is_linear_between_halvings() {
        // Half way through the first half-life: 8 * (2H - H/2) / 2H = 6.
        assert_eq!(decay(8_000_000, HM / 2, H), 6_000_000);
        assert_eq!(decay(8_000_000, HM + HM / 2, H), 3_000_000);
        assert_eq!(
            decay(u64::MAX, 1, H),
            u64::MAX - u64::MAX / (2 * HM as u64) - 1
        );
    }

    #[test]
    fn events_apply_after_decay_with_floor_zero() {
        let r = Reputation::default();
        let r = apply_event(&r, ReputationEvent::OptimaeAccepted, 0, H);
        assert_eq!(r.score, 1_000_000);
        let r = apply_event(&r, ReputationEvent::VoteAgreed, HM, H);
        assert_eq!(r.score, 500_000 + 400_000);
        assert_eq!(r.last_update_micros, HM);
        let r = apply_event(&r, ReputationEvent::VoteDivergent, HM, H);
        assert_eq!(r.score, 0);
        let r = apply_event(&r, ReputationEvent::OptimaeRejected, HM, H);
        assert_eq!(r.score, 0);
    }

    #[test]
    fn rep_factor_runs_from_half_to_one() {
        assert_eq!(rep_factor(0), 0.5);
        assert_eq!(rep_factor(5_000_000), 0.75);
        assert_eq!(rep_factor(10_000_000), 1.0);
        assert_eq!(rep_factor(u64::MAX), 1.0);
    }

    #[test]
    fn minimum_is_two_points_by_default() {
        let p = ChainParams::solo_default();
        assert!(!meets_minimum(1_999_999, &p));
        assert!(meets_minimum(2_000_000, &p));
    }
}
