//! Blocks from peers: a segment that extends our tip is validated and appended; one that
//! forks from our chain is weighed against ours page by page ([`PendingBranch`]) and
//! adopted only when heavier, never below the finalized height nor against an anchor.
//! Blocks arrive here with their stateless rules checked ([`CheckedBlock`], on every core
//! by [`super::checks`]); every rule that needs the chain runs here, block after block.

use std::collections::BTreeMap;

use doin_consensus::fork_choice::ReorgVerdict;
use doin_consensus::state::ChainState;
use doin_consensus::CheckedBlock;
use doin_primitives::models::{Block, ChannelOp, Transfer};
use doin_store::StoreError;

use super::open::note_best_parameters;
use super::service::Service;
use crate::pending_branch::PendingBranch;

/// What became of a segment of blocks received from a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    /// The blocks extended our tip (this many appended).
    Extended(usize),
    /// A heavier branch replaced ours above `fork_point`.
    Reorganized {
        /// The last block both branches share.
        fork_point: u64,
        /// Blocks of ours removed.
        removed: u64,
        /// Blocks of theirs appended.
        appended: usize,
    },
    /// We already had these blocks, or our branch is at least as heavy.
    Kept,
}

/// Why blocks received from a peer were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImportError {
    /// A negative index, or the genesis block (which no peer may send).
    #[error("block index {0} is not one a peer may send")]
    BadIndex(i64),
    /// The segment skips or repeats a height.
    #[error("blocks are not contiguous at {0}")]
    NotContiguous(i64),
    /// The segment starts above our tip.
    #[error("blocks start at {start} but our tip is {tip}: fetch the missing blocks first")]
    Gap {
        /// The first block's index.
        start: u64,
        /// Our tip's index.
        tip: u64,
    },
    /// A block breaks a consensus rule (the valid blocks before it are kept when they
    /// extend our tip).
    #[error("block {index} from peer is invalid: {source}")]
    InvalidBlock {
        /// The block's index.
        index: i64,
        /// The rule it breaks.
        #[source]
        source: doin_consensus::ConsensusError,
    },
    /// A valid branch that would revert our finalized block, refused whatever its weight
    /// ([`doin_consensus::fork_choice::judge_reorg`]).
    #[error("refusing a reorganisation at {fork_point}: below the finalized height {finalized}")]
    BelowFinality {
        /// The last block both chains share.
        fork_point: u64,
        /// Our finalized height.
        finalized: u64,
    },
    /// A branch that contradicts a published external anchor, refused whatever its weight
    /// ([`doin_consensus::anchor::check_branch`]).
    #[error("refusing the peer's blocks, they contradict a published anchor: {0}")]
    ContradictsAnchor(doin_consensus::anchor::AnchorError),
    /// The chain store failed.
    #[error("chain store: {0}")]
    Store(String),
    /// A thread checking blocks panicked.
    #[error("a block-checking thread panicked")]
    Panicked,
    /// The chain service has stopped.
    #[error("the chain service has stopped")]
    Stopped,
}

impl ImportError {
    fn invalid(b: &Block) -> impl FnOnce(doin_consensus::ConsensusError) -> ImportError {
        let index = b.header.index;
        move |source| ImportError::InvalidBlock { index, source }
    }
}

fn store_err(e: impl std::fmt::Display) -> ImportError {
    ImportError::Store(e.to_string())
}

impl Service {
    /// Imports `blocks`; when they changed our chain, the pending optimae and the pools
    /// are brought in line with the new tip and a fresh view is published.
    pub(super) fn on_import(
        &mut self,
        blocks: Vec<CheckedBlock>,
    ) -> Result<ImportOutcome, ImportError> {
        let outcome = self.import(blocks);
        if outcome.is_ok() {
            self.revalidate_pending();
            self.pools.prune(&self.state, self.clock.now_micros());
            self.publish();
        }
        outcome
    }

