//! Building the next block from checked transactions, transfers, channel operations and
//! commitments: the numbers every validator recomputes, then the generator's seal.

use doin_primitives::identity::Identity;
use doin_primitives::models::{Block, BlockHeader, Transaction, WireModel};
use doin_primitives::models::{Transfer, TRANSFERS_KEY};
use doin_primitives::seal::SealKind;
use doin_primitives::timestamp::Timestamp;
use doin_primitives::value::Value;

use crate::coinbase::COINBASE_KEY;
use crate::error::ConsensusError;
use crate::state::ChainState;

impl ChainState {
    /// Mints the next block from checked transactions (in order): threshold, weighted sum,
    /// merkle root, coinbase and the generator's seal. A `timestamp` not after the tip's is
    /// bumped to the tip's plus 1 µs. Fails if a transaction breaks a rule or the sum is
    /// below the threshold.
    pub fn build_block(
        &self,
        generator: &Identity,
        txs: Vec<Transaction>,
        timestamp: Timestamp,
    ) -> Result<Block, ConsensusError> {
        self.build_block_with_transfers(generator, txs, Vec::new(), timestamp)
    }

    /// As [`ChainState::build_block`], the block also carrying `transfers` (in order; each
    /// must be valid after the ones before it, see [`ChainState::select_transfers`]).
    pub fn build_block_with_transfers(
        &self,
        generator: &Identity,
        txs: Vec<Transaction>,
        transfers: Vec<Transfer>,
        timestamp: Timestamp,
    ) -> Result<Block, ConsensusError> {
        self.build_block_with_ops(generator, txs, transfers, Vec::new(), timestamp)
    }

    /// As [`ChainState::build_block_with_transfers`], the block also carrying `channel_ops`
    /// (in order, after the transfers; see [`ChainState::select_channel_ops`], judged at
    /// [`ChainState::block_time`] of `timestamp`).
    pub fn build_block_with_ops(
        &self,
        generator: &Identity,
        txs: Vec<Transaction>,
        transfers: Vec<Transfer>,
        channel_ops: Vec<doin_primitives::models::ChannelOp>,
        timestamp: Timestamp,
    ) -> Result<Block, ConsensusError> {
        self.build_block_with_commitments(generator, txs, transfers, channel_ops, &[], timestamp)
    }

    /// As [`ChainState::build_block_with_ops`], the block also carrying `commitments` (each
    /// valid, see [`ChainState::check_commitments`]). With no transactions it is a
    /// commitment block, valid once [`ChainState::commitment_block_due`].
    pub fn build_block_with_commitments(
        &self,
        generator: &Identity,
        txs: Vec<Transaction>,
        transfers: Vec<Transfer>,
        channel_ops: Vec<doin_primitives::models::ChannelOp>,
        commitments: &[crate::commitment::OptimaeCommitment],
        timestamp: Timestamp,
    ) -> Result<Block, ConsensusError> {
        let checked = self.check_transfers(&transfers)?;
        let time = self.block_time(timestamp);
        let channels = self.check_channel_ops(&channel_ops, &checked, time)?;
        let (optimae, sum) = self.check_txs(&txs, time, Some(generator.peer_id()))?;
        let threshold = self.next_threshold();
        self.check_weight(sum, optimae.len(), commitments.len(), time)?;
        self.check_commitments(commitments)?;
        let height = self.height + 1;
        let header = BlockHeader {
            index: i64::try_from(height).unwrap_or(i64::MAX),
            previous_hash: self.tip_hash.clone(),
            timestamp: Timestamp::from_unix_micros(time),
            merkle_root: String::new(),
            generator_id: generator.peer_id().to_string(),
            weighted_performance_sum: sum,
            threshold,
        };
        let coinbase = self.expected_coinbase(
            height,
            generator.peer_id(),
            &optimae,
            checked.tips + channels.tips,
        );
        let mut txs = txs;
        txs.extend(
            commitments
                .iter()
                .map(crate::commitment::OptimaeCommitment::to_tx),
        );
        let mut block = Block::new(header, txs);
        if !transfers.is_empty() {
            let list = transfers.iter().map(WireModel::to_value).collect();
            block
                .extensions
                .insert(TRANSFERS_KEY.to_owned(), Value::Array(list));
        }
        if !channel_ops.is_empty() {
            let list = channel_ops.iter().map(WireModel::to_value).collect();
            block.extensions.insert(
                doin_primitives::models::CHANNEL_OPS_KEY.to_owned(),
                Value::Array(list),
            );
        }
        block.commit_extensions()?;
        block
            .extensions
            .insert(COINBASE_KEY.to_owned(), coinbase.to_value());
        block.seal = Some(generator.seal(SealKind::Block, &block.hash));
        Ok(block)
    }

    /// The timestamp (µs) a block built at `timestamp` carries: bumped to the tip's plus
    /// 1 µs when not after it.
    pub fn block_time(&self, timestamp: Timestamp) -> i64 {
        timestamp.unix_micros().max(self.tip_time_micros + 1)
    }
}
