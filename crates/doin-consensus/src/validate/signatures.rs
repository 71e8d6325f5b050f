//! Signatures: every seal a block carries checked without chain state (so a batch can be
//! checked on several threads), and the seal check the rules use, which trusts the ECDSA
//! signatures of blocks this node validated before storing them.

use doin_primitives::identity::require_seal;
use doin_primitives::models::Block;
use doin_primitives::seal::SealKind;

use crate::accepted::AcceptedOptimae;
use crate::error::ConsensusError;
use crate::state::ChainState;

/// Verifies every signature a block carries, none of which depends on chain state: the
/// generator's seal over the block hash, each accepted optimae's seals (its optimizer's, or
/// the generator's and the optimizer's claim when carried), each
/// quorum vote's seal by its evaluator, and each transfer's seal by its sender. Pure, so a batch can be checked on several threads
/// before [`ChainState::apply_stored_block`] applies the blocks in order.
pub fn verify_block_signatures(block: &Block) -> Result<(), ConsensusError> {
    require_seal(
        block.seal.as_ref(),
        SealKind::Block,
        &block.hash,
        &block.header.generator_id,
    )
    .map_err(|e| ConsensusError::BadGeneratorSeal(e.to_string()))?;
    // Only accepted optimae are sealed as transactions (by their optimizer, or by the
    // generator when carried: `crate::carried`); the others carry sealed objects.
    let generator = block.header.generator_id.as_str();
    for (index, tx) in block.layout()?.accepted.iter().enumerate() {
        let Ok(a) = AcceptedOptimae::from_tx(tx) else {
            // Malformed: the rules refuse it; its seal must still be its peer's.
            require_seal(tx.seal.as_ref(), SealKind::Transaction, &tx.id, &tx.peer_id)
                .map_err(|e| ConsensusError::BadOptimizerSeal(e.to_string()))
                .map_err(ConsensusError::in_tx(index))?;
            continue;
        };
        crate::carried::check_seals(tx, &a, Some(generator), require_seal)
            .map_err(ConsensusError::in_tx(index))?;
        for v in &a.votes {
            require_seal(v.seal.as_ref(), SealKind::Vote, &v.id(), &v.evaluator_id)
                .map_err(|e| ConsensusError::BadVoteSeal {
                    evaluator: v.evaluator_id.clone(),
                    reason: e.to_string(),
                })
                .map_err(ConsensusError::in_tx(index))?;
        }
    }
    let transfers = block.transfers()?;
    for (index, t) in transfers.iter().enumerate() {
        crate::transfer::verify_transfer_seal(t)
            .map_err(|source| ConsensusError::InTransfer { index, source })?;
    }
    for (index, op) in block.channel_ops()?.iter().enumerate() {
        crate::channel::verify_channel_op_seal(op)
            .map_err(|source| ConsensusError::InChannelOp { index, source })?;
    }
    crate::rejection::verify_rejection_signatures(block)?;
    crate::commitment::verify_commitment_signatures(block)
}

impl ChainState {
    pub(crate) fn check_seal(
        &self,
        seal: Option<&doin_primitives::seal::Seal>,
        kind: SealKind,
        id: &str,
        signer: &str,
    ) -> Result<(), doin_primitives::identity::IdentityError> {
        if self.trust_stored_seals {
            return match seal {
                Some(s) => doin_primitives::identity::key_matches_peer_id(&s.public_key, signer),
                None => require_seal(None, kind, id, signer),
            };
        }
        require_seal(seal, kind, id, signer)
    }
}
