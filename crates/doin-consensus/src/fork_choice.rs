//! Fork choice: the chain with the highest finalized checkpoint wins, then the heaviest.
//!
//! Finality comes first so that the side of a healed partition that could not finalize
//! (it held less than two thirds of the participants' weight, [`crate::finality`]) joins
//! the side that did, however much work it did meanwhile: the finalized side refuses to
//! revert its checkpoint, and without this rule a heavier unfinalized side would keep
//! its branch and the network would stay split.
//!
//! A chain's weight is its cumulative work, the sum of the effective increments of every
//! block it contains, each recomputed by validation (never a self-declared number, as in
//! the reference). Equal work → the longer chain wins, then the lower tip hash, so every
//! node picks the same.
//!
//! Why length before the hash: a commitment block adds no work, and every node adopts a
//! valid block that extends its tip without comparing. With ties broken by the tip hash
//! alone, the order was not monotone under extension: a node on `A + C` (C a commitment
//! block) preferred a rival `B` with a lower tip hash, a node on `B` preferred `A` (lower
//! hash than `B`), which `C` then extended again, and honest nodes switched branches
//! forever as the blocks were relayed (found by the simulator, `doin-sim`, seed 32).
//! Ranking the longer chain first at equal work makes an extension always preferred, so
//! the order the nodes follow is one total order.

use std::cmp::Ordering;

use crate::state::ChainState;

/// What fork choice compares.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainWeight {
    /// The finalized height ([`crate::finality`]).
    pub finalized_height: u64,
    /// Sum of the validated effective increments.
    pub cumulative_work: f64,
    /// The tip's height.
    pub height: u64,
    /// The tip's hash.
    pub tip_hash: String,
}

/// The weight of a validated chain state.
pub fn chain_weight(state: &ChainState) -> ChainWeight {
    ChainWeight {
        finalized_height: state.finalized_height(),
        cumulative_work: state.cumulative_work(),
        height: state.height(),
        tip_hash: state.tip_hash().to_owned(),
    }
}

/// Orders two chains: `Greater` when `a` is preferred (finalized higher; as finalized and
/// heavier; as heavy and longer; as heavy, as long and with a lower tip hash). Extending a
/// chain never lowers any of these, so an extension is always preferred to its parent.
pub fn compare(a: &ChainWeight, b: &ChainWeight) -> Ordering {
    a.finalized_height
        .cmp(&b.finalized_height)
        .then_with(|| a.cumulative_work.total_cmp(&b.cumulative_work))
        .then_with(|| a.height.cmp(&b.height))
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

/// The reorganisation rule: a branch forking at `fork_point` from our chain replaces it
/// only if it keeps our finalized block ([`crate::finality::reorg_allowed`]), checked first
/// so that no weight, however large, reverts a finalized block, and then only if it is
/// preferred ([`prefer`]). Both weights must come from validated states
/// ([`chain_weight`]), never from a peer's claim.
pub fn judge_reorg(
    fork_point: u64,
    candidate: &ChainWeight,
    current: &ChainWeight,
) -> ReorgVerdict {
    if !crate::finality::reorg_allowed(fork_point, current.finalized_height) {
        return ReorgVerdict::BelowFinality {
            fork_point,
            finalized: current.finalized_height,
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
        let heavy = ChainWeight {
            finalized_height: 6,
            ..w(1e12, "00")
        };
        let light = ChainWeight {
            finalized_height: 6,
            ..w(1.0, "ff")
        };
        // Our finalized height is 6.
        assert_eq!(
            judge_reorg(5, &heavy, &light),
            ReorgVerdict::BelowFinality {
                fork_point: 5,
                finalized: 6
            }
        );
        assert_eq!(judge_reorg(6, &heavy, &light), ReorgVerdict::Adopt);
        assert_eq!(judge_reorg(6, &light, &heavy), ReorgVerdict::KeepOurs);
        assert_eq!(judge_reorg(6, &light, &light), ReorgVerdict::KeepOurs);
    }

    #[test]
    fn a_finalized_chain_outranks_a_heavier_unfinalized_one() {
        // The two sides of a healed partition: one finalized 12 (two thirds of the
        // participants were on it), the other did more work but could not finalize.
        let finalized = ChainWeight {
            finalized_height: 12,
            ..w(1.0, "ff")
        };
        let heavier = ChainWeight {
            finalized_height: 6,
            height: 30,
            ..w(5.0, "00")
        };
        assert!(prefer(&finalized, &heavier));
        assert_eq!(judge_reorg(6, &finalized, &heavier), ReorgVerdict::Adopt);
        assert_eq!(
            judge_reorg(6, &heavier, &finalized),
            ReorgVerdict::BelowFinality {
                fork_point: 6,
                finalized: 12
            }
        );
    }

    fn w(work: f64, tip: &str) -> ChainWeight {
        ChainWeight {
            finalized_height: 0,
            cumulative_work: work,
            height: 1,
            tip_hash: tip.into(),
        }
    }

    #[test]
    fn an_extension_without_work_is_preferred_to_its_rivals() {
        // A at height 4, C a commitment block (no work) on top of it, B a rival of A with
        // the same work and a hash between A's and C's. Every node adopts C on top of A
        // without comparing, so the order must rank A + C above B, and B above A: one
        // total order, no cycle.
        let at = |height: u64, tip: &str| ChainWeight {
            finalized_height: 0,
            cumulative_work: 1.0,
            height,
            tip_hash: tip.into(),
        };
        let a = at(4, "30");
        let b = at(4, "46");
        let a_c = at(5, "6a");
        assert!(prefer(&a, &b), "same work and height: the lower hash");
        assert!(prefer(&a_c, &b), "the extension outranks the rival");
        assert!(prefer(&a_c, &a));
        // More work still beats any length.
        let heavy = ChainWeight {
            finalized_height: 0,
            cumulative_work: 2.0,
            height: 1,
            tip_hash: "ff".into(),
        };
        assert!(prefer(&heavy, &a_c));
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
