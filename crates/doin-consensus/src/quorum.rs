//! Quorum selection and decision.
//!
//! **Selection.** The seed is `sha256_hex("{seed_block_hash}:{domain_id}")`, where
//! `seed_block_hash` is the hash of the block at the optimizer's `commit_height`: chain data
//! only. Nothing the optimizer chooses freely enters it: not its optimae id (the reference
//! seeds from it), not its commitment or nonce (which it could re-draw at will until the
//! quorum suits it), not its peer id (it could hold many keys). Its one choice is the commit
//! height, one of the last `max_commit_age_blocks` blocks, so it can pick among at most that
//! many quorums. Candidates (deduplicated, optimizer excluded) are scored
//! `sha256_hex("{seed}:{candidate}")` and the `k` lowest are the quorum, as the reference
//! orders them; every node computes the same list from the same chain.
//!
//! **Solo rule.** With `quorum_min_evaluators == 0` the quorum is exactly `[optimizer]`:
//! the lone node verifies its own optimae on independently seeded synthetic data.
//!
//! **Decision.** The votes that count are the quorum members' ([`counted_votes`]); the
//! median is theirs; a vote agrees when its divergence from the median is within the
//! tolerance (relative; absolute when `|median| <= 1e-10`); accepted when
//! `3 * agree >= 2 * n` over the counted votes (exactly two thirds, where the reference's
//! `0.67` rejects two of three) and the reported performance is itself within the tolerance
//! of the median. A young chain's extra votes are judged against that median (for
//! reputation and pay) but never move it.

use std::collections::BTreeSet;

use doin_primitives::hash::sha256_hex;

use crate::reference::quorum::{divergence, median};
use crate::reference::seeds::derive_seed;

/// The quorum selection seed: `sha256_hex("{seed_block_hash}:{domain_id}")` (chain data
/// only; see the module doc).
pub fn selection_seed(seed_block_hash: &str, domain_id: &str) -> String {
    sha256_hex(format!("{seed_block_hash}:{domain_id}"))
}

/// The selection seed of a stalled chain: after `stall_periods` (≥ 1) whole stall periods
/// without a block, `sha256_hex("{seed}:stall:{stall_periods}")`. Each further period draws
/// a new quorum, so an evaluator that is ranked first and dead cannot hold a stalled chain
/// for good (a plain seed would pick it again on every try until the next block).
pub fn stalled_selection_seed(seed: &str, stall_periods: i64) -> String {
    sha256_hex(format!("{seed}:stall:{stall_periods}"))
}

/// The quorum for an optimae: `[optimizer]` on a solo chain, otherwise the
/// `quorum_min_evaluators` eligible peers (deduplicated, optimizer excluded) with the lowest
/// `sha256_hex("{seed}:{candidate}")`, ascending. Fewer candidates → all of them. No
/// candidate at all → `[optimizer]` (a chain with no other peer on it yet runs solo; see
/// [`crate::state::ChainState::eligible_evaluators`]).
pub fn select_quorum<S: AsRef<str>>(
    seed: &str,
    optimizer_id: &str,
    eligible: &[S],
    quorum_min_evaluators: u32,
) -> Vec<String> {
    if quorum_min_evaluators == 0 {
        return vec![optimizer_id.to_owned()];
    }
    let candidates: BTreeSet<&str> = eligible
        .iter()
        .map(AsRef::as_ref)
        .filter(|e| *e != optimizer_id)
        .collect();
    if candidates.is_empty() {
        return vec![optimizer_id.to_owned()];
    }
    let mut scored: Vec<(String, &str)> = candidates
        .into_iter()
        .map(|c| (sha256_hex(format!("{seed}:{c}")), c))
        .collect();
    scored.sort_unstable();
    scored
        .into_iter()
        .take(quorum_min_evaluators as usize)
        .map(|(_, c)| c.to_owned())
        .collect()
}

