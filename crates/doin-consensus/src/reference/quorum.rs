//! Quorum selection and decision as the reference's `QuorumManager` computes them.
//!
//! Selection: drop every eligible entry equal to the optimizer (order and duplicates of
//! the rest kept), `k = min(min_evaluators, len)`, seed
//! `sha256_hex(f"{chain_tip_hash}:{optimae_id}")`, score each candidate
//! `sha256_hex(f"{seed}:{candidate}")`, sort the `(score, candidate)` pairs ascending and
//! take the first `k`.
//!
//! Decision: median of the votes (`statistics.median`), each vote agrees when its relative
//! divergence from the median is within the tolerance, and the optimae is accepted when
//! `agree_fraction >= quorum_fraction` and the reported performance is itself within the
//! tolerance of the median.
//!
//! Reference behaviour kept here, and fixed by DOIN's own rules elsewhere:
//! * the default `quorum_fraction` is `0.67`, not two thirds: with three evaluators, two
//!   agreeing votes (`0.6666…`) are rejected, with the reason text
//!   `"quorum disagreement (67% < 67%)"`;
//! * the seed depends only on the chain tip and the optimae id, both of which a block
//!   producer or optimizer can grind;
//! * a duplicate evaluator id in the votes counts once in `agreements` (last vote wins)
//!   but every vote counts in the denominator of `agree_fraction`.

use std::cmp::Ordering;

use doin_primitives::hash::sha256_hex;

use super::python::format_percent;

/// The reference's default number of evaluators per quorum.
pub const DEFAULT_MIN_EVALUATORS: usize = 3;
/// The reference's default agreeing fraction (0.67, not 2/3).
pub const DEFAULT_QUORUM_FRACTION: f64 = 0.67;
/// The reference's default relative tolerance around the median.
pub const DEFAULT_TOLERANCE: f64 = 0.05;
/// Below this magnitude a median counts as zero and divergences are absolute.
pub const MEDIAN_ZERO_EPSILON: f64 = 1e-10;

/// The selection seed: `sha256_hex(f"{chain_tip_hash}:{optimae_id}")`.
pub fn quorum_seed(chain_tip_hash: &str, optimae_id: &str) -> String {
    sha256_hex(format!("{chain_tip_hash}:{optimae_id}"))
}

/// The reference's `select_evaluators`: the `min_evaluators` lowest-scoring eligible peers
/// other than the optimizer.
pub fn select_evaluators<S: AsRef<str>>(
    optimae_id: &str,
    optimizer_id: &str,
    eligible: &[S],
    chain_tip_hash: &str,
    min_evaluators: usize,
) -> Vec<String> {
    let candidates: Vec<&str> = eligible
        .iter()
        .map(AsRef::as_ref)
        .filter(|e| *e != optimizer_id)
        .collect();
    if candidates.is_empty() {
        return Vec::new();
    }
    let k = min_evaluators.min(candidates.len());
    let seed = quorum_seed(chain_tip_hash, optimae_id);
    let mut scored: Vec<(String, &str)> = candidates
        .into_iter()
        .map(|c| (sha256_hex(format!("{seed}:{c}")), c))
        .collect();
    scored.sort_unstable();
    scored
        .into_iter()
        .take(k)
        .map(|(_, c)| c.to_owned())
        .collect()
}

/// One evaluator's verification result.
#[derive(Debug, Clone, PartialEq)]
pub struct Vote {
    /// The evaluator.
    pub evaluator_id: String,
    /// The performance it measured.
    pub verified_performance: f64,
}

impl Vote {
    /// A vote.
    pub fn new(evaluator_id: impl Into<String>, verified_performance: f64) -> Self {
        Vote {
            evaluator_id: evaluator_id.into(),
            verified_performance,
        }
    }
}

/// The reference's `QuorumResult` (the fields it fills).
#[derive(Debug, Clone, PartialEq)]
pub struct QuorumOutcome {
    /// Whether the optimae is accepted.
    pub accepted: bool,
    /// The reference's reason text.
    pub reason: String,
    /// The median verified performance (`None` without votes).
    pub median: Option<f64>,
    /// Divergence of the reported performance from the median (`None` without votes).
    pub report_divergence: Option<f64>,
    /// Agreeing evaluators over votes (`None` without votes).
    pub agree_fraction: Option<f64>,
    /// Per evaluator, whether it agreed, in first-vote order (a Python dict).
    pub agreements: Vec<(String, bool)>,
}

