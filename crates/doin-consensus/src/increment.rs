//! Increments: how much an accepted optimae counts toward the block threshold.
//!
//! The raw increment measures the verified improvement over the domain's best verified
//! performance on chain; the effective increment weights it by the domain, the optimizer's
//! reputation and the verification incentive.

use crate::params::DomainParams;
use crate::reference::incentives::compute_reward_fraction;

/// The largest raw increment one optimae can earn.
pub const MAX_RAW_INCREMENT: f64 = 1.0;

/// The raw increment of a verified performance `measured` against the domain's best so far.
///
/// No best yet → `1.0`. Otherwise the relative improvement
/// `(measured - best) / max(|best|, 1.0)` (negated when lower is better), capped at `1.0`.
/// `None` when it is not an improvement (`<= 0`): such an optimae is rejected.
pub fn raw_increment(measured: f64, best: Option<f64>, higher_is_better: bool) -> Option<f64> {
    let Some(best) = best else {
        return Some(MAX_RAW_INCREMENT);
    };
    let gain = if higher_is_better {
        measured - best
    } else {
        best - measured
    };
    let rel = gain / best.abs().max(1.0);
    (rel > 0.0).then_some(rel.min(MAX_RAW_INCREMENT))
}

/// The reference's reward fraction for a reported versus verified performance in a domain;
/// an optimae needs a fraction `> 0`.
pub fn reward_fraction(reported: f64, verified: f64, domain: &DomainParams) -> f64 {
    compute_reward_fraction(reported, verified, &domain.incentive_config())
}

/// `raw × domain weight × rep_factor × reward_fraction`.
pub fn effective_increment(
    raw: f64,
    domain_weight: f64,
    rep_factor: f64,
    reward_fraction: f64,
) -> f64 {
    raw * domain_weight * rep_factor * reward_fraction
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_optimae_of_a_domain_counts_one() {
        assert_eq!(raw_increment(-123.0, None, true), Some(1.0));
    }

    #[test]
    fn relative_improvement_with_unit_floor_and_cap() {
        assert_eq!(raw_increment(-0.5, Some(-0.75), true), Some(0.25));
        assert_eq!(raw_increment(-4.0, Some(-8.0), true), Some(0.5));
        assert_eq!(raw_increment(0.25, Some(0.5), false), Some(0.25));
        assert_eq!(raw_increment(10.0, Some(0.0), true), Some(1.0));
    }

    #[test]
    fn no_improvement_is_none() {
        assert_eq!(raw_increment(0.5, Some(0.5), true), None);
        assert_eq!(raw_increment(0.4, Some(0.5), true), None);
        assert_eq!(raw_increment(0.6, Some(0.5), false), None);
    }

    #[test]
    fn effective_multiplies_the_four_factors() {
        assert_eq!(effective_increment(0.5, 2.0, 0.5, 0.8), 0.4);
        let d = DomainParams::new("d", true);
        assert_eq!(reward_fraction(-0.5, -0.5, &d), 1.0);
        assert_eq!(reward_fraction(-0.5, -0.5500001, &d), 0.0);
        let lower = DomainParams::new("d", false);
        assert_eq!(
            reward_fraction(0.5, 0.45, &lower),
            reward_fraction(-0.5, -0.45, &d)
        );
    }
}
