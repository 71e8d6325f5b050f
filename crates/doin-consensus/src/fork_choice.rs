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

#[cfg(test)]
mod tests {
    use super::*;

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
