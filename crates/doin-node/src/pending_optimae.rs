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
//!
//! Besides the node's own optimae ([`PendingOptimae::submit`], sealed by the node as their
//! optimizer), it keeps other optimizers' verified optimae heard over gossip
//! ([`PendingOptimae::admit`]): their claim seals and votes are checked, they are scored
//! like the node's own, and the node carries them in the block it mints, sealed as its
//! generator ([`doin_consensus::carried`]). Every check runs for a block this node
//! generates ([`ChainState::pending_sum_by`]).

use doin_consensus::accepted::{AcceptedOptimae, Experiment, Reveal, Scoring};
use doin_consensus::carried::VerifiedOptimae;
use doin_consensus::vote::QuorumVote;
use doin_consensus::{ChainState, ConsensusError};
use doin_primitives::identity::Identity;
use doin_primitives::models::Transaction;
use doin_primitives::Timestamp;

use crate::mint_timer::MintTimer;

/// Optimae kept waiting for a work block at most. A domain that has converged can go on
/// admitting improvements too small to reach the threshold together; every mint check
/// and every new tip checks the pending ones again, so their number is bounded.
pub const MAX_PENDING: usize = 256;

/// Why an optimae was not kept pending.
#[derive(Debug, thiserror::Error)]
pub enum PendingError {
    /// [`MAX_PENDING`] optimae wait already.
    #[error("{max} optimae wait for a work block already; this one is not kept")]
    Full {
        /// The bound.
        max: usize,
    },
    /// The chain's rules refuse it (with the ones pending before it).
    #[error(transparent)]
    Rules(#[from] ConsensusError),
}

/// Accepted optimae waiting for a work block, in the order they arrived.
#[derive(Debug, Clone, Default)]
pub struct PendingOptimae {
    txs: Vec<Transaction>,
    /// What each transaction was built from, to score it again at a new tip.
    sources: Vec<Source>,
}

/// A verified optimae as the optimizer handed it over: the node's own (no claim seal,
/// sealed by the node as its optimizer), or another optimizer's, carried.
#[derive(Debug, Clone)]
struct Source(VerifiedOptimae);

impl Source {
    /// Its transaction at the tip `scoring` was computed for, sealed by `identity`: the
    /// optimizer's own form when the node is its optimizer and holds no claim seal, else
    /// carried.
    fn build(&self, identity: &Identity, scoring: &Scoring) -> Transaction {
        let v = &self.0;
        if v.claim_seal.is_none() {
            AcceptedOptimae::build(identity, &v.reveal, scoring, &v.votes, &v.experiment)
        } else {
            v.carry(identity, scoring)
        }
    }
}

impl PendingOptimae {
    /// None pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// Scores a verified optimae of this node (`identity` is its optimizer and seals it)
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
    ) -> Result<f64, PendingError> {
        let own = VerifiedOptimae {
            optimizer_id: identity.peer_id().to_string(),
            reveal: reveal.clone(),
            votes: votes.to_vec(),
            experiment: experiment.clone(),
            claim_seal: None,
        };
        self.keep(state, identity, Source(own), at_micros)
    }

    /// Scores a verified optimae of another optimizer (heard over gossip) as
    /// [`Self::submit`] does, once its claim seal and its votes' seals hold, and keeps it to
    /// carry in the block this node (`identity`) mints; its effective increment. An optimae
    /// already pending, or already on chain, is refused by the rules
    /// ([`ConsensusError::DuplicateOptimae`], [`ConsensusError::CommitmentReused`]).
    pub fn admit(
        &mut self,
        state: &ChainState,
        identity: &Identity,
        verified: &VerifiedOptimae,
        at_micros: i64,
    ) -> Result<f64, PendingError> {
        verified.check_seals()?;
        self.keep(state, identity, Source(verified.clone()), at_micros)
    }

    fn keep(
        &mut self,
        state: &ChainState,
        identity: &Identity,
        source: Source,
        at_micros: i64,
    ) -> Result<f64, PendingError> {
        if self.txs.len() >= MAX_PENDING {
            return Err(PendingError::Full { max: MAX_PENDING });
        }
        let me = identity.peer_id();
        let v = &source.0;
        let scoring = state.score_optimae_by(
            &self.txs,
            &v.reveal,
            &v.optimizer_id,
            &v.votes,
            at_micros,
            me,
        )?;
        self.txs.push(source.build(identity, &scoring));
        if let Err(e) = state.pending_sum_by(&self.txs, at_micros, me) {
            self.txs.pop();
            return Err(e.into());
        }
        self.sources.push(source);
        Ok(scoring.effective_increment)
    }