/// An evaluator's synthetic-data seed, the reference's per-evaluator rule:
/// `derive_seed(commitment_hash, domain_id, "{evaluator_id}:{seed_block_hash}")`.
pub fn synthetic_seed(
    commitment_hash: &str,
    domain_id: &str,
    evaluator_id: &str,
    seed_block_hash: &str,
) -> u64 {
    u64::from(derive_seed(
        commitment_hash,
        domain_id,
        &format!("{evaluator_id}:{seed_block_hash}"),
    ))
}

/// Whether a performance agrees with the median within `tolerance`.
pub fn agrees(value: f64, median: f64, tolerance: f64) -> bool {
    divergence(value, median) <= tolerance
}

/// Whether `agree` of `n` votes is a two-thirds majority: `3 * agree >= 2 * n`, `n > 0`.
pub fn is_two_thirds(agree: usize, n: usize) -> bool {
    n > 0 && 3 * agree >= 2 * n
}

/// The outcome of a quorum's votes.
#[derive(Debug, Clone, PartialEq)]
pub struct QuorumDecision {
    /// Median verified performance.
    pub median: f64,
    /// Per vote, in order, whether it agrees with the median.
    pub agreements: Vec<bool>,
    /// Number of agreeing votes among the counted ones.
    pub agree_count: usize,
    /// Number of counted (deciding) votes.
    pub counted: usize,
    /// Divergence of the reported performance from the median.
    pub report_divergence: f64,
    /// Whether the optimae is accepted.
    pub accepted: bool,
}

impl QuorumDecision {
    /// The reference's `quorum_agree_fraction`: agreeing votes over deciding votes.
    pub fn agree_fraction(&self) -> f64 {
        self.agree_count as f64 / self.counted.max(1) as f64
    }
}

/// Which votes decide, in vote order: those of the quorum's members. While the quorum is the
/// optimizer alone (nobody else eligible yet: the bootstrap of a young chain) every vote
/// counts, so that other nodes' votes can still overrule it. Extra votes from outside a
/// quorum of other peers never decide: a young chain admits them from anyone (so that new
/// evaluators get on chain), and anyone may hold many keys.
pub fn counted_votes<S: AsRef<str>>(
    quorum: &[String],
    optimizer_id: &str,
    voters: &[S],
) -> Vec<bool> {
    let self_verified = quorum.len() == 1 && quorum[0] == optimizer_id;
    voters
        .iter()
        .map(|v| self_verified || quorum.iter().any(|q| q == v.as_ref()))
        .collect()
}

/// Decides a quorum from its votes' performances (in vote order), every vote counted;
/// `None` without votes.
pub fn decide(performances: &[f64], reported: f64, tolerance: f64) -> Option<QuorumDecision> {
    decide_counted(
        performances,
        &vec![true; performances.len()],
        reported,
        tolerance,
    )
}

