//! The commitment pool: optimizers' sealed commitments ([`OptimaeCommitment`]) waiting for
//! a block, owned by the chain service beside the mempool. Every block the node mints
//! carries the pool's commitments (oldest first, at most
//! [`MAX_COMMITMENTS_PER_BLOCK`]), and when nothing reaches the threshold the service
//! mints a commitment block for them once one is due
//! ([`doin_consensus::commitment`]).
//!
//! * **Admission** ([`CommitmentPool::insert`]): sealed by its optimizer's key, for a
//!   domain of the chain, not on chain yet, not pending already; at most
//!   [`MAX_PENDING_PER_OPTIMIZER`] pending per optimizer and [`DEFAULT_CAPACITY`] in all
//!   (a full pool refuses; commitments expire, so room comes back).
//! * **After a block** ([`CommitmentPool::prune`]): commitments the chain now carries or
//!   used leave, and so does every commitment older than [`COMMITMENT_TTL`].
//!
//! No I/O and no clock of its own: the time comes in as an argument (µs since the Unix
//! epoch, by the node's [`crate::clock::Clock`]), so the simulator (`doin-sim`) pools
//! commitments with this very pool on virtual time.

use std::collections::BTreeMap;
use std::time::Duration;

use doin_consensus::commitment::{OptimaeCommitment, MAX_COMMITMENTS_PER_BLOCK};
use doin_consensus::{ChainState, ConsensusError};

/// Pending commitments kept at most.
pub const DEFAULT_CAPACITY: usize = 4_096;
/// Pending commitments of one optimizer at most.
pub const MAX_PENDING_PER_OPTIMIZER: usize = 16;
/// How long a commitment waits for a block before the pool forgets it.
pub const COMMITMENT_TTL: Duration = Duration::from_secs(120);

/// Why a commitment was not admitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommitmentPoolError {
    /// A consensus rule refuses it (a bad seal, a malformed hash, an unknown domain).
    #[error("{0}")]
    Invalid(#[from] ConsensusError),
    /// The chain carries it already.
    #[error("commitment {0} is already on chain")]
    OnChain(String),
    /// The same commitment is already pending.
    #[error("commitment {0} is already pending")]
    AlreadyPending(String),
    /// The optimizer has too many commitments pending.
    #[error("{optimizer} has {count} commitments pending, at most {MAX_PENDING_PER_OPTIMIZER}")]
    TooManyPending {
        /// The optimizer.
        optimizer: String,
        /// Its pending commitments.
        count: usize,
    },
    /// The pool is full.
    #[error("commitment pool full ({0} pending)")]
    Full(usize),
}

struct Pooled {
    commitment: OptimaeCommitment,
    /// When it arrived, µs since the Unix epoch.
    arrived: i64,
}

/// Commitments waiting for a block, by hash.
pub struct CommitmentPool {
    /// By commitment hash and optimizer (a copy of a hash under another id is another
    /// commitment).
    pending: BTreeMap<(String, String), Pooled>,
    capacity: usize,
}

impl CommitmentPool {
    /// An empty pool holding at most `capacity` commitments.
    pub fn new(capacity: usize) -> Self {
        CommitmentPool {
            pending: BTreeMap::new(),
            capacity,
        }
    }

    /// Commitments pending.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether none is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Admits `c` against the tip `state` at `now_micros` (see the module doc).
    pub fn insert(
        &mut self,
        c: OptimaeCommitment,
        state: &ChainState,
        now_micros: i64,
    ) -> Result<(), CommitmentPoolError> {
        c.check()?;
        self.insert_sealed(c, state, now_micros)
    }

    /// [`Self::insert`] for a commitment whose seal the caller has checked already
    /// ([`OptimaeCommitment::check`]; the simulator judges each seal once per run).
    pub fn insert_sealed(
        &mut self,
        c: OptimaeCommitment,
        state: &ChainState,
        now_micros: i64,
    ) -> Result<(), CommitmentPoolError> {
        if state.params().domain(&c.domain_id).is_none() {
            return Err(ConsensusError::UnknownDomain(c.domain_id.clone()).into());
        }
        let hash = c.bound_commitment.clone();
        if state.bound_committed_at(&hash, &c.optimizer_id).is_some() || state.commitment_landed(&c)
        {
            return Err(CommitmentPoolError::OnChain(hash));
        }
        let key = (hash, c.optimizer_id.clone());
        if self.pending.contains_key(&key) {
            return Err(CommitmentPoolError::AlreadyPending(key.0));
        }
        let count = self
            .pending
            .values()
            .filter(|p| p.commitment.optimizer_id == c.optimizer_id)
            .count();
        if count >= MAX_PENDING_PER_OPTIMIZER {
            return Err(CommitmentPoolError::TooManyPending {
                optimizer: c.optimizer_id,
                count,
            });
        }
        if self.pending.len() >= self.capacity {
            return Err(CommitmentPoolError::Full(self.pending.len()));
        }
        self.pending.insert(
            key,
            Pooled {
                commitment: c,
                arrived: now_micros,
            },
        );
        Ok(())
    }

