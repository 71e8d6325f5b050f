//! Full block validation, application and building: the rules of a DOIN block.
//!
//! A block at the tip is valid when, in this order:
//! 1. it follows the block layout (`check_layout`,
//!    [`doin_primitives::models::block_layout`]) and its content is consistent
//!    (`validate_content`: transaction ids, no duplicate id, the reference's merkle root
//!    over the transaction ids, block hash). The layout:
//!    `optimae_accepted`, then `optimae_announced`, then `optimae_rejected` transactions,
//!    then one `evaluation_served` transaction committing to the root of its transfers and
//!    channel operations when it has any; no key of the earlier layout;
//! 2. its index is the next height and `previous_hash` the tip's hash;
//! 3. its timestamp is after its parent's;
//! 4. the generator's seal ([`SealKind::Block`] over the hash) holds and its key hashes to
//!    `generator_id`;
//! 5. its threshold is the difficulty rule's [`ChainState::next_threshold`];
//! 6. every `optimae_accepted` transaction is valid (see
//!    [`ChainState::check_accepted_tx`]): optimizer seal, or for a carried optimae the
//!    generator's seal and the optimizer's claim seal ([`crate::carried`]), known domain, optimae id,
//!    commitment (not used on chain before), parameter bounds, commit height within the
//!    window and the commitment carried by the block at that height
//!    ([`crate::commitment`]), quorum membership and every member's sealed vote with its
//!    seed, the 2/3 decision, and the recomputed median, increment, reward fraction,
//!    effective increment, quorum agreement, incentive reason and previous best. The
//!    domain's best performance advances transaction by transaction within the block; the
//!    optimizer's reputation factor is read at the parent (decayed to the parent's
//!    timestamp), and the block's reputation events apply after all its transactions;
//! 7. `weighted_performance_sum` is the sum of the effective increments in transaction
//!    order and reaches the threshold, or the block is a commitment block (no accepted
//!    optimae, at least one commitment, one target block time after its parent:
//!    [`ChainState::check_weight`]);
//! 8. its `"transfers"` extension (optional) holds at most
//!    [`crate::fee_market::MAX_TRANSFERS_PER_BLOCK`] transfers, each valid in order
//!    ([`crate::transfer`]) at the tip's base fee;
//! 9. its `"channel_ops"` extension (optional) holds at most
//!    [`crate::channel::MAX_CHANNEL_OPS_PER_BLOCK`] channel operations, each valid in order
//!    after the transfers ([`crate::channel`]), judged at the block's timestamp;
//! 10. its `"coinbase"` extension is the one [`crate::coinbase::compute_coinbase`] gives,
//!     plus the transfers' and channel operations' tips to the generator
//!     ([`crate::coinbase::pay_tips`]).
//! 11. its `optimae_rejected` transactions carry valid rejection evidence
//!     ([`crate::rejection`]), applied after the transfers, channel operations and coinbase.
//! 12. its `optimae_announced` transactions carry valid commitments
//!     ([`crate::commitment`]), none already on chain or used by the block's optimae.
//!
//! No clock is read: a node checks a received block's timestamp against its own clock with
//! [`check_not_in_future`] (the clock passed in) before it calls these functions.
//!
//! Files, by group of rules: `header.rs` (threshold, timestamp bound), `signatures.rs`
//! (every seal, stateless), `optimae.rs` (accepted-optimae transactions and their numbers),
//! `votes.rs` (quorum votes and the decision), `coinbase.rs` (the expected coinbase);
//! transfers, channel operations, rejections and commitments keep their rules in
//! [`crate::transfer`], [`crate::channel`], [`crate::rejection`] and [`crate::commitment`].
//! `apply.rs` folds a validated block into the state and `build.rs` mints the next one.

mod apply;
mod build;
mod coinbase;
mod header;
mod optimae;
mod signatures;
mod votes;

use doin_primitives::models::Block;
use doin_primitives::seal::SealKind;

use crate::coinbase::{Coinbase, COINBASE_KEY};
use crate::error::ConsensusError;
use crate::state::ChainState;
use crate::transfer::BlockTransfers;
use header::check_threshold;

pub use header::{check_not_in_future, MAX_FUTURE_DRIFT_MICROS};
pub use optimae::PendingCheck;
pub use signatures::verify_block_signatures;

/// An optimae a validated block accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimaeOutcome {
    /// Reference optimae id.
    pub optimae_id: String,
    /// Its domain.
    pub domain_id: String,
    /// Its optimizer.
    pub optimizer_id: String,
    /// Its commitment.
    pub commitment_hash: String,
    /// The height its commitment landed at (the block its quorum's seeds come from).
    pub commit_height: u64,
    /// The quorum median.
    pub verified_performance: f64,
    /// Its effective increment.
    pub effective_increment: f64,
    /// Each voter and whether its vote agreed with the median.
    pub votes: Vec<(String, bool)>,
}

