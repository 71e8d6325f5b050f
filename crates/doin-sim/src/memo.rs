//! What is a pure function of a block or a commitment, computed once per run instead of
//! once per node.
//!
//! * A block's content rules (its hash, merkle root and transaction ids,
//!   [`doin_primitives::models::Block::validate_doin_content`]) and its signatures
//!   (generator, optimizers, votes, commitments,
//!   [`doin_consensus::validate::verify_block_signatures`]) do not depend on chain state;
//!   neither does a commitment's seal ([`OptimaeCommitment::check`]).
//! * The chain state after a valid block is a function of the chain it ends, which its hash
//!   commits to: every node that applies the block to its parent's state reaches the same
//!   state (`doin_consensus` is a pure function of the chain, and the run's final check
//!   replays every distinct tip from genesis, [`crate::invariants::check_chain`]).
//!
//! Simulated nodes share immutable values (`Arc`), so the memo keys them by allocation: it
//! holds each value it judged, so an address is never reused for other content, and a
//! corrupted copy (same hash, tampered coinbase; a forged seal) is another allocation,
//! judged and applied on its own. A restart rebuilds its state from the kept blocks without
//! the memo, as the real node replays its store.

use std::collections::BTreeMap;
use std::sync::Arc;

use doin_consensus::commitment::OptimaeCommitment;
use doin_consensus::{ChainState, ConsensusError};
use doin_primitives::models::Block;

/// Heights below the highest state kept for which states are dropped (a deeper fork point
/// rebuilds from a node's checkpoint states instead).
const STATE_WINDOW: u64 = 24;

/// The run's memo of pure checks and states, by allocation.
#[derive(Default)]
pub struct Memo {
    blocks: BTreeMap<usize, (Arc<Block>, Result<(), ConsensusError>)>,
    commitments: BTreeMap<usize, (Arc<OptimaeCommitment>, bool)>,
    states: BTreeMap<(u64, usize), (Arc<Block>, ChainState)>,
    /// Blocks actually checked (misses).
    pub verified: u64,
}

fn key<T>(a: &Arc<T>) -> usize {
    Arc::as_ptr(a) as usize
}

impl Memo {
    /// Whether `block`'s content is well formed and every signature it carries holds.
    pub fn check(&mut self, block: &Arc<Block>) -> Result<(), ConsensusError> {
        if let Some((_, v)) = self.blocks.get(&key(block)) {
            return v.clone();
        }
        self.verified += 1;
        let v = block
            .validate_doin_content()
            .map_err(ConsensusError::from)
            .and_then(|_| doin_consensus::validate::verify_block_signatures(block));
        self.blocks.insert(key(block), (block.clone(), v.clone()));
        v
    }

    /// Whether a commitment's seal holds ([`OptimaeCommitment::check`]).
    pub fn commitment_holds(&mut self, c: &Arc<OptimaeCommitment>) -> bool {
        if let Some((_, ok)) = self.commitments.get(&key(c)) {
            return *ok;
        }
        let ok = c.check().is_ok();
        self.commitments.insert(key(c), (c.clone(), ok));
        ok
    }

    /// The state after `block`, if a node applied it already.
    pub fn state_after(&self, block: &Arc<Block>) -> Option<&ChainState> {
        let height = u64::try_from(block.header.index).ok()?;
        self.states.get(&(height, key(block))).map(|(_, s)| s)
    }

    /// Keeps `state`, the state after `block`, for the next node that applies it.
    pub fn keep_state(&mut self, block: &Arc<Block>, state: &ChainState) {
        let height = state.height();
        self.states
            .insert((height, key(block)), (block.clone(), state.clone()));
        let top = self.states.keys().next_back().map_or(0, |(h, _)| *h);
        while let Some(((h, _), _)) = self.states.first_key_value() {
            if *h + STATE_WINDOW >= top {
                break;
            }
            self.states.pop_first();
        }
    }
}
