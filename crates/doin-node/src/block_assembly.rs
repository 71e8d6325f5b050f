//! What goes into a block this node mints ([`assemble_block`]): the pending optimae, the
//! transfers and channel operations chosen from their pools, the pooled commitments, and
//! the rejection evidence that fits. The chain service and the simulator (`doin-sim`)
//! assemble their blocks with it; the block is then validated and imported like one from a
//! peer.
//!
//! Pools are checked at admission and pruned at every tip, yet a pooled item may still
//! break a rule with what else the block carries. The optimae matter most: when the
//! commitments would sink a work block it is built without them, and evidence that does
//! not fit waits for a later block. What was left out, and why, is in [`Assembled`]; the
//! caller decides what to drop from its pools.

use doin_consensus::commitment::OptimaeCommitment;
use doin_consensus::rejection::RejectedOptimae;
use doin_consensus::{ChainState, ConsensusError};
use doin_primitives::identity::Identity;
use doin_primitives::models::{Block, ChannelOp, Transaction, Transfer};
use doin_primitives::Timestamp;

/// What a node would put in its next block.
#[derive(Debug, Clone, Default)]
pub struct BlockContents {
    /// Accepted-optimae transactions (none for a commitment block).
    pub optimae: Vec<Transaction>,
    /// Transfers, in the order chosen.
    pub transfers: Vec<Transfer>,
    /// Payment-channel operations, in the order chosen.
    pub channel_ops: Vec<ChannelOp>,
    /// Pooled commitments, the oldest first.
    pub commitments: Vec<OptimaeCommitment>,
    /// Rejection evidence.
    pub evidence: Vec<RejectedOptimae>,
}

/// A block assembled, with what was left out of it.
#[derive(Debug)]
pub struct Assembled {
    /// The signed block.
    pub block: Block,
    /// Why the commitments were left out, if they were (the optimae went without them).
    pub commitments_refused: Option<ConsensusError>,
    /// Why the evidence was left out, if it was.
    pub evidence_refused: Option<ConsensusError>,
}

/// Builds and signs the next block on `state` from `contents`, stamped `stamp`: without
/// the commitments if only they stop a work block, without the evidence if it does not
/// fit. An error when the optimae (or, for a commitment block, the commitments) break a
/// rule.
pub fn assemble_block(
    state: &ChainState,
    generator: &Identity,
    contents: BlockContents,
    stamp: Timestamp,
) -> Result<Assembled, ConsensusError> {
    let BlockContents {
        optimae,
        transfers,
        channel_ops,
        commitments,
        evidence,
    } = contents;
    let built = state.build_block_with_commitments(
        generator,
        optimae.clone(),
        transfers.clone(),
        channel_ops.clone(),
        &commitments,
        stamp,
    );
    let (block, commitments_refused) = match built {
        Ok(b) => (b, None),
        Err(e) if !commitments.is_empty() && !optimae.is_empty() => {
            let b =
                state.build_block_with_ops(generator, optimae, transfers, channel_ops, stamp)?;
            (b, Some(e))
        }
        Err(e) => return Err(e),
    };
    if evidence.is_empty() {
        return Ok(Assembled {
            block,
            commitments_refused,
            evidence_refused: None,
        });
    }
    match state.add_rejections(generator, block.clone(), &evidence) {
        Ok(block) => Ok(Assembled {
            block,
            commitments_refused,
            evidence_refused: None,
        }),
        Err(e) => Ok(Assembled {
            block,
            commitments_refused,
            evidence_refused: Some(e),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_consensus::ChainParams;

    #[test]
    fn an_empty_block_is_refused_and_a_commitment_block_carries_its_commitments() {
        let state = ChainState::new(ChainParams::solo_default());
        let id = Identity::generate();
        let stamp = Timestamp::now_utc();
        assert!(assemble_block(&state, &id, BlockContents::default(), stamp).is_err());
        let c = OptimaeCommitment::sealed(&id, "quadratic", &"ab".repeat(32), stamp);
        let contents = BlockContents {
            commitments: vec![c],
            ..BlockContents::default()
        };
        let a = assemble_block(&state, &id, contents, stamp).expect("a commitment block");
        assert!(a.commitments_refused.is_none() && a.evidence_refused.is_none());
        state.validate_block(&a.block).expect("it validates");
        assert_eq!(a.block.layout().expect("layout").announced.len(), 1);
    }
}
