//! Minting: optimae verified by their quorum wait here, pending, until their effective
//! increments reach the threshold and a work block is due; commitments get a commitment
//! block of their own when no work block comes ([`crate::mint_schedule`]). Every block this
//! node mints is validated like a received one before it is stored.

use doin_consensus::accepted::{AcceptedOptimae, Experiment, Reveal};
use doin_consensus::vote::QuorumVote;
use doin_primitives::models::{Block, ChannelOp, Transaction, Transfer};
use doin_primitives::Timestamp;

use super::open::note_best_parameters;
use super::service::Service;

/// What became of a submitted optimae.
#[derive(Debug, Clone)]
pub struct SubmitOutcome {
    /// Its effective (weighted, reputation-scaled) increment.
    pub effective_increment: f64,
    /// The index of the block it made the node mint, if any.
    pub minted: Option<i64>,
}

/// An optimae that went through commit, reveal and its quorum: what the optimizer hands
/// to the chain.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// The revealed parameters and claim.
    pub reveal: Reveal,
    /// The quorum's signed votes.
    pub votes: Vec<QuorumVote>,
    /// Experiment metrics.
    pub experiment: Experiment,
}

impl Service {
    /// Scores a verified optimae against the state and the pending ones; kept pending if
    /// the rules accept it, and minted at once if a block is due.
    pub(super) fn submit(&mut self, p: Proposal) -> Result<SubmitOutcome, String> {
        let scoring = self
            .state
            .score_optimae_after(
                &self.pending,
                &p.reveal,
                self.identity.peer_id(),
                &p.votes,
                self.clock.now_micros(),
            )
            .map_err(|e| e.to_string())?;
        let tx =
            AcceptedOptimae::build(&self.identity, &p.reveal, &scoring, &p.votes, &p.experiment);
        let mut candidate = self.pending.clone();
        candidate.push(tx);
        self.state
            .pending_sum_at(&candidate, self.clock.now_micros())
            .map_err(|e| e.to_string())?;
        self.pending = candidate;
        let effective_increment = scoring.effective_increment;
        let minted = self.try_mint();
        self.publish();
        Ok(SubmitOutcome {
            effective_increment,
            minted,
        })
    }

    /// Drops pending optimae that no longer fit the new tip.
    pub(super) fn revalidate_pending(&mut self) {
        let mut kept: Vec<Transaction> = Vec::new();
        for tx in std::mem::take(&mut self.pending) {
            let mut candidate = kept.clone();
            candidate.push(tx);
            if self
                .state
                .pending_sum_at(&candidate, self.clock.now_micros())
                .is_ok()
            {
                kept = candidate;
            }
        }
        self.pending = kept;
    }

    /// The next block from the pending optimae, `transfers` and `channel_ops`, with the
    /// rejection evidence the pool holds; without it if the evidence does not fit (it waits
    /// for a later block).
    fn build_block_with_evidence(
        &mut self,
        txs: Vec<Transaction>,
        transfers: Vec<Transfer>,
        channel_ops: Vec<ChannelOp>,
        stamp: Timestamp,
    ) -> Result<Block, doin_consensus::ConsensusError> {
        let commitments = self.pools.commitments.ordered();
        let built = self.state.build_block_with_commitments(
            &self.identity,
            txs.clone(),
            transfers.clone(),
            channel_ops.clone(),
            &commitments,
            stamp,
        );
        let block = match built {
            Ok(b) => b,
            // The pool's commitments were checked at admission and every tip prunes it; if
            // one still breaks a rule, the pool is dropped rather than the optimae.
            Err(e) if !commitments.is_empty() && !txs.is_empty() => {
                tracing::warn!("commitments left out of the block: {e}");
                self.pools.commitments.clear();
                self.state.build_block_with_ops(
                    &self.identity,
                    txs,
                    transfers,
                    channel_ops,
                    stamp,
                )?
            }
            Err(e) => {
                if txs.is_empty() {
                    tracing::warn!("cannot build a commitment block: {e}; dropping the pool");
                    self.pools.commitments.clear();
                }
                return Err(e);
            }
        };
        let evidence = self
            .pools
            .rejections
            .evidence(&self.state, block.header.timestamp.unix_micros());
        if evidence.is_empty() {
            return Ok(block);
        }
        match self
            .state
            .add_rejections(&self.identity, block.clone(), &evidence)
        {
            Ok(b) => Ok(b),
            Err(e) => {
                tracing::warn!("rejection evidence left out of the block: {e}");
                Ok(block)
            }
        }
    }

