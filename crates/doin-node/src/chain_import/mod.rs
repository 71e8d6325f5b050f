//! Importing blocks from peers, without I/O: the decision logic the chain service runs over
//! SQLite and the simulator (`doin-sim`) runs over memory, so the simulator exercises the
//! code the node runs.
//!
//! A segment that extends our tip is validated and appended, keeping its valid prefix; one
//! that forks from our chain is weighed against ours page by page (`pending_branch`) and
//! adopted only when heavier ([`doin_consensus::fork_choice::judge_reorg`]), never below
//! the finalized height nor against a published anchor
//! ([`doin_consensus::anchor::check_branch`]).
//!
//! * [`Importer`] — the decisions: which blocks are new, the checks of a segment in order
//!   (cheapest first), extend or weigh, adopt or keep ours, refuse below finality.
//! * [`KeptChain`] — what an importer needs from its host: the chain it keeps (blocks and
//!   the consensus state at the tip), how it rebuilds the state at a fork point, and what
//!   it does when blocks are kept or a branch replaces its own. The chain service
//!   implements it over `chain.db` (`chain_service/import.rs`), the simulator over
//!   in-memory block lists.
//! * [`ImportOutcome`], [`ImportError`] — what became of a segment.
//!
//! Time comes in as an argument (the host reads it from its [`crate::clock::Clock`]): the
//! only clock-dependent rule is that no block is dated too far ahead of ours.

mod importer;
mod outcome;
mod pending_branch;

pub use importer::Importer;
pub use outcome::{ImportError, ImportOutcome};

use std::borrow::Borrow;

use doin_consensus::anchor::AnchorSet;
use doin_consensus::{ChainState, ConsensusError};
use doin_primitives::models::Block;

/// The chain an [`Importer`] imports into: the host's kept blocks and consensus state.
///
/// Every method that applies a block leaves the state unchanged when the block is refused
/// (as [`ChainState::apply_stored_block`] does).
pub trait KeptChain {
    /// How the host holds a block: a [`Block`] in the node's store, shared in the
    /// simulator's memory.
    type Block: Borrow<Block> + Clone;
    /// What the host derives along a chain besides the consensus state (the node: each
    /// domain's best parameters; the simulator: states at checkpoints).
    type Derived;

    /// The consensus state at our tip.
    fn state(&self) -> &ChainState;

    /// The hash of our block at `height` (genesis at 0), if we hold one.
    fn hash_at(&self, height: u64) -> Result<Option<String>, ImportError>;

    /// The anchors our chain must agree with.
    fn anchors(&self) -> &AnchorSet;

    /// A block's content rules, which need no chain state (its hash, merkle root and
    /// transaction ids).
    fn check_content(&mut self, block: &Self::Block) -> Result<(), ConsensusError>;

    /// Every signature the blocks carry, none of which needs chain state
    /// ([`doin_consensus::validate::verify_block_signatures`]).
    fn verify_signatures(&mut self, blocks: &[Self::Block]) -> Result<(), ImportError>;

    /// Applies `block` to the state at our tip (every rule; seals already verified).
    fn apply_to_tip(&mut self, block: &Self::Block) -> Result<(), ConsensusError>;

    /// Keeps `blocks`, already applied to the state at our tip, after our last block.
    fn keep(&mut self, blocks: &[Self::Block]) -> Result<(), ImportError>;

    /// The state after our block at `height`, and what the host derives along our chain
    /// up to it: where a competing branch is weighed from.
    fn state_at(&mut self, height: u64) -> Result<(ChainState, Self::Derived), ImportError>;

    /// Applies `block` to a competing branch's state (every rule; seals already verified).
    fn apply_to_branch(
        &mut self,
        state: &mut ChainState,
        derived: &mut Self::Derived,
        block: &Self::Block,
    ) -> Result<(), ConsensusError>;

    /// Replaces our blocks above `fork_point` with `blocks`, and our state with the
    /// branch's; the number of our blocks removed.
    fn reorganize(
        &mut self,
        fork_point: u64,
        blocks: Vec<Self::Block>,
        state: ChainState,
        derived: Self::Derived,
    ) -> Result<u64, ImportError>;
}
