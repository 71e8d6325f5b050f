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
//!   replays every distinct tip from genesis, [`crate::invariants::check_chain`]). The
//!   nodes on one tip share that state (`Arc`): a node copies it only to apply a block
//!   no other node applied yet, so a block costs one copy of the state, not one per node.
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

/// Blocks, commitments and commitment ids the memo holds of each before it forgets them
/// all (a long run would otherwise hold every one it ever judged; one judged again after
/// is judged anew, the same way).
const MAX_JUDGED: usize = 1 << 14;

/// Forgets everything `map` holds once it holds [`MAX_JUDGED`].
fn bounded<V>(map: &mut BTreeMap<usize, V>) -> &mut BTreeMap<usize, V> {
    if map.len() >= MAX_JUDGED {
        map.clear();
    }
    map
}

/// The run's memo of pure checks and states, by allocation.
#[derive(Default)]
pub struct Memo {
    blocks: BTreeMap<usize, (Arc<Block>, Result<(), ConsensusError>)>,
    commitments: BTreeMap<usize, (Arc<OptimaeCommitment>, bool)>,
    commitment_ids: BTreeMap<usize, (Arc<OptimaeCommitment>, Arc<str>)>,
    states: BTreeMap<(u64, usize), (Arc<Block>, Arc<ChainState>)>,
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
        bounded(&mut self.blocks).insert(key(block), (block.clone(), v.clone()));
        v
    }

    /// Whether a commitment's seal holds ([`OptimaeCommitment::check`]).
    pub fn commitment_holds(&mut self, c: &Arc<OptimaeCommitment>) -> bool {
        if let Some((_, ok)) = self.commitments.get(&key(c)) {
            return *ok;
        }
        let ok = c.check().is_ok();
        bounded(&mut self.commitments).insert(key(c), (c.clone(), ok));
        ok
    }

    /// A commitment's id ([`OptimaeCommitment::id`]: canonical JSON and a hash), computed
    /// once per run.
    pub fn commitment_id(&mut self, c: &Arc<OptimaeCommitment>) -> Arc<str> {
        bounded(&mut self.commitment_ids)
            .entry(key(c))
            .or_insert_with(|| (c.clone(), c.id().into()))
            .1
            .clone()
    }

    /// The state after `block`, if a node applied it already.
    pub fn state_after(&self, block: &Arc<Block>) -> Option<&Arc<ChainState>> {
        let height = u64::try_from(block.header.index).ok()?;
        self.states.get(&(height, key(block))).map(|(_, s)| s)
    }

    /// Keeps `state`, the state after `block`, for the next node that applies it.
    pub fn keep_state(&mut self, block: &Arc<Block>, state: Arc<ChainState>) {
        let height = state.height();
        self.states
            .insert((height, key(block)), (block.clone(), state));
        let top = self.states.keys().next_back().map_or(0, |(h, _)| *h);
        while let Some(((h, _), _)) = self.states.first_key_value() {
            if *h + STATE_WINDOW >= top {
                break;
            }
            self.states.pop_first();
        }
    }
}