/// What a validated block does to the state.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockSummary {
    /// The block's height.
    pub height: u64,
    /// The block's hash.
    pub hash: String,
    /// Its timestamp, µs since the Unix epoch.
    pub timestamp_micros: i64,
    /// Its generator.
    pub generator_id: String,
    /// The threshold it met.
    pub threshold: f64,
    /// The sum of its effective increments.
    pub weighted_sum: f64,
    /// The optimae it accepts, in order.
    pub optimae: Vec<OptimaeOutcome>,
    /// Its coinbase.
    pub coinbase: Coinbase,
    /// Its transfers and what they do.
    pub transfers: BlockTransfers,
    /// The rejections it carries ([`crate::rejection`]).
    pub rejections: Vec<crate::rejection::RejectionOutcome>,
    /// Its channel operations and what they leave.
    pub channels: crate::channel::BlockChannelOps,
    /// The commitments it carries ([`crate::commitment`]).
    pub commitments: Vec<crate::commitment::OptimaeCommitment>,
}

impl ChainState {
    /// Fully validates `block` as the next block (see the module doc for the rules).
    pub fn validate_block(&self, block: &Block) -> Result<BlockSummary, ConsensusError> {
        let layout = if self.trust_checked_content {
            block.check_layout()?
        } else {
            block.validate_doin_content()?
        };
        let h = &block.header;
        let height = self.height + 1;
        if u64::try_from(h.index).ok() != Some(height) {
            return Err(ConsensusError::WrongHeight {
                expected: height,
                got: h.index,
            });
        }
        if h.previous_hash != self.tip_hash {
            return Err(ConsensusError::WrongParent {
                expected: self.tip_hash.clone(),
                got: h.previous_hash.clone(),
            });
        }
        let time = h.timestamp.unix_micros();
        if time <= self.tip_time_micros {
            return Err(ConsensusError::TimestampNotAfterParent {
                parent_micros: self.tip_time_micros,
                got_micros: time,
            });
        }
        self.check_seal(
            block.seal.as_ref(),
            SealKind::Block,
            &block.hash,
            &h.generator_id,
        )
        .map_err(|e| ConsensusError::BadGeneratorSeal(e.to_string()))?;
        let threshold = self.next_threshold();
        check_threshold(threshold, h.threshold)?;
        let (optimae, sum) = self.check_txs(layout.accepted, time, Some(&h.generator_id))?;
        if sum.to_bits() != h.weighted_performance_sum.to_bits() {
            return Err(ConsensusError::WrongWeightedSum {
                expected: sum,
                got: h.weighted_performance_sum,
            });
        }
        let commitments = crate::commitment::OptimaeCommitment::read_block(block)?;
        self.check_weight(sum, optimae.len(), commitments.len(), time)?;
        let transfers = self.check_transfers(&block.transfers()?)?;
        let channels = self.check_channel_ops(&block.channel_ops()?, &transfers, time)?;
        let expected = self.expected_coinbase(
            height,
            &h.generator_id,
            &optimae,
            transfers.tips + channels.tips,
        );
        let carried = block
            .extensions
            .get(COINBASE_KEY)
            .ok_or_else(|| ConsensusError::MalformedCoinbase("no \"coinbase\" extension".into()))?;
        let got = Coinbase::from_value(carried)
            .map_err(|e| ConsensusError::MalformedCoinbase(e.to_string()))?;
        if got != expected {
            return Err(ConsensusError::WrongCoinbase {
                expected: doin_primitives::json::to_wire_json(&expected.to_value()),
                got: doin_primitives::json::to_wire_json(carried),
            });
        }
        let rejections = self.check_block_rejections(block, &optimae)?;
        self.check_commitments(&commitments)?;
        Ok(BlockSummary {
            height,
            hash: block.hash.clone(),
            timestamp_micros: time,
            generator_id: h.generator_id.clone(),
            threshold,
            weighted_sum: sum,
            optimae,
            coinbase: expected,
            transfers,
            rejections,
            channels,
            commitments,
        })
    }

    /// Validates `block` and, if valid, makes it the new tip.
    pub fn apply_block(&mut self, block: &Block) -> Result<BlockSummary, ConsensusError> {
        let summary = self.validate_block(block)?;
        self.apply_summary(&summary);
        Ok(summary)
    }

    /// Applies a block whose ECDSA signatures are already known to hold: a block this node
    /// validated before storing it (start-up replay of its own `chain.db`), or a block that
    /// passed [`verify_block_signatures`] (done in parallel for a batch received in sync).
    /// Every other rule is checked, including that each signer's key hashes to its id.
    pub fn apply_stored_block(&mut self, block: &Block) -> Result<BlockSummary, ConsensusError> {
        self.trust_stored_seals = true;
        let out = self.apply_block(block);
        self.trust_stored_seals = false;
        out
    }

    /// Rebuilds a state by applying `blocks` (after genesis) in order.
    pub fn replay<'a>(
        params: crate::params::ChainParams,
        blocks: impl IntoIterator<Item = &'a Block>,
    ) -> Result<ChainState, ConsensusError> {
        let mut state = ChainState::new(params);
        for b in blocks {
            state.apply_block(b)?;
        }
        Ok(state)
    }
}
