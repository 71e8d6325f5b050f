//! Blocks from peers, over `chain.db`: the chain service's side of
//! [`crate::chain_import`] (which decides what to keep), that is, the blocks and state it
//! keeps, how it rebuilds the state at a fork point (by replaying its store from the newest
//! kept state below it, [`crate::state_checkpoints`]), and what a
//! reorganisation does to its store, pools and stats. Blocks arrive here with their
//! stateless rules checked ([`CheckedBlock`], on every core by [`super::checks`]); every
//! rule that needs the chain runs here, block after block.

use std::borrow::Borrow;
use std::collections::BTreeMap;

use doin_consensus::anchor::AnchorSet;
use doin_consensus::state::ChainState;
use doin_consensus::{CheckedBlock, ConsensusError};
use doin_primitives::models::{Block, ChannelOp, Transfer};
use doin_primitives::value::Map;
use doin_store::StoreError;

use super::open::note_best_parameters;
use super::service::Service;
use crate::chain_import::{ImportError, ImportOutcome, KeptChain};

impl Service {
    /// Imports `blocks`; when they changed our chain, the pending optimae and the pools
    /// are brought in line with the new tip and a fresh view is published.
    pub(super) fn on_import(
        &mut self,
        blocks: Vec<CheckedBlock>,
    ) -> Result<ImportOutcome, ImportError> {
        let mut importer = std::mem::take(&mut self.importer);
        let now = self.clock.now_micros();
        let outcome = importer.import(self, blocks, now);
        self.importer = importer;
        if let Ok(ImportOutcome::Extended(appended)) = &outcome {
            crate::metrics::METRICS
                .blocks_imported
                .inc_by(*appended as u64);
            tracing::info!(appended, height = self.state.height(), "imported blocks");
        }
        if outcome.is_ok() {
            self.revalidate_pending();
            self.pools.prune(&self.state, self.clock.now_micros());
            self.publish();
        }
        outcome
    }

    /// Stores blocks in one SQLite transaction; `applied` says whether the state already
    /// holds them (otherwise they are applied first). On a store failure the state is
    /// rebuilt from the store.
    pub(super) fn append_applied<B: Borrow<Block>>(
        &mut self,
        blocks: &[B],
        applied: bool,
    ) -> Result<(), String> {
        if !applied {
            for b in blocks.iter().map(Borrow::borrow) {
                self.state
                    .apply_stored_block(b)
                    .map_err(|e| e.to_string())?;
            }
        }
        if let Err(e) = self.store.append_batch(blocks) {
            tracing::error!("cannot store blocks: {e}; rebuilding state from the store");
            self.reload_state();
            return Err(e.to_string());
        }
        for b in blocks.iter().map(Borrow::borrow) {
            note_best_parameters(&mut self.best_parameters, &self.state, b);
            if let Some(stats) = &self.stats {
                stats.record_block(b);
            }
        }
        if let Some(b) = blocks.last().map(Borrow::borrow) {
            self.tip = Some((b.header.clone(), b.transactions.len() as i64));
        }
        self.checkpoints.record(&self.state, &self.best_parameters);
        Ok(())
    }

    /// Rebuilds the state (and the best parameters) from the store.
    fn reload_state(&mut self) {
        let mut state = ChainState::new(self.state.params().clone());
        let mut best = BTreeMap::new();
        let replayed = self
            .store
            .for_each_block(1, |b: Block| -> Result<(), StoreError> {
                if state.apply_stored_block(&b).is_ok() {
                    note_best_parameters(&mut best, &state, &b);
                }
                Ok(())
            });
        if let Err(e) = replayed {
            tracing::error!("cannot re-read the chain store: {e}");
            return;
        }
        self.state = state;
        self.best_parameters = best;
        self.checkpoints.clear();
        self.checkpoints.record(&self.state, &self.best_parameters);
    }
}

/// The chain service keeps checked blocks: their ids, hashes and signatures were checked
/// before they came ([`super::checks`]), so the content and signature steps of
/// [`crate::chain_import`] have nothing left to do.
impl KeptChain for Service {
    type Block = CheckedBlock;
    /// Best parameters per domain along the chain.
    type Derived = BTreeMap<String, Map>;

    fn state(&self) -> &ChainState {
        &self.state
    }