/// Decides from the votes' performances where only those with `counted` set decide (see
/// [`counted_votes`]): their median, their two-thirds agreement, the report within the
/// tolerance of the median; every vote's agreement is judged against that median. `None`
/// without a counted vote.
pub fn decide_counted(
    performances: &[f64],
    counted: &[bool],
    reported: f64,
    tolerance: f64,
) -> Option<QuorumDecision> {
    let deciding: Vec<f64> = performances
        .iter()
        .zip(counted)
        .filter(|(_, c)| **c)
        .map(|(p, _)| *p)
        .collect();
    let median = median(&deciding)?;
    let agreements: Vec<bool> = performances
        .iter()
        .map(|p| agrees(*p, median, tolerance))
        .collect();
    let agree_count = deciding
        .iter()
        .filter(|p| agrees(**p, median, tolerance))
        .count();
    let report_divergence = divergence(reported, median);
    let accepted = is_two_thirds(agree_count, deciding.len()) && report_divergence <= tolerance;
    Some(QuorumDecision {
        median,
        agreements,
        agree_count,
        counted: deciding.len(),
        report_divergence,
        accepted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solo_rule_is_the_optimizer_alone() {
        assert_eq!(select_quorum("s", "me", &["a", "b"], 0), ["me"]);
        assert_eq!(select_quorum::<&str>("s", "me", &[], 3), ["me"]);
        assert_eq!(select_quorum("s", "me", &["me"], 3), ["me"]);
    }

    #[test]
    fn selection_orders_like_the_reference_and_dedupes() {
        // Same scoring as the reference vector (seed c2cb…, eval-4, eval-2, eval-1).
        let seed = crate::reference::quorum::quorum_seed("tip", "opt-1");
        let eligible = [
            "eval-1",
            "eval-2",
            "eval-2",
            "eval-3",
            "eval-4",
            "optimizer",
        ];
        assert_eq!(
            select_quorum(&seed, "optimizer", &eligible, 3),
            ["eval-4", "eval-2", "eval-1"]
        );
        assert_eq!(select_quorum(&seed, "optimizer", &eligible, 9).len(), 4);
    }

    #[test]
    fn selection_seed_is_chain_data_only() {
        assert_eq!(selection_seed("b", "d"), sha256_hex("b:d"));
        assert_ne!(selection_seed("b", "d"), selection_seed("b2", "d"));
        assert_ne!(selection_seed("b", "d"), selection_seed("b", "d2"));
    }

    #[test]
    fn each_stall_period_draws_a_new_quorum() {
        let seed = selection_seed("b", "d");
        let first = stalled_selection_seed(&seed, 1);
        assert_eq!(first, sha256_hex(format!("{seed}:stall:1")));
        assert_ne!(first, seed);
        assert_ne!(first, stalled_selection_seed(&seed, 2));
        // Over a few periods, a quorum of one among four rotates through the candidates.
        let eligible = ["a", "b", "c", "d"];
        let drawn: BTreeSet<Vec<String>> = (1..=12)
            .map(|p| select_quorum(&stalled_selection_seed(&seed, p), "me", &eligible, 1))
            .collect();
        assert!(drawn.len() > 1, "{drawn:?}");
    }

    #[test]
    fn synthetic_seed_is_the_reference_rule() {
        assert_eq!(synthetic_seed("h", "d", "eval-1", "tip"), 896_872_616);
    }

    #[test]
    fn two_of_three_is_enough() {
        assert!(is_two_thirds(2, 3));
        assert!(!is_two_thirds(1, 3));
        assert!(is_two_thirds(4, 6));
        assert!(!is_two_thirds(3, 5));
        assert!(!is_two_thirds(0, 0));
        let d = decide(&[1.0, 1.01, 2.0], 1.0, 0.05).expect("votes");
        assert_eq!(d.median, 1.01);
        assert_eq!(d.agreements, [true, true, false]);
        assert!(d.accepted);
    }

    #[test]
    fn extra_votes_never_move_the_decision_of_a_quorum_of_others() {
        let quorum = vec!["x".to_owned()];
        let counted = counted_votes(&quorum, "opt", &["x", "sybil-1", "sybil-2"]);
        assert_eq!(counted, [true, false, false]);
        // Two extra votes back an inflated report of 2.0; the member measured 1.0.
        let d = decide_counted(&[1.0, 2.0, 2.0], &counted, 2.0, 0.05).expect("a member vote");
        assert_eq!(d.median, 1.0);
        assert_eq!(d.agreements, [true, false, false]);
        assert!(!d.accepted);
        // Counted alike, the extra votes would have carried it.
        assert!(decide(&[1.0, 2.0, 2.0], 2.0, 0.05).expect("votes").accepted);
        // While the quorum is the optimizer alone, every vote counts.
        let alone = vec!["opt".to_owned()];
        assert_eq!(counted_votes(&alone, "opt", &["opt", "y"]), [true, true]);
        assert_eq!(decide_counted(&[1.0], &[false], 1.0, 0.05), None);
    }

    #[test]
    fn report_must_match_the_median() {
        let d = decide(&[1.0, 1.0, 1.0], 1.2, 0.05).expect("votes");
        assert!(!d.accepted);
        assert_eq!(decide(&[], 1.0, 0.05), None);
        // |median| <= 1e-10: absolute divergence.
        let d = decide(&[0.0], 0.04, 0.05).expect("votes");
        assert!(d.accepted);
    }
}