    fn import(&mut self, blocks: Vec<CheckedBlock>) -> Result<ImportOutcome, ImportError> {
        let Some(first) = blocks.first().map(CheckedBlock::block) else {
            return Ok(ImportOutcome::Kept);
        };
        // The next page of a branch being weighed, while our chain still holds its fork
        // point (our tip may have moved on meanwhile).
        let fork_hash = match &self.branch {
            Some(b) if b.continued_by(std::slice::from_ref(first)) => self
                .store
                .block_hash(b.fork_point as i64)
                .map_err(store_err)?,
            _ => None,
        };
        if let Some(pending) = self
            .branch
            .take()
            .filter(|b| fork_hash.as_deref() == Some(b.fork_hash.as_str()))
        {
            self.check_segment(pending.fork_point, &blocks)?;
            return self.weigh_branch(pending, blocks);
        }
        let start = u64::try_from(first.header.index)
            .ok()
            .filter(|s| *s > 0)
            .ok_or(ImportError::BadIndex(first.header.index))?;
        for (i, b) in blocks.iter().map(CheckedBlock::block).enumerate() {
            if u64::try_from(b.header.index).ok() != Some(start + i as u64) {
                return Err(ImportError::NotContiguous(b.header.index));
            }
        }
        // Skip the blocks we already have (same hash at the same height).
        let mut skip = 0;
        for b in blocks.iter().map(CheckedBlock::block) {
            match self.store.block_hash(b.header.index).map_err(store_err)? {
                Some(h) if h == b.hash => skip += 1,
                _ => break,
            }
        }
        let mut owned = blocks;
        owned.drain(..skip);
        let Some(first) = owned.first().map(CheckedBlock::block) else {
            return Ok(ImportOutcome::Kept);
        };
        let fork_point = u64::try_from(first.header.index - 1).unwrap_or(0);
        if fork_point > self.state.height() {
            return Err(ImportError::Gap {
                start: fork_point + 1,
                tip: self.state.height(),
            });
        }
        let first_hash = first.header.previous_hash.clone();
        self.check_segment(fork_point, &owned)?;
        if fork_point == self.state.height() {
            let state = &mut self.state;
            let failed = owned
                .iter()
                .enumerate()
                .find_map(|(i, b)| state.apply_checked_block(b).err().map(|e| (i, e)));
            if let Some((good, e)) = failed {
                // Keep the valid prefix: rebuild the state from what is stored, then store
                // and apply the blocks before the invalid one.
                let refusal = ImportError::invalid(owned[good].block())(e);
                self.reload_state();
                if good > 0 {
                    let prefix: Vec<Block> = owned
                        .into_iter()
                        .take(good)
                        .map(CheckedBlock::into_block)
                        .collect();
                    let _ = self.append_applied(&prefix, false);
                }
                return Err(refusal);
            }
            let blocks: Vec<Block> = owned.into_iter().map(CheckedBlock::into_block).collect();
            self.append_applied(&blocks, true)
                .map_err(ImportError::Store)?;
            crate::metrics::METRICS
                .blocks_imported
                .inc_by(blocks.len() as u64);
            tracing::info!(
                appended = blocks.len(),
                height = self.state.height(),
                "imported blocks"
            );
            return Ok(ImportOutcome::Extended(blocks.len()));
        }
        // Checked before validating the branch, so a doomed branch costs nothing;
        // `judge_reorg` below decides with the weights.
        if !self.state.reorg_allowed(fork_point) {
            return Err(ImportError::BelowFinality {
                fork_point,
                finalized: self.state.finalized_height(),
            });
        }
        // Rebuild the state at the fork point from our own store, then weigh their branch.
        let mut candidate = ChainState::new(self.state.params().clone());
        let mut best = BTreeMap::new();
        for b in self.store.blocks(1, fork_point as i64).map_err(store_err)? {
            candidate.apply_stored_block(&b).map_err(store_err)?;
            note_best_parameters(&mut best, &candidate, &b);
        }
        let pending = PendingBranch {
            fork_point,
            fork_hash: first_hash,
            candidate,
            best,
            blocks: Vec::new(),
        };
        self.weigh_branch(pending, owned)
    }

