//! Fork choice: the heaviest validated chain wins.
//!
//! A chain's weight is its cumulative work, the sum of the effective increments of every
//! block it contains, each recomputed by validation (never a self-declared number, as in
//! the reference). Equal weight → the lower tip hash wins, so every node picks the same.

use std::cmp::Ordering;

use crate::state::ChainState;

/// What fork choice compares.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainWeight {
    /// Sum of the validated effective increments.
    pub cumulative_work: f64,
    /// The tip's hash.
    pub tip_hash: String,
}

/// The weight of a validated chain state.
pub fn chain_weight(state: &ChainState) -> ChainWeight {
    ChainWeight {
        cumulative_work: state.cumulative_work(),
        tip_hash: state.tip_hash().to_owned(),
    }
}

/// Orders two chains: `Greater` when `a` is preferred (heavier, or as heavy with a lower tip
/// hash).
pub fn compare(a: &ChainWeight, b: &ChainWeight) -> Ordering {
    a.cumulative_work
        .total_cmp(&b.cumulative_work)
        .then_with(|| b.tip_hash.cmp(&a.tip_hash))
}

/// Whether the candidate chain should replace the current one.
pub fn prefer(candidate: &ChainWeight, current: &ChainWeight) -> bool {
    compare(candidate, current) == Ordering::Greater
}

/// What a node does with a valid competing branch that forks from its chain.
#[derive(Debug, Clone, PartialEq)]
pub enum ReorgVerdict {
    /// Switch to the branch: it keeps the finalized block and is preferred.
    Adopt,
    /// Keep our chain: the branch is not preferred ([`prefer`]).
    KeepOurs,
    /// Refuse the branch whatever its weight: it would revert the finalized block.
    BelowFinality {
        /// The last block both chains share.
        fork_point: u64,
        /// Our finalized height.
        finalized: u64,
    },
}

/// The reorganisation rule: a branch forking at `fork_point` from our chain at tip `tip`
/// (finality depth `depth`) replaces it only if it keeps our finalized block
/// ([`crate::finality::reorg_allowed`]), checked first so that no weight, however large,
/// reverts a finalized block, and then only if it is preferred ([`prefer`]). Both weights
/// must come from validated states ([`chain_weight`]), never from a peer's claim.
pub fn judge_reorg(
    fork_point: u64,
    tip: u64,
    depth: u64,
    candidate: &ChainWeight,
    current: &ChainWeight,
) -> ReorgVerdict {
    if !crate::finality::reorg_allowed(fork_point, tip, depth) {
        return ReorgVerdict::BelowFinality {
            fork_point,
            finalized: crate::finality::finalized_height(tip, depth),
        };
    }
    if prefer(candidate, current) {
        ReorgVerdict::Adopt
    } else {
        ReorgVerdict::KeepOurs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finality_outranks_weight() {
        let heavy = w(1e12, "00");
        let light = w(1.0, "ff");
        // Tip 12, depth 6: height 6 is final.
        assert_eq!(
            judge_reorg(5, 12, 6, &heavy, &light),
            ReorgVerdict::BelowFinality {
                fork_point: 5,
                finalized: 6
            }
        );
        assert_eq!(judge_reorg(6, 12, 6, &heavy, &light), ReorgVerdict::Adopt);
        assert_eq!(
            judge_reorg(6, 12, 6, &light, &heavy),
            ReorgVerdict::KeepOurs
        );
        assert_eq!(
            judge_reorg(6, 12, 6, &light, &light),
            ReorgVerdict::KeepOurs
        );
    }

    fn w(work: f64, tip: &str) -> ChainWeight {
        ChainWeight {
            cumulative_work: work,
            tip_hash: tip.into(),
        }
    }

    #[test]
    fn heavier_wins_then_lower_hash() {
        assert!(prefer(&w(2.0, "ff"), &w(1.0, "00")));
        assert!(!prefer(&w(1.0, "00"), &w(2.0, "ff")));
        assert!(prefer(&w(1.0, "0a"), &w(1.0, "0b")));
        assert!(!prefer(&w(1.0, "0b"), &w(1.0, "0a")));
        assert!(!prefer(&w(1.0, "0a"), &w(1.0, "0a")));
    }
}