/// Python's `statistics.median` of `values` (`None` when empty): the middle value of the
/// sorted list, or the mean of the two middle values.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    // Python's stable sort with `<`: equal values (including -0.0 and 0.0) keep their order.
    sorted.sort_by(|a, b| {
        if a == b {
            Ordering::Equal
        } else {
            a.total_cmp(b)
        }
    });
    let n = sorted.len();
    let i = n / 2;
    Some(if n % 2 == 1 {
        sorted[i]
    } else {
        (sorted[i - 1] + sorted[i]) / 2.0
    })
}

/// `|value - median| / |median|`, or `|value - median|` when the median is about zero.
pub fn divergence(value: f64, median: f64) -> f64 {
    if median.abs() > MEDIAN_ZERO_EPSILON {
        (value - median).abs() / median.abs()
    } else {
        (value - median).abs()
    }
}

/// The reference's `evaluate_quorum` over the votes received, in order.
pub fn evaluate_quorum(
    votes: &[Vote],
    reported: f64,
    quorum_fraction: f64,
    tolerance: f64,
) -> QuorumOutcome {
    let perfs: Vec<f64> = votes.iter().map(|v| v.verified_performance).collect();
    let Some(median) = median(&perfs) else {
        return QuorumOutcome {
            accepted: false,
            reason: "no votes".to_owned(),
            median: None,
            report_divergence: None,
            agree_fraction: None,
            agreements: Vec::new(),
        };
    };

    let mut agreements: Vec<(String, bool)> = Vec::with_capacity(votes.len());
    for v in votes {
        let agrees = divergence(v.verified_performance, median) <= tolerance;
        match agreements.iter_mut().find(|(id, _)| *id == v.evaluator_id) {
            Some(slot) => slot.1 = agrees,
            None => agreements.push((v.evaluator_id.clone(), agrees)),
        }
    }
    let agree_count = agreements.iter().filter(|(_, a)| *a).count();
    let agree_fraction = agree_count as f64 / votes.len() as f64;

    let report_divergence = divergence(reported, median);
    let report_matches = report_divergence <= tolerance;
    let fraction_ok = agree_fraction >= quorum_fraction;
    let accepted = fraction_ok && report_matches;

    let reason = if accepted {
        "accepted".to_owned()
    } else if !fraction_ok {
        format!(
            "quorum disagreement ({} < {})",
            format_percent(agree_fraction, 0),
            format_percent(quorum_fraction, 0)
        )
    } else {
        format!(
            "report diverges from median ({} > {})",
            format_percent(report_divergence, 2),
            format_percent(tolerance, 0)
        )
    };

    QuorumOutcome {
        accepted,
        reason,
        median: Some(median),
        report_divergence: Some(report_divergence),
        agree_fraction: Some(agree_fraction),
        agreements,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_selection() {
        let eligible = ["eval-1", "eval-2", "eval-3", "eval-4"];
        assert_eq!(
            quorum_seed("tip", "opt-1"),
            "c2cb103d0ebca849d7f8ddfa900ec448950d5a726f39eebf107fc8e1bd4ca7cc"
        );
        assert_eq!(
            select_evaluators("opt-1", "someone", &eligible, "tip", 3),
            ["eval-4", "eval-2", "eval-1"]
        );
        assert!(select_evaluators("opt-1", "x", &["x", "x"], "tip", 3).is_empty());
    }

    #[test]
    fn two_of_three_is_rejected() {
        let votes = [
            Vote::new("a", 1.0),
            Vote::new("b", 1.0),
            Vote::new("c", 2.0),
        ];
        let out = evaluate_quorum(&votes, 1.0, DEFAULT_QUORUM_FRACTION, DEFAULT_TOLERANCE);
        assert!(!out.accepted);
        assert_eq!(out.reason, "quorum disagreement (67% < 67%)");
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        let m = median(&[0.0, -0.0, 0.0]).map(f64::to_bits);
        assert_eq!(m, Some((-0.0f64).to_bits()), "stable like Python's sort");
    }

    #[test]
    fn duplicate_voter_counts_once_in_agreements() {
        let votes = [
            Vote::new("a", 1.0),
            Vote::new("a", 1.0),
            Vote::new("b", 9.0),
        ];
        let out = evaluate_quorum(&votes, 1.0, 0.5, 0.05);
        assert_eq!(
            out.agreements,
            vec![("a".into(), true), ("b".into(), false)]
        );
        assert_eq!(out.agree_fraction, Some(1.0 / 3.0));
    }
}