    /// The checks of a segment that need our clock and anchors but no chain state: no
    /// block dated ahead of our clock, no contradiction of an anchor (ids, hashes and
    /// signatures were checked before the blocks came here).
    fn check_segment(&self, fork_point: u64, blocks: &[CheckedBlock]) -> Result<(), ImportError> {
        let now = self.clock.now_micros();
        for b in blocks.iter().map(CheckedBlock::block) {
            doin_consensus::validate::check_not_in_future(b.header.timestamp.unix_micros(), now)
                .map_err(ImportError::invalid(b))?;
        }
        let start = blocks
            .first()
            .and_then(|b| u64::try_from(b.block().header.index).ok())
            .unwrap_or(fork_point + 1);
        doin_consensus::anchor::check_branch(
            self.anchorer.anchors(),
            fork_point,
            self.state.height(),
            (start..).zip(blocks.iter().map(|b| b.block().hash.as_str())),
        )
        .map_err(|e| {
            tracing::warn!(
                fork_point,
                "refused a branch that contradicts an anchor: {e}"
            );
            ImportError::ContradictsAnchor(e)
        })
    }

    /// Applies a segment of a competing branch to its candidate state (every rule, each
    /// block before the next is held), then adopts the branch if it is now heavier, or
    /// keeps it pending for the next page ([`PendingBranch`]).
    fn weigh_branch(
        &mut self,
        mut branch: PendingBranch,
        segment: Vec<CheckedBlock>,
    ) -> Result<ImportOutcome, ImportError> {
        for b in segment {
            branch
                .candidate
                .apply_checked_block(&b)
                .map_err(ImportError::invalid(b.block()))?;
            let b = b.into_block();
            note_best_parameters(&mut branch.best, &branch.candidate, &b);
            branch.blocks.push(b);
        }
        let verdict = doin_consensus::fork_choice::judge_reorg(
            branch.fork_point,
            &doin_consensus::fork_choice::chain_weight(&branch.candidate),
            &doin_consensus::fork_choice::chain_weight(&self.state),
        );
        match verdict {
            ReorgVerdict::Adopt => {}
            ReorgVerdict::KeepOurs => {
                self.branch = Some(branch);
                return Ok(ImportOutcome::Kept);
            }
            ReorgVerdict::BelowFinality {
                fork_point,
                finalized,
            } => {
                return Err(ImportError::BelowFinality {
                    fork_point,
                    finalized,
                })
            }
        }
        let PendingBranch {
            fork_point,
            candidate,
            best,
            blocks,
            ..
        } = branch;
        let blocks = blocks.as_slice();
        // Transfers and channel operations of our blocks that leave the chain go back to
        // their pools.
        let leaving = self
            .store
            .blocks(fork_point as i64 + 1, self.state.height() as i64)
            .map_err(store_err)?;
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
            .truncate_above(fork_point as i64)
            .map_err(store_err)?;
        self.store.append_batch(blocks).map_err(store_err)?;
        self.state = candidate;
        self.pools.mempool.readmit(orphaned, &self.state);
        self.pools
            .channel_pool
            .readmit(orphaned_ops, &self.state, self.clock.now_micros());
        self.best_parameters = best;
        self.tip = blocks
            .last()
            .map(|b| (b.header.clone(), b.transactions.len() as i64));
        if let Some(stats) = &self.stats {
            stats.rollback_above(fork_point as i64);
            for b in blocks {
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
        Ok(ImportOutcome::Reorganized {
            fork_point,
            removed,
            appended: blocks.len(),
        })
    }

    /// Stores blocks in one SQLite transaction; `applied` says whether the state already
    /// holds them (otherwise they are applied first). On a store failure the state is
    /// rebuilt from the store.
    pub(super) fn append_applied(&mut self, blocks: &[Block], applied: bool) -> Result<(), String> {
        if !applied {
            for b in blocks {
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
        for b in blocks {
            note_best_parameters(&mut self.best_parameters, &self.state, b);
            if let Some(stats) = &self.stats {
                stats.record_block(b);
            }
        }
        if let Some(b) = blocks.last() {
            self.tip = Some((b.header.clone(), b.transactions.len() as i64));
        }
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
    }
}