    fn hash_at(&self, height: u64) -> Result<Option<String>, ImportError> {
        let height = i64::try_from(height).map_err(ImportError::store)?;
        self.store.block_hash(height).map_err(ImportError::store)
    }

    fn anchors(&self) -> &AnchorSet {
        self.anchorer.anchors()
    }

    fn check_content(&mut self, _block: &CheckedBlock) -> Result<(), ConsensusError> {
        Ok(())
    }

    fn verify_signatures(&mut self, _blocks: &[CheckedBlock]) -> Result<(), ImportError> {
        Ok(())
    }

    fn apply_to_tip(&mut self, block: &CheckedBlock) -> Result<(), ConsensusError> {
        self.state.apply_checked_block(block).map(|_| ())
    }

    fn keep(&mut self, blocks: &[CheckedBlock]) -> Result<(), ImportError> {
        self.append_applied(blocks, true)
            .map_err(ImportError::Store)
    }

    /// Replays our store up to `height` from the newest kept state at or below it that is
    /// still on our chain ([`crate::state_checkpoints`]), or from genesis.
    fn state_at(&mut self, height: u64) -> Result<(ChainState, Self::Derived), ImportError> {
        let store = &self.store;
        let base = self.checkpoints.at_or_below(height, |h, hash| {
            i64::try_from(h)
                .ok()
                .and_then(|h| store.block_hash(h).ok().flatten())
                .is_some_and(|stored| stored == hash)
        });
        let (mut state, mut best) = match base {
            Some((state, best)) => (state.clone(), best.clone()),
            None => (
                ChainState::new(self.state.params().clone()),
                BTreeMap::new(),
            ),
        };
        let from = i64::try_from(state.height()).map_err(ImportError::store)? + 1;
        let height = i64::try_from(height).map_err(ImportError::store)?;
        if from <= height {
            for b in self
                .store
                .blocks(from, height)
                .map_err(ImportError::store)?
            {
                state.apply_stored_block(&b).map_err(ImportError::store)?;
                note_best_parameters(&mut best, &state, &b);
            }
        }
        Ok((state, best))
    }

    fn apply_to_branch(
        &mut self,
        state: &mut ChainState,
        best: &mut Self::Derived,
        block: &CheckedBlock,
    ) -> Result<(), ConsensusError> {
        state.apply_checked_block(block)?;
        note_best_parameters(best, state, block.block());
        Ok(())
    }

    /// Also returns the transfers and channel operations of our blocks that leave the
    /// chain to their pools, and rolls the stats back to the fork point.
    fn reorganize(
        &mut self,
        fork_point: u64,
        blocks: Vec<CheckedBlock>,
        state: ChainState,
        best: Self::Derived,
    ) -> Result<u64, ImportError> {
        let blocks: Vec<Block> = blocks.into_iter().map(CheckedBlock::into_block).collect();
        let fork = i64::try_from(fork_point).map_err(ImportError::store)?;
        let leaving = self
            .store
            .blocks(fork + 1, self.state.height() as i64)
            .map_err(ImportError::store)?;
        let orphaned: Vec<Transfer> = leaving
            .iter()
            .flat_map(|b| b.transfers().unwrap_or_default())
            .collect();
        let orphaned_ops: Vec<ChannelOp> = leaving
            .iter()
            .flat_map(|b| b.channel_ops().unwrap_or_default())
            .collect();
        let removed = self
            .store
            .truncate_above(fork)
            .map_err(ImportError::store)?;
        self.store
            .append_batch(&blocks)
            .map_err(ImportError::store)?;
        self.state = state;
        self.pools.mempool.readmit(orphaned, &self.state);
        self.pools
            .channel_pool
            .readmit(orphaned_ops, &self.state, self.clock.now_micros());
        self.best_parameters = best;
        self.checkpoints.forget_above(fork_point);
        self.checkpoints.record(&self.state, &self.best_parameters);
        self.tip = blocks
            .last()
            .map(|b| (b.header.clone(), b.transactions.len() as i64));
        if let Some(stats) = &self.stats {
            stats.rollback_above(fork);
            for b in &blocks {
                stats.record_block(b);
            }
        }
        tracing::warn!(
            fork_point,
            removed,
            appended = blocks.len(),
            height = self.state.height(),
            "reorganized to a heavier branch"
        );
        Ok(removed)
    }
}
