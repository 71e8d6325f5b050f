//! Minting: optimae verified by their quorum wait here, pending, until their effective
//! increments reach the threshold and a work block is due; commitments get a commitment
//! block of their own when no work block comes ([`crate::mint_schedule`]). Every block this
//! node mints is validated like a received one before it is stored.

use doin_consensus::accepted::{Experiment, Reveal};
use doin_consensus::carried::VerifiedOptimae;
use doin_consensus::vote::QuorumVote;
use doin_primitives::models::{Block, ChannelOp, Transaction, Transfer};
use doin_primitives::Timestamp;

use super::open::note_best_parameters;
use super::service::Service;
use crate::block_assembly::{assemble_block, BlockContents};

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
        let effective_increment = self
            .pending
            .submit(
                &self.state,
                &self.identity,
                &p.reveal,
                &p.votes,
                &p.experiment,
                self.clock.now_micros(),
            )
            .map_err(|e| e.to_string())?;
        let minted = self.try_mint();
        if minted.is_none() {
            // Whoever mints next may carry it ([`crate::optimae_gossip`]).
            self.pools.relay_optimae(VerifiedOptimae::sealed(
                &self.identity,
                &p.reveal,
                &p.votes,
                &p.experiment,
            ));
        }
        self.publish();
        Ok(SubmitOutcome {
            effective_increment,
            minted,
        })
    }

    /// Admits another optimizer's verified optimae to the pending ones (this node carries
    /// it in the next block it mints), and mints at once if a block is due.
    pub(super) fn admit(
        &mut self,
        optimae: &VerifiedOptimae,
    ) -> Result<f64, crate::pending_optimae::PendingError> {
        let increment = self.pending.admit(
            &self.state,
            &self.identity,
            optimae,
            self.clock.now_micros(),
        )?;
        self.try_mint();
        self.publish();
        Ok(increment)
    }

    /// Brings the pending optimae in line with the new tip: scored again where their
    /// numbers changed, dropped where they no longer improve.
    pub(super) fn revalidate_pending(&mut self) {
        self.pending
            .revalidate(&self.state, &self.identity, self.clock.now_micros());
    }

    /// The next block from `optimae` (the pending ones, or none for a commitment block),
    /// `transfers` and `channel_ops`, with the pool's commitments and rejection evidence
    /// ([`crate::block_assembly`]); a pool whose commitments sink the block is dropped,
    /// evidence that does not fit waits for a later block.
    fn assemble(
        &mut self,
        optimae: Vec<Transaction>,
        transfers: Vec<Transfer>,
        channel_ops: Vec<ChannelOp>,
        stamp: Timestamp,
    ) -> Result<Block, doin_consensus::ConsensusError> {
        let commitment_block = optimae.is_empty();
        let contents = BlockContents {
            optimae,
            transfers,
            channel_ops,
            commitments: self.pools.commitments.ordered(),
            evidence: self
                .pools
                .rejections
                .evidence(&self.state, self.state.block_time(stamp)),
        };
        match assemble_block(&self.state, &self.identity, contents, stamp) {
            Ok(a) => {
                if let Some(e) = a.commitments_refused {
                    tracing::warn!("commitments left out of the block: {e}; dropping the pool");
                    self.pools.commitments.clear();
                }
                if let Some(e) = a.evidence_refused {
                    tracing::warn!("rejection evidence left out of the block: {e}");
                }
                Ok(a.block)
            }
            Err(e) => {
                if commitment_block {
                    tracing::warn!("cannot build a commitment block: {e}; dropping the pool");
                    self.pools.commitments.clear();
                }
                Err(e)
            }
        }
    }

    /// Mints a work block when the pending optimae reach the threshold and one is due
    /// ([`crate::mint_schedule::work_block_due_since`]: the wait runs from the tip's date,
    /// or from when this node adopted the tip if that is earlier, so that a peer whose
    /// clock runs fast within the allowed drift cannot hold our work blocks back);
    /// otherwise a later tick tries again.
    fn try_mint(&mut self) -> Option<i64> {
        if !self
            .gate
            .is_open(self.clock.now_micros(), self.state.cumulative_work())
        {
            return None;
        }
        let due = self.pending.work_block_due(
            &mut self.timer,
            &self.state,
            self.identity.peer_id(),
            self.clock.now(),
        );
        if !due {
            return None;
        }
        self.mint(self.pending.transactions().to_vec())
    }

    /// Mints a work block when one is due ([`Self::try_mint`]), else a commitment block
    /// when the pool holds commitments and one is due at this node's turn
    /// ([`crate::mint_schedule::commitment_block_due`]: the optimizers whose commitments
    /// the pool holds take turns, from when the block is due or the pool received a
    /// commitment at this tip, whichever is later); the pending optimae stay pending.
    /// Nothing is minted while the [`crate::mint_gate::MintGate`] is shut.
    pub(super) fn try_mint_due(&mut self) -> Option<i64> {
        if !self
            .gate
            .is_open(self.clock.now_micros(), self.state.cumulative_work())
        {
            return None;
        }
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
        let minted = self.mint(Vec::new());
        self.revalidate_pending();
        minted
    }

    /// Builds, validates, stores and applies the next block with `txs` (the pending
    /// optimae, cleared once minted, or none for a commitment block, which leaves them
    /// pending), the best transfers and channel operations, the pool's commitments and the
    /// rejection evidence that fits.
    fn mint(&mut self, txs: Vec<Transaction>) -> Option<i64> {
        let transfers = self.state.select_transfers(self.pools.mempool.ordered());
        let stamp = self.clock.now();
        let channel_ops = self.state.select_channel_ops(
            self.pools.channel_pool.ordered(),
            &transfers,
            self.state.block_time(stamp),
        );
        let commitment_block = txs.is_empty();
        let block = match self.assemble(txs, transfers, channel_ops, stamp) {
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
            if commitment_block {
                tracing::error!("minted commitment block fails validation: {e}");
            } else {
                tracing::error!("minted block fails validation: {e}; dropping the pending optimae");
                self.pending.clear();
            }
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
        self.checkpoints.record(&self.state, &self.best_parameters);
        self.tip = Some((block.header.clone(), block.transactions.len() as i64));
        if !commitment_block {
            self.pending.clear();
        }
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
        let index = block.header.index;
        self.minted = Some(std::sync::Arc::new(block));
        Some(index)
    }
}
