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
//!   last finalized checkpoint ([`attested`]).
//!
//! Both sides of a partition share the last finalized checkpoint, hence its weights, and
//! no two disjoint sets of peers both hold more than two thirds of them: at most one side
//! finalizes (a peer attests both sides only if it switched branches, and more than a
//! third of the weight would have to). The side that cannot finalize converges on the
//! finalized one after the heal: fork choice ranks a chain's finalized height first
//! ([`crate::fork_choice::compare`]).
//!
//! Limits, stated: a young chain has no finalized checkpoint to take weights from, so its
//! first checkpoint is judged by the weights recorded at that checkpoint itself (a
//! partition before the first finalization is not covered); and finality waits while more
//! than a third of the weight is offline (safety over liveness), the chain itself still
//! growing. A solo chain (one signer) finalizes exactly as deep as before.

use std::collections::{BTreeMap, VecDeque};

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
    recent: &VecDeque<RecentBlock>,
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

/// Rule: the peers in `attesting` hold more than two thirds of the total of `weights` (an
/// empty reference attests nothing).
pub fn attested<'a>(
    weights: &BTreeMap<String, u64>,
    attesting: impl IntoIterator<Item = &'a str>,
) -> bool {
    let total: u64 = weights.values().sum();
    let mut held = 0u64;
    for peer in attesting {
        held += weights.get(peer).copied().unwrap_or(0);
    }
    total > 0 && 3 * held > 2 * total
}

impl ChainState {
    /// Finalizes the highest checkpoint the chain now attests ([`attested`] against the
    /// weights of the last finalized checkpoint, or of the checkpoint itself before the
    /// first), after the tip's block joined the recent window.
    pub(crate) fn advance_finality(&mut self) {
        let depth = self.params.finality_depth;
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
                if reference.is_some_and(|w| attested(w, attesting)) {
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
            !attested(&w, ["a", "b"]),
            "exactly two thirds is not enough"
        );
        assert!(attested(&w, ["a", "b", "c"]));
        let w = weights(&[("a", 5), ("b", 2), ("c", 2)]);
        assert!(attested(&w, ["a", "b"]), "7 of 9");
        assert!(!attested(&w, ["b", "c", "x"]), "strangers weigh nothing");
        assert!(
            !attested(&BTreeMap::new(), ["a"]),
            "no reference, no finality"
        );
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
            assert!(!(attested(&w, side.clone()) && attested(&w, other.clone())));
        }
    }
}
