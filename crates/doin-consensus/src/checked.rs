//! Blocks whose stateless rules hold, checked once.
//!
//! Half of what validating a block from a peer costs needs no chain state: recomputing
//! every id, the merkle root and the hash it claims, and verifying every signature it
//! carries. None of it depends on the blocks before, so a node checks a page of blocks on
//! every core at once ([`CheckedBlock::check`] on each), then applies them in order with
//! [`ChainState::apply_checked_block`], which runs every rule that needs the state and
//! does not redo these.

use doin_primitives::models::Block;

use crate::error::ConsensusError;
use crate::state::ChainState;
use crate::validate::{verify_block_signatures, BlockSummary};

/// A block whose stateless rules hold: its layout, every id, the merkle root and the hash
/// it claims ([`Block::validate_doin_content`]), and every signature it carries, each by
/// the key of the peer it names ([`verify_block_signatures`]). Only [`CheckedBlock::check`]
/// makes one.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedBlock(Block);

impl CheckedBlock {
    /// Checks `block`'s stateless rules; gives it back with the first rule it breaks.
    pub fn check(block: Block) -> Result<CheckedBlock, (Box<Block>, ConsensusError)> {
        let checked = block
            .validate_doin_content()
            .map(|_| ())
            .map_err(ConsensusError::from)
            .and_then(|()| verify_block_signatures(&block));
        match checked {
            Ok(()) => Ok(CheckedBlock(block)),
            Err(e) => Err((Box::new(block), e)),
        }
    }

    /// The block.
    pub fn block(&self) -> &Block {
        &self.0
    }

    /// The block, back as it came.
    pub fn into_block(self) -> Block {
        self.0
    }
}

impl std::borrow::Borrow<Block> for CheckedBlock {
    fn borrow(&self) -> &Block {
        &self.0
    }
}

impl ChainState {
    /// [`ChainState::apply_block`] for a block whose stateless rules were checked
    /// ([`CheckedBlock`]): every rule that depends on the chain — height, parent,
    /// timestamps, the threshold, the optimae and their votes, quorums, transfers,
    /// channels, the coinbase, rejections, commitments — and every seal's key against the
    /// peer it names, without recomputing ids and hashes or verifying signatures again.
    pub fn apply_checked_block(
        &mut self,
        block: &CheckedBlock,
    ) -> Result<BlockSummary, ConsensusError> {
        self.trust_checked_content = true;
        let out = self.apply_stored_block(block.block());
        self.trust_checked_content = false;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commitment::OptimaeCommitment;
    use crate::params::{ChainParams, DomainParams};
    use doin_primitives::identity::Identity;
    use doin_primitives::seal::SealKind;
    use doin_primitives::Timestamp;

    fn params() -> ChainParams {
        let mut p = ChainParams::solo_default();
        p.domains = vec![DomainParams::new("d", true)];
        p
    }

    /// A valid commitment block on genesis, an hour after it, sealed by `me`.
    fn block_on_genesis(me: &Identity) -> Block {
        let state = ChainState::new(params());
        let hour = 3_600 * 1_000_000;
        let ts =
            Timestamp::from_unix_micros(Block::genesis().header.timestamp.unix_micros() + hour);
        let commitment = OptimaeCommitment::sealed(me, "d", &"ab".repeat(32), ts);
        state
            .build_block_with_commitments(me, Vec::new(), Vec::new(), Vec::new(), &[commitment], ts)
            .expect("block")
    }

    #[test]
    fn a_checked_block_applies_as_a_fully_validated_one() {
        let me = Identity::generate();
        let block = block_on_genesis(&me);
        let mut full = ChainState::new(params());
        let expected = full.apply_block(&block);
        let mut state = ChainState::new(params());
        let checked = CheckedBlock::check(block).expect("valid");
        assert_eq!(state.apply_checked_block(&checked).ok(), expected.ok());
        assert_eq!(state.tip_hash(), full.tip_hash());
    }

    #[test]
    fn a_forged_hash_or_seal_is_refused_by_the_check() {
        let me = Identity::generate();
        let mut forged = block_on_genesis(&me);
        forged.hash = "00".repeat(32);
        assert!(matches!(
            CheckedBlock::check(forged),
            Err((_, ConsensusError::Content(_)))
        ));
        let mut resealed = block_on_genesis(&me);
        resealed.seal = Some(Identity::generate().seal(SealKind::Block, &resealed.hash));
        assert!(matches!(
            CheckedBlock::check(resealed),
            Err((_, ConsensusError::BadGeneratorSeal(_)))
        ));
    }

    #[test]
    fn the_state_rules_still_hold_for_a_checked_block() {
        let me = Identity::generate();
        let block = block_on_genesis(&me);
        let checked = CheckedBlock::check(block).expect("valid");
        let mut state = ChainState::new(params());
        state.apply_checked_block(&checked).expect("first");
        // The same block again: its height and parent no longer fit.
        assert!(matches!(
            state.apply_checked_block(&checked),
            Err(ConsensusError::WrongHeight { .. })
        ));
    }
}
