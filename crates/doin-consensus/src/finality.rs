//! Finality: checkpoints at every multiple of `finality_depth`, final once they are
//! `finality_depth` blocks deep **and attested by two thirds of the chain's recent
//! participants**. A node never reorganises below its finalized height.
//!
//! Depth alone is not partition-safe: the two sides of a partition each mint
//! `2 × finality_depth` blocks and finalize different blocks at one height (shown by the
//! simulator, `doin-sim`: `SimConfig::long_partition`, seed 0). So a checkpoint also needs
//! attestations:
//! * a block *attests* the chain below it through its signers ([`attesters_of`]): its
//!   generator (who built on its parent), and each evaluator whose agreeing vote it carries,
//!   up to that optimae's commit height (the vote is bound to the block there, so the voter
//!   held the chain up to it);
//! * a checkpoint records the *weights* of the chain's participants: how many attestations
//!   each made in the `2 × finality_depth` blocks up to it ([`weights_at`]);
//! * checkpoint `c` becomes final when it is `finality_depth` deep and the peers attesting
//!   it in the blocks above it hold more than two thirds of the weights recorded at the
//!   last finalized checkpoint, and are at least [`min_attesters`] of its holders
//!   ([`attested`]).
//!
//! Both sides of a partition share the last finalized checkpoint, hence its weights, and
//! no two disjoint sets of peers both hold more than two thirds of them: at most one side
//! finalizes (a peer attests both sides only if it switched branches, and more than a
//! third of the weight would have to). The side that cannot finalize converges on the
//! finalized one after the heal: fork choice ranks a chain's finalized height first
//! ([`crate::fork_choice::compare`]).
//!
//! A checkpoint of a network chain also needs at least an optimizer and a quorum among its
//! attesters ([`min_attesters`]: `quorum_min_evaluators + 1` distinct peers holding
//! weight). Without it, a young chain's first checkpoint, judged by the weights recorded
//! at that checkpoint itself, was final on any branch one optimizer had minted alone from
//! genesis: its quorums fell back to the solo rule while it was the only peer the branch
//! had seen, so it held all the weight. On a loaded network each optimizer ran such a
//! branch for the few seconds `2 × finality_depth` work blocks take, and two of them
//! finalized different blocks at height 6, for good (issue 17; the simulator's
//! `SimConfig::loaded_network`, seed 0, 64 nodes). Such a branch now finalizes only once
//! other peers generate on it or vote on it, that is once they follow it, and a branch
//! whose weight became one runaway optimizer's never does.
//!
//! Limits, stated: a young chain has no finalized checkpoint to take weights from, so its
//! first checkpoint is still judged by the weights recorded at that checkpoint itself: a
//! partition before the first finalization in which each side holds an optimizer and a
//! quorum (each side's peers attesting its own branch) is not covered; nor are honest
//! peers that attested one branch and then switched to a rival before either finalized
//! (attestations are not locks). Finality waits while more than a third of the weight is
//! offline, or fewer than `quorum_min_evaluators + 1` of its holders are online (safety
//! over liveness), the chain itself still growing. A solo chain (one signer) finalizes
//! exactly as deep as before.

use std::collections::{BTreeMap, VecDeque};

use crate::params::ChainParams;
use crate::state::{ChainState, RecentBlock};
use crate::validate::BlockSummary;

/// Whether height `h` carries a checkpoint (a positive multiple of `depth`; genesis is
/// always final). A depth of 0 makes every block a checkpoint.
pub fn is_checkpoint(h: u64, depth: u64) -> bool {
    match h.checked_rem(depth) {
        None => true,
        Some(rest) => rest == 0,
    }
}

/// Whether a reorganisation to a fork that branches off at `fork_point` (the last common
/// block) is allowed: only if it keeps the finalized block, `fork_point >= finalized` (the
/// reference's off-by-one rejects exactly this case).
pub fn reorg_allowed(fork_point: u64, finalized: u64) -> bool {
    fork_point >= finalized
}

/// Who a block attests, and up to which height: its generator up to its parent, and each
/// evaluator of an optimae it accepts whose vote agreed, up to that optimae's commit height.
pub fn attesters_of(block: &BlockSummary) -> Vec<(String, u64)> {
    let mut out = vec![(block.generator_id.clone(), block.height.saturating_sub(1))];
    for o in &block.optimae {
        for (evaluator, agreed) in &o.votes {
            if *agreed {
                out.push((evaluator.clone(), o.commit_height));
            }
        }
    }
    out
}

/// The participants' weights at checkpoint `height`: each peer's attestations in the
/// `2 × depth` blocks up to and including it (the recent window holds them).
pub(crate) fn weights_at(
    recent: &VecDeque<std::sync::Arc<RecentBlock>>,
    height: u64,
    depth: u64,
) -> BTreeMap<String, u64> {
    let from = height.saturating_sub(2 * depth.max(1));
    let mut w = BTreeMap::new();
    for b in recent
        .iter()
        .filter(|b| b.height > from && b.height <= height)
    {
        for (peer, _) in &b.attesters {
            *w.entry(peer.clone()).or_insert(0) += 1;
        }
    }
    w
}

/// The fewest distinct peers that finalize a checkpoint: an optimizer and a quorum
/// (`quorum_min_evaluators + 1`), the fewest signers an optimae needs on a network chain;
/// one on a solo chain, its one signer.
///
/// Why: on a young network chain each optimizer's quorums fall back to the solo rule while
/// it is the only peer its branch has seen, so an optimizer that minted a branch alone
/// from genesis held all of its weight and finalized it alone, a few target block times
/// after the start, before its peers' blocks had reached it (the simulator,
/// `SimConfig::loaded_network`: two of four optimizers finalized their own branches at
/// height 6, and the split was for good). The same held later for an optimizer that ran
/// ahead alone once its branch's weight was all its own.
pub fn min_attesters(params: &ChainParams) -> usize {
    usize::try_from(params.quorum_min_evaluators)
        .unwrap_or(usize::MAX)
        .saturating_add(1)
}