    /// Mints a work block when the pending optimae reach the threshold and one is due
    /// ([`crate::mint_schedule::work_block_due_since`]: the wait runs from the tip's date,
    /// or from when this node adopted the tip if that is earlier, so that a peer whose
    /// clock runs fast within the allowed drift cannot hold our work blocks back);
    /// otherwise a later tick tries again.
    fn try_mint(&mut self) -> Option<i64> {
        let now = self.clock.now();
        if !self
            .timer
            .work_block_due(&self.state, self.identity.peer_id(), now)
        {
            return None;
        }
        let sum = self
            .state
            .pending_sum_at(&self.pending, now.unix_micros())
            .ok()?;
        let threshold = self.state.next_threshold();
        if sum < threshold {
            return None;
        }
        self.mint(self.pending.clone())
    }

    /// Mints a work block when one is due ([`Self::try_mint`]), else a commitment block
    /// when the pool holds commitments and one is due at this node's turn
    /// ([`crate::mint_schedule::commitment_block_due`]: the optimizers whose commitments
    /// the pool holds take turns, from when the block is due or the pool received a
    /// commitment at this tip, whichever is later); the pending optimae stay pending.
    pub(super) fn try_mint_due(&mut self) -> Option<i64> {
        if let Some(index) = self.try_mint() {
            return Some(index);
        }
        if !self.timer.commitment_block_due(
            &self.state,
            self.identity.peer_id(),
            self.pools.commitments.owners(),
            self.clock.now(),
        ) {
            return None;
        }
        let pending = std::mem::take(&mut self.pending);
        let minted = self.mint(Vec::new());
        self.pending = pending;
        self.revalidate_pending();
        minted
    }

    /// Builds, validates, stores and applies the next block with `txs` (the pending
    /// optimae, or none for a commitment block), the best transfers and channel
    /// operations, the pool's commitments and the rejection evidence that fits.
    fn mint(&mut self, txs: Vec<Transaction>) -> Option<i64> {
        let transfers = self.state.select_transfers(self.pools.mempool.ordered());
        let stamp = self.clock.now();
        let channel_ops = self.state.select_channel_ops(
            self.pools.channel_pool.ordered(),
            &transfers,
            self.state.block_time(stamp),
        );
        let commitment_block = txs.is_empty();
        let block = match self.build_block_with_evidence(txs, transfers, channel_ops, stamp) {
            Ok(b) => b,
            Err(_) if commitment_block => return None,
            Err(e) => {
                tracing::error!(
                    "cannot build a block from the pending optimae: {e}; dropping them"
                );
                self.pending.clear();
                return None;
            }
        };
        if let Err(e) = self.state.validate_block(&block) {
            tracing::error!("minted block fails validation: {e}; dropping the pending optimae");
            self.pending.clear();
            return None;
        }
        if let Err(e) = self.store.append(&block) {
            tracing::error!("cannot store block {}: {e}", block.header.index);
            return None;
        }
        if let Err(e) = self.state.apply_block(&block) {
            tracing::error!("stored block {} does not apply: {e}", block.header.index);
            return None;
        }
        note_best_parameters(&mut self.best_parameters, &self.state, &block);
        self.tip = Some((block.header.clone(), block.transactions.len() as i64));
        self.pending.clear();
        self.pools.prune(&self.state, self.clock.now_micros());
        if let Some(stats) = &self.stats {
            stats.record_block(&block);
        }
        crate::metrics::METRICS.blocks_minted.inc();
        tracing::info!(
            index = block.header.index,
            hash = %block.hash,
            optimae = block.layout().map_or(0, |l| l.accepted.len()),
            sum = block.header.weighted_performance_sum,
            threshold = block.header.threshold,
            "minted block"
        );
        Some(block.header.index)
    }
}
