//! Pending optimae ([`PendingOptimae`]): optimae verified by their quorum, scored and sealed
//! as accepted-optimae transactions, waiting until their effective increments reach the
//! threshold and a work block is due. The chain service keeps one; the simulator
//! (`doin-sim`) keeps one per simulated node, so both admit, revalidate and mint by the
//! same rules without I/O: the caller passes the chain state and the time.
//!
//! An optimae is scored when it arrives (reputation, the quorum's votes, its increment over
//! the domain's best and the ones already pending) and checked in full with the pending
//! ones (`ChainState::pending_sum_at`, the check a block's optimae get), so an optimae
//! whose votes were judged on another branch never waits in front of the others. Every new
//! tip checks them again ([`PendingOptimae::revalidate`]): one whose recorded increment
//! the new tip changed (another optimae raised the domain's best, but not past this one)
//! is scored again from its reveal and votes; one that no longer improves on the domain's
//! best, or whose commitment left the chain, is dropped. (Dropping every optimae whose
//! increment changed, as the node once did, lost most of a partitioned half's work: the
//! simulator's long-partition run found it.)

use doin_consensus::accepted::{AcceptedOptimae, Experiment, Reveal};
use doin_consensus::vote::QuorumVote;
use doin_consensus::{ChainState, ConsensusError};
use doin_primitives::identity::Identity;
use doin_primitives::models::Transaction;
use doin_primitives::Timestamp;

use crate::mint_timer::MintTimer;

/// Accepted optimae waiting for a work block, in the order they arrived.
#[derive(Debug, Clone, Default)]
pub struct PendingOptimae {
    txs: Vec<Transaction>,
    /// What each transaction was built from, to score it again at a new tip.
    sources: Vec<Source>,
}

/// A verified optimae as the optimizer handed it over.
#[derive(Debug, Clone)]
struct Source {
    reveal: Reveal,
    votes: Vec<QuorumVote>,
    experiment: Experiment,
}

impl PendingOptimae {
    /// None pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// Scores a verified optimae of `optimizer` (the node's own `identity` seals it)
    /// against `state` and the pending ones at `at_micros`, and keeps it if the rules accept
    /// it with them; its effective (weighted, reputation-scaled) increment.
    pub fn submit(
        &mut self,
        state: &ChainState,
        identity: &Identity,
        reveal: &Reveal,
        votes: &[QuorumVote],
        experiment: &Experiment,
        at_micros: i64,
    ) -> Result<f64, ConsensusError> {
        let scoring =
            state.score_optimae_after(&self.txs, reveal, identity.peer_id(), votes, at_micros)?;
        let tx = AcceptedOptimae::build(identity, reveal, &scoring, votes, experiment);
        self.txs.push(tx);
        if let Err(e) = state.pending_sum_at(&self.txs, at_micros) {
            self.txs.pop();
            return Err(e);
        }
        self.sources.push(Source {
            reveal: reveal.clone(),
            votes: votes.to_vec(),
            experiment: experiment.clone(),
        });
        Ok(scoring.effective_increment)
    }

    /// Keeps, in order, the pending optimae that still fit the tip of `state` at
    /// `at_micros` with the ones kept before them, scoring again (and sealing with
    /// `identity`) those whose recorded numbers the tip changed; how many were dropped.
    pub fn revalidate(&mut self, state: &ChainState, identity: &Identity, at_micros: i64) -> usize {
        let before = self.txs.len();
        let mut kept: Vec<Transaction> = Vec::with_capacity(before);
        let mut sources = Vec::with_capacity(before);
        let txs = std::mem::take(&mut self.txs);
        for (tx, source) in txs.into_iter().zip(std::mem::take(&mut self.sources)) {
            kept.push(tx);
            if state.pending_sum_at(&kept, at_micros).is_ok() {
                sources.push(source);
                continue;
            }
            kept.pop();
            let Ok(scoring) = state.score_optimae_after(
                &kept,
                &source.reveal,
                identity.peer_id(),
                &source.votes,
                at_micros,
            ) else {
                continue;
            };
            kept.push(AcceptedOptimae::build(
                identity,
                &source.reveal,
                &scoring,
                &source.votes,
                &source.experiment,
            ));
            if state.pending_sum_at(&kept, at_micros).is_ok() {
                sources.push(source);
            } else {
                kept.pop();
            }
        }
        self.txs = kept;
        self.sources = sources;
        before - self.txs.len()
    }

    /// The sum of their effective increments in a block at `at_micros` (an error if they
    /// no longer fit the tip; [`Self::revalidate`] drops those).
    pub fn sum_at(&self, state: &ChainState, at_micros: i64) -> Result<f64, ConsensusError> {
        state.pending_sum_at(&self.txs, at_micros)
    }

    /// Whether node `peer_id` may mint them in a work block at `now`: a work block is due
    /// by `timer` ([`MintTimer::work_block_due`]), some are pending and their sum reaches
    /// the next threshold.
    pub fn work_block_due(
        &self,
        timer: &mut MintTimer,
        state: &ChainState,
        peer_id: &str,
        now: Timestamp,
    ) -> bool {
        // The timer is asked first, pending or not: the call is how it learns when this
        // node first saw its tip, where the wait for its next work block may start.
        timer.work_block_due(state, peer_id, now)
            && !self.txs.is_empty()
            && self
                .sum_at(state, now.unix_micros())
                .is_ok_and(|sum| sum >= state.next_threshold())
    }

    /// The pending transactions, in order.
    pub fn transactions(&self) -> &[Transaction] {
        &self.txs
    }

    /// How many are pending.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// Whether none is pending.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// Forgets them all (they went into a block, or the block they made was refused).
    pub fn clear(&mut self) {
        self.txs.clear();
        self.sources.clear();
    }
}