/// Rule: the peers in `attesting` hold more than two thirds of the total of `weights`,
/// and at least `min_attesters` of them hold some of it ([`min_attesters`]; an empty
/// reference attests nothing).
pub fn attested<'a>(
    weights: &BTreeMap<String, u64>,
    attesting: impl IntoIterator<Item = &'a str>,
    min_attesters: usize,
) -> bool {
    let total: u64 = weights.values().sum();
    let mut held = 0u64;
    let mut holders = 0usize;
    for peer in attesting {
        let w = weights.get(peer).copied().unwrap_or(0);
        held += w;
        holders += usize::from(w > 0);
    }
    total > 0 && 3 * held > 2 * total && holders >= min_attesters.max(1)
}

impl ChainState {
    /// Finalizes the highest checkpoint the chain now attests ([`attested`] against the
    /// weights of the last finalized checkpoint, or of the checkpoint itself before the
    /// first), after the tip's block joined the recent window.
    pub(crate) fn advance_finality(&mut self) {
        let depth = self.params.finality_depth;
        let min = min_attesters(&self.params);
        if depth == 0 {
            self.finalized_height = self.height;
            self.finalized_hash = self.tip_hash.clone();
            return;
        }
        // Walk down from the tip: `seen` holds, for each peer attesting in the blocks above
        // the current one, the highest height it attests.
        let mut seen: BTreeMap<&str, u64> = BTreeMap::new();
        let mut newly = None;
        for b in self.recent.iter().rev() {
            if b.height <= self.finalized_height {
                break;
            }
            if is_checkpoint(b.height, depth) && b.height + depth <= self.height {
                let reference = if self.finality_weights.is_empty() {
                    b.weights.as_ref()
                } else {
                    Some(&self.finality_weights)
                };
                let attesting = seen
                    .iter()
                    .filter(|(_, up_to)| **up_to >= b.height)
                    .map(|(p, _)| *p);
                if reference.is_some_and(|w| attested(w, attesting, min)) {
                    newly = Some((b.height, b.hash.clone(), b.weights.clone()));
                    break;
                }
            }
            for (peer, up_to) in &b.attesters {
                let e = seen.entry(peer.as_str()).or_insert(0);
                *e = (*e).max(*up_to);
            }
        }
        if let Some((height, hash, weights)) = newly {
            self.finalized_height = height;
            self.finalized_hash = hash;
            self.finality_weights = weights.unwrap_or_default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_are_multiples_of_the_depth() {
        assert!(is_checkpoint(0, 6));
        assert!(is_checkpoint(12, 6));
        assert!(!is_checkpoint(13, 6));
        assert!(is_checkpoint(13, 0));
    }

    #[test]
    fn reorgs_may_not_cross_the_finalized_block() {
        assert!(reorg_allowed(6, 6));
        assert!(!reorg_allowed(5, 6));
        assert!(reorg_allowed(0, 0));
    }

    fn weights(w: &[(&str, u64)]) -> BTreeMap<String, u64> {
        w.iter().map(|(p, n)| ((*p).to_owned(), *n)).collect()
    }

    #[test]
    fn more_than_two_thirds_of_the_weight_attests() {
        let w = weights(&[("a", 3), ("b", 3), ("c", 3)]);
        assert!(
            !attested(&w, ["a", "b"], 1),
            "exactly two thirds is not enough"
        );
        assert!(attested(&w, ["a", "b", "c"], 1));
        let w = weights(&[("a", 5), ("b", 2), ("c", 2)]);
        assert!(attested(&w, ["a", "b"], 1), "7 of 9");
        assert!(!attested(&w, ["b", "c", "x"], 1), "strangers weigh nothing");
        assert!(
            !attested(&BTreeMap::new(), ["a"], 1),
            "no reference, no finality"
        );
    }

    #[test]
    fn a_network_checkpoint_needs_an_optimizer_and_a_quorum() {
        let mut params = ChainParams::solo_default();
        assert_eq!(min_attesters(&params), 1, "a solo chain's one signer");
        params.quorum_min_evaluators = 2;
        assert_eq!(min_attesters(&params), 3);
        let alone = weights(&[("a", 12)]);
        assert!(attested(&alone, ["a"], 1));
        assert!(
            !attested(&alone, ["a", "x", "y"], 3),
            "one peer holds all the weight: strangers do not make up the number"
        );
        let w = weights(&[("a", 10), ("b", 1), ("c", 1)]);
        assert!(!attested(&w, ["a", "b"], 3), "two of three peers");
        assert!(attested(&w, ["a", "b", "c"], 3));
    }

    #[test]
    fn two_disjoint_sides_never_both_attest() {
        let w = weights(&[("a", 4), ("b", 1), ("c", 2), ("d", 2), ("e", 1)]);
        let peers = ["a", "b", "c", "d", "e"];
        for mask in 0u32..32 {
            let side: Vec<&str> = (0..5)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| peers[i])
                .collect();
            let other: Vec<&str> = (0..5)
                .filter(|i| mask & (1 << i) == 0)
                .map(|i| peers[i])
                .collect();
            assert!(!(attested(&w, side.clone(), 1) && attested(&w, other.clone(), 1)));
        }
    }
}
