//! Consensus states kept at a few recent heights ([`StateCheckpoints`]), so that weighing a
//! competing branch starts from the newest one at or below its fork point instead of
//! replaying the whole chain from genesis. A reorganisation never goes below the finalized
//! height (`finality_depth` blocks under the tip), so states spaced at least twice that
//! apart, the last [`KEPT`] of them, always leave one below any fork point the rules allow:
//! weighing a rival of the tip costs at most a few dozen blocks replayed, whatever the
//! chain's length (before, a one-block race on a 10,000-block chain replayed 10,000).
//!
//! Sans-I/O: the chain service records its state after each change and asks for a base
//! when it rebuilds a state at a fork point (`chain_service/import.rs`); whether a kept
//! state is still on our chain is the caller's to say (its store's hash at that height).

use std::collections::VecDeque;

use doin_consensus::{ChainParams, ChainState};

/// How many states are kept.
pub const KEPT: usize = 3;
/// The least spacing between kept states, in blocks (a chain whose finality depth is
/// small would otherwise clone its state every few blocks).
pub const MIN_SPACING: u64 = 32;

/// The last [`KEPT`] states recorded at least `spacing` blocks apart, each with what the
/// host derives along the chain (`D`).
#[derive(Debug, Clone)]
pub struct StateCheckpoints<D> {
    spacing: u64,
    kept: VecDeque<(ChainState, D)>,
}

impl<D: Clone> StateCheckpoints<D> {
    /// None kept yet, spaced by `2 × finality_depth` blocks ([`MIN_SPACING`] at least).
    pub fn new(params: &ChainParams) -> Self {
        StateCheckpoints {
            spacing: params.finality_depth.saturating_mul(2).max(MIN_SPACING),
            kept: VecDeque::with_capacity(KEPT + 1),
        }
    }

    /// Blocks between kept states, at least.
    pub fn spacing(&self) -> u64 {
        self.spacing
    }

    /// Keeps `state` (and `derived`, what the host derived up to it) when it is at least
    /// the spacing above the newest kept one; forgets the oldest beyond [`KEPT`]. Genesis
    /// is never kept (it is rebuilt for nothing).
    pub fn record(&mut self, state: &ChainState, derived: &D) {
        let height = state.height();
        let due = match self.kept.back() {
            Some((newest, _)) => height >= newest.height().saturating_add(self.spacing),
            None => height > 0,
        };
        if due {
            self.kept.push_back((state.clone(), derived.clone()));
            while self.kept.len() > KEPT {
                self.kept.pop_front();
            }
        }
    }

    /// Forgets the states above `height` (our chain left them in a reorganisation).
    pub fn forget_above(&mut self, height: u64) {
        self.kept.retain(|(s, _)| s.height() <= height);
    }

    /// Forgets every state.
    pub fn clear(&mut self) {
        self.kept.clear();
    }

    /// The newest kept state at or below `height` that `on_chain` says is still ours
    /// (called with its height and tip hash).
    pub fn at_or_below(
        &self,
        height: u64,
        mut on_chain: impl FnMut(u64, &str) -> bool,
    ) -> Option<&(ChainState, D)> {
        self.kept
            .iter()
            .rev()
            .filter(|(s, _)| s.height() <= height)
            .find(|(s, _)| on_chain(s.height(), s.tip_hash()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block_assembly::{assemble_block, BlockContents};
    use doin_consensus::commitment::OptimaeCommitment;
    use doin_primitives::identity::Identity;
    use doin_primitives::Timestamp;

    /// The states along a chain of `n` commitment blocks, genesis first.
    fn states_along(n: u64) -> Vec<ChainState> {
        let me = Identity::from_scalar_bytes(&[5; 32]).expect("an identity");
        let mut state = ChainState::new(ChainParams::solo_default());
        let mut states = vec![state.clone()];
        let t0 = 1_767_225_600;
        for k in 1..=n {
            let stamp = Timestamp::from_unix_secs(t0 + 10 * k as i64);
            let c = OptimaeCommitment::sealed(
                &me,
                "quadratic",
                &doin_primitives::hash::sha256_hex(k.to_string()),
                stamp,
            );
            let contents = BlockContents {
                commitments: vec![c],
                ..BlockContents::default()
            };
            let block = assemble_block(&state, &me, contents, stamp)
                .expect("a commitment block")
                .block;
            state.apply_block(&block).expect("it applies");
            states.push(state.clone());
        }
        states
    }

    #[test]
    fn states_are_kept_spaced_the_newest_few_and_found_at_or_below_a_height() {
        let states = states_along(140);
        let mut cp = StateCheckpoints::<u64>::new(states[0].params());
        let spacing = cp.spacing();
        assert_eq!(
            spacing,
            MIN_SPACING.max(2 * states[0].params().finality_depth)
        );
        for s in &states {
            cp.record(s, &s.height());
        }
        // Recorded: 1, 33, 65, 97, 129 → the last three kept.
        let heights: Vec<u64> = cp.kept.iter().map(|(s, _)| s.height()).collect();
        assert_eq!(heights, vec![65, 97, 129]);
        let all_ours = |h: u64, hash: &str| states[h as usize].tip_hash() == hash;
        let (s, d) = cp.at_or_below(139, all_ours).expect("one below");
        assert_eq!((s.height(), *d), (129, 129));
        assert_eq!(
            cp.at_or_below(128, all_ours).map(|(s, _)| s.height()),
            Some(97)
        );
        assert!(cp.at_or_below(63, all_ours).is_none(), "none that low");
        // A state no longer on our chain is passed over.
        let not_129 = |h: u64, hash: &str| h != 129 && all_ours(h, hash);
        assert_eq!(
            cp.at_or_below(139, not_129).map(|(s, _)| s.height()),
            Some(97)
        );
        // A reorganisation to height 100 forgets 129; the next record is spaced from 97.
        cp.forget_above(100);
        cp.record(&states[120], &120);
        assert_eq!(
            cp.at_or_below(139, all_ours).map(|(s, _)| s.height()),
            Some(97)
        );
        cp.record(&states[129], &129);
        assert_eq!(
            cp.at_or_below(139, all_ours).map(|(s, _)| s.height()),
            Some(129)
        );
        cp.clear();
        assert!(cp.at_or_below(139, all_ours).is_none());
    }
}
