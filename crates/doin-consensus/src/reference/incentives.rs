//! The reference's verification incentive (`consensus/incentives.py`): how much of an
//! optimae's increment is credited, given the performance the optimizer reported and the
//! one the quorum verified.
//!
//! With `gap = reported - verified` (or `verified - reported` when lower is better) taken
//! relative to `|reported|` (absolute when `|reported| <= 1e-10`):
//! * verified better (`gap < 0`): a bonus rising linearly to `max_bonus_multiplier` at
//!   `bonus_threshold`, capped beyond;
//! * equal (`gap <= 1e-10`): `1.0`;
//! * worse within `tolerance_margin` (+1e-9): falling linearly to `min_reward_fraction`;
//! * worse beyond: `0.0`.
//!
//! Reference behaviour kept here: a `tolerance_margin` of zero divides by zero for gaps in
//! `(1e-10, 1e-9]` (Python raises `ZeroDivisionError`; this returns a non-finite or negative
//! fraction), and a verified result far better than reported still earns the capped bonus,
//! so under-reporting pays.

use super::python::{format_fixed, format_percent};

/// Below this magnitude the reported performance counts as zero and the gap is absolute.
pub const REPORTED_ZERO_EPSILON: f64 = 1e-10;

/// The reference's `IncentiveConfig`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IncentiveConfig {
    /// Whether higher performance is better (accuracy) or lower (loss).
    pub higher_is_better: bool,
    /// How much worse (relative) verified may be and still earn a partial reward.
    pub tolerance_margin: f64,
    /// How much better (relative) verified may be before the bonus is capped.
    pub bonus_threshold: f64,
    /// The fraction paid at exactly `tolerance_margin` worse.
    pub min_reward_fraction: f64,
    /// The largest multiplier for a verified result better than reported.
    pub max_bonus_multiplier: f64,
}

impl Default for IncentiveConfig {
    fn default() -> Self {
        IncentiveConfig {
            higher_is_better: true,
            tolerance_margin: 0.10,
            bonus_threshold: 0.05,
            min_reward_fraction: 0.3,
            max_bonus_multiplier: 1.2,
        }
    }
}

/// The relative gap: positive when verified is worse than reported.
pub fn relative_gap(reported: f64, verified: f64, higher_is_better: bool) -> f64 {
    let gap = if higher_is_better {
        reported - verified
    } else {
        verified - reported
    };
    let abs_reported = reported.abs();
    if abs_reported > REPORTED_ZERO_EPSILON {
        gap / abs_reported
    } else {
        gap
    }
}

/// The reference's `compute_reward_fraction`.
pub fn compute_reward_fraction(reported: f64, verified: f64, cfg: &IncentiveConfig) -> f64 {
    let rg = relative_gap(reported, verified, cfg.higher_is_better);
    if rg < 0.0 {
        let bonus_fraction = rg.abs();
        if bonus_fraction <= cfg.bonus_threshold {
            let t = if cfg.bonus_threshold > 0.0 {
                bonus_fraction / cfg.bonus_threshold
            } else {
                0.0
            };
            return 1.0 + t * (cfg.max_bonus_multiplier - 1.0);
        }
        return cfg.max_bonus_multiplier;
    }
    if rg <= 1e-10 {
        return 1.0;
    }
    if rg <= cfg.tolerance_margin + 1e-9 {
        let t = rg / cfg.tolerance_margin;
        return 1.0 - t * (1.0 - cfg.min_reward_fraction);
    }
    0.0
}

/// The reference's `compute_effective_reward`: `raw * weight * reputation * fraction`.
pub fn compute_effective_reward(
    raw_increment: f64,
    domain_weight: f64,
    reputation_factor: f64,
    reward_fraction: f64,
) -> f64 {
    raw_increment * domain_weight * reputation_factor * reward_fraction
}

/// The reference's `VerificationIncentiveResult`.
#[derive(Debug, Clone, PartialEq)]
pub struct VerificationIncentive {
    /// The fraction of the increment credited.
    pub reward_fraction: f64,
    /// The relative gap (positive: verified worse than reported).
    pub relative_gap: f64,
    /// What the optimizer reported.
    pub reported_performance: f64,
    /// What the quorum verified.
    pub verified_performance: f64,
    /// Whether the gap is within the tolerance margin (+1e-9).
    pub within_tolerance: bool,
    /// The increment credited toward the block threshold.
    pub effective_increment: f64,
    /// The reference's reason text (copied into `optimae_accepted` payloads).
    pub reason: String,
}

impl VerificationIncentive {
    /// Whether anything is credited (`reward_fraction > 0`).
    pub fn is_accepted(&self) -> bool {
        self.reward_fraction > 0.0
    }
}

/// The reference's `evaluate_verification_incentive`.
pub fn evaluate_verification_incentive(
    reported: f64,
    verified: f64,
    raw_increment: f64,
    domain_weight: f64,
    reputation_factor: f64,
    cfg: &IncentiveConfig,
) -> VerificationIncentive {
    let reward = compute_reward_fraction(reported, verified, cfg);
    let rg = relative_gap(reported, verified, cfg.higher_is_better);
    let within_tolerance = rg <= cfg.tolerance_margin + 1e-9;
    let effective =
        compute_effective_reward(raw_increment, domain_weight, reputation_factor, reward);
    let reason = if reward == 0.0 {
        format!(
            "rejected: gap {} exceeds tolerance {}",
            format_percent(rg, 2),
            format_percent(cfg.tolerance_margin, 0)
        )
    } else if reward < 1.0 {
        format!(
            "partial reward {}: gap {} within tolerance",
            format_fixed(reward, 2),
            format_percent(rg, 2)
        )
    } else if reward == 1.0 {
        "full reward: verified matches reported".to_owned()
    } else {
        format!(
            "bonus {}: verified exceeds reported by {}",
            format_fixed(reward, 2),
            format_percent(rg.abs(), 2)
        )
    };
    VerificationIncentive {
        reward_fraction: reward,
        relative_gap: rg,
        reported_performance: reported,
        verified_performance: verified,
        within_tolerance,
        effective_increment: effective,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_values() {
        let c = IncentiveConfig::default();
        for (r, v, want) in [
            (-0.5, -0.5, 1.0),
            (-0.5, -0.525, 0.6499999999999997),
            (-0.5, -0.55, 0.2999999999999994),
            (-0.5, -0.5500001, 0.0),
            (-0.5, -0.48, 1.1600000000000001),
            (-0.5, -0.3, 1.2),
            (0.0, -0.01, 0.93),
            (0.0, 0.01, 1.04),
        ] {
            assert_eq!(compute_reward_fraction(r, v, &c), want, "({r}, {v})");
        }
        let x = evaluate_verification_incentive(-0.5, -0.52, 0.05, 1.0, 0.8, &c);
        assert_eq!(x.reward_fraction, 0.7199999999999998);
        assert_eq!(x.relative_gap, 0.040000000000000036);
        assert_eq!(x.effective_increment, 0.028799999999999996);
        assert_eq!(x.reason, "partial reward 0.72: gap 4.00% within tolerance");
        assert!(x.is_accepted() && x.within_tolerance);
    }
}