    /// The commitments the next block carries: the oldest first, at most
    /// [`MAX_COMMITMENTS_PER_BLOCK`].
    pub fn ordered(&self) -> Vec<OptimaeCommitment> {
        let mut all: Vec<&Pooled> = self.pending.values().collect();
        all.sort_by_key(|p| p.arrived);
        all.into_iter()
            .take(MAX_COMMITMENTS_PER_BLOCK)
            .map(|p| p.commitment.clone())
            .collect()
    }

    /// The optimizers whose commitments are pending (one entry per commitment): the
    /// candidates for the next commitment block
    /// ([`crate::mint_schedule::mint_turns`]).
    pub fn owners(&self) -> impl Iterator<Item = &str> {
        self.pending.keys().map(|(_, optimizer)| optimizer.as_str())
    }

    /// Forgets every pending commitment.
    pub fn clear(&mut self) {
        self.pending.clear();
    }

    /// Drops the commitments `state` carries (or ever carried), and those older than
    /// [`COMMITMENT_TTL`] at `now_micros`.
    pub fn prune(&mut self, state: &ChainState, now_micros: i64) {
        let ttl = i64::try_from(COMMITMENT_TTL.as_micros()).unwrap_or(i64::MAX);
        self.pending.retain(|(hash, optimizer), p| {
            state.bound_committed_at(hash, optimizer).is_none()
                && !state.commitment_landed(&p.commitment)
                && now_micros.saturating_sub(p.arrived) < ttl
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_consensus::{ChainParams, DomainParams};
    use doin_primitives::identity::Identity;
    use doin_primitives::Timestamp;

    fn state() -> ChainState {
        let mut p = ChainParams::solo_default();
        p.domains = vec![DomainParams::new("quadratic", true)];
        ChainState::new(p)
    }

    fn commitment(who: &Identity, n: u64) -> OptimaeCommitment {
        OptimaeCommitment::sealed(
            who,
            "quadratic",
            &doin_primitives::hash::sha256_hex(format!("{}/{n}", who.peer_id())),
            Timestamp::from_unix_secs(1_767_225_600),
        )
    }

    #[test]
    fn admission_refuses_forged_unknown_duplicate_and_excess_commitments() {
        let state = state();
        let me = Identity::from_scalar_bytes(&[7; 32]).unwrap();
        let now = 1_767_225_600_000_000_i64;
        let mut pool = CommitmentPool::new(20);
        pool.insert(commitment(&me, 0), &state, now).unwrap();
        assert!(matches!(
            pool.insert(commitment(&me, 0), &state, now),
            Err(CommitmentPoolError::AlreadyPending(_))
        ));
        let mut forged = commitment(&me, 1);
        forged.bound_commitment = doin_primitives::hash::sha256_hex("other");
        assert!(matches!(
            pool.insert(forged, &state, now),
            Err(CommitmentPoolError::Invalid(
                ConsensusError::BadCommitmentSeal(_)
            ))
        ));
        let elsewhere = OptimaeCommitment::sealed(
            &me,
            "wine",
            &doin_primitives::hash::sha256_hex("w"),
            Timestamp::from_unix_secs(1_767_225_600),
        );
        assert!(matches!(
            pool.insert(elsewhere, &state, now),
            Err(CommitmentPoolError::Invalid(ConsensusError::UnknownDomain(
                _
            )))
        ));
        for n in 1..MAX_PENDING_PER_OPTIMIZER as u64 {
            pool.insert(commitment(&me, n), &state, now).unwrap();
        }
        assert!(matches!(
            pool.insert(commitment(&me, 99), &state, now),
            Err(CommitmentPoolError::TooManyPending { .. })
        ));
        let other = Identity::from_scalar_bytes(&[8; 32]).unwrap();
        for n in 0..4 {
            pool.insert(commitment(&other, n), &state, now).unwrap();
        }
        assert!(matches!(
            pool.insert(commitment(&other, 9), &state, now),
            Err(CommitmentPoolError::Full(20))
        ));
        assert_eq!(pool.ordered().len(), 20);
        pool.prune(&state, now + COMMITMENT_TTL.as_micros() as i64);
        assert!(pool.is_empty());
    }

    #[test]
    fn a_commitment_that_landed_long_ago_is_refused_and_pruned() {
        let mut state = state();
        let me = Identity::from_scalar_bytes(&[7; 32]).unwrap();
        let now = 1_767_225_600_000_000_i64;
        let old = commitment(&me, 0);
        let mut pool = CommitmentPool::new(20);
        pool.insert(old.clone(), &state, now).unwrap();
        // It lands in a commitment block, then enough commitment blocks follow for the
        // window of recent blocks to forget that block.
        let window = state.params().max_commit_age_blocks + 2;
        for n in 0..window {
            let c = if n == 0 {
                old.clone()
            } else {
                commitment(&me, n)
            };
            let at = Timestamp::from_unix_micros(state.tip_time_micros() + 3_600 * 1_000_000);
            let block = state
                .build_block_with_commitments(&me, Vec::new(), Vec::new(), Vec::new(), &[c], at)
                .unwrap();
            state.apply_block(&block).unwrap();
        }
        assert!(state
            .bound_committed_at(&old.bound_commitment, me.peer_id())
            .is_none());
        pool.prune(&state, now);
        assert!(pool.is_empty());
        assert!(matches!(
            pool.insert(old, &state, now),
            Err(CommitmentPoolError::OnChain(_))
        ));
    }
}