    /// Keeps, in order, the pending optimae that still fit the tip of `state` at
    /// `at_micros` with the ones kept before them, scoring again (and sealing with
    /// `identity`) those whose recorded numbers the tip changed; how many were dropped.
    pub fn revalidate(&mut self, state: &ChainState, identity: &Identity, at_micros: i64) -> usize {
        let before = self.txs.len();
        let mut kept: Vec<Transaction> = Vec::with_capacity(before);
        let mut sources = Vec::with_capacity(before);
        // One pass: each is checked after the ones kept before it.
        let mut check = state.pending_check(at_micros, identity.peer_id());
        let txs = std::mem::take(&mut self.txs);
        for (tx, source) in txs.into_iter().zip(std::mem::take(&mut self.sources)) {
            if check.check(&tx).is_ok() {
                kept.push(tx);
                sources.push(source);
                continue;
            }
            let v = &source.0;
            let Ok(scoring) = check.score(&v.reveal, &v.optimizer_id, &v.votes) else {
                continue;
            };
            let rescored = source.build(identity, &scoring);
            if check.check(&rescored).is_ok() {
                kept.push(rescored);
                sources.push(source);
            }
        }
        self.txs = kept;
        self.sources = sources;
        before - self.txs.len()
    }

    /// The sum of their effective increments in a block by `generator` (this node) at
    /// `at_micros` (an error if they no longer fit the tip; [`Self::revalidate`] drops
    /// those).
    pub fn sum_at(
        &self,
        state: &ChainState,
        generator: &str,
        at_micros: i64,
    ) -> Result<f64, ConsensusError> {
        state.pending_sum_by(&self.txs, at_micros, generator)
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
                .sum_at(state, peer_id, now.unix_micros())
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

#[cfg(test)]
pub(crate) mod tests {
    use doin_consensus::ChainParams;
    use doin_primitives::seal::SealKind;

    use super::*;

    /// A verified optimae of `optimizer` on the quadratic domain, committed at height 0,
    /// without votes (also the chain service's tests' gossiped optimae).
    pub(crate) fn verified(optimizer: &Identity) -> VerifiedOptimae {
        let reveal = Reveal {
            domain_id: "quadratic".into(),
            parameters: doin_primitives::map! { "x" => 1.0 },
            nonce: "00".repeat(16),
            reported_performance: -1.0,
            commit_height: 0,
            timestamp: Timestamp::from_unix_secs(1_767_225_600),
        };
        VerifiedOptimae::sealed(optimizer, &reveal, &[], &Experiment::default())
    }

    #[test]
    fn a_forged_claim_is_refused_before_the_chain_is_read() {
        let [a, b, c] = [1u8, 2, 3].map(|k| Identity::from_scalar_bytes(&[k; 32]).expect("key"));
        let state = ChainState::new(ChainParams::solo_default());
        let mut pending = PendingOptimae::new();
        let mut forged = verified(&a);
        forged.claim_seal = Some(c.seal(SealKind::CarriedClaim, &forged.claim_id()));
        assert!(matches!(
            pending.admit(&state, &b, &forged, 0),
            Err(PendingError::Rules(ConsensusError::BadOptimizerSeal(_)))
        ));
        // An unsealed one is no claim either.
        forged.claim_seal = None;
        assert!(matches!(
            pending.admit(&state, &b, &forged, 0),
            Err(PendingError::Rules(ConsensusError::BadOptimizerSeal(_)))
        ));
        // A genuine claim passes the seals and meets the rules (here: no such commitment).
        assert!(!matches!(
            pending.admit(&state, &b, &verified(&a), 0),
            Err(PendingError::Rules(ConsensusError::BadOptimizerSeal(_))) | Ok(_)
        ));
        assert!(pending.is_empty());
    }

    #[test]
    fn no_more_than_max_pending_wait() {
        let [a, b] = [1u8, 2].map(|k| Identity::from_scalar_bytes(&[k; 32]).expect("key"));
        let state = ChainState::new(ChainParams::solo_default());
        let mut pending = PendingOptimae::new();
        // Below the bound, the rules judge (here: no such commitment on chain).
        assert!(matches!(
            pending.admit(&state, &b, &verified(&a), 0),
            Err(PendingError::Rules(_))
        ));
        // At the bound, nothing more is scored.
        let filler = Transaction::new(
            doin_primitives::models::TransactionType::OptimaeAccepted,
            "quadratic",
            a.peer_id(),
            doin_primitives::value::Map::new(),
            Timestamp::from_unix_secs(1_767_225_600),
        );
        pending.txs = vec![filler; MAX_PENDING];
        assert!(matches!(
            pending.admit(&state, &b, &verified(&a), 0),
            Err(PendingError::Full { max: MAX_PENDING })
        ));
    }
}
