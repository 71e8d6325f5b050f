//! Accepted-optimae transactions (rule 6 of [`super`]): optimizer seal (or, carried, the
//! generator's seal and the optimizer's claim seal: [`crate::carried`]), known domain,
//! optimae id, commitment (used once, committed on chain in the window), parameter bounds,
//! the quorum's votes, and every number recomputed bit for bit; the domain's best advances
//! transaction by transaction within the block.

use std::collections::{BTreeMap, BTreeSet};

use doin_primitives::models::{BlockError, Transaction};
use doin_primitives::value::Value;

use crate::accepted::{optimae_id, AcceptedOptimae, Reveal, Scoring};
use crate::bounds::check_parameters;
use crate::error::ConsensusError;
use crate::increment::{effective_increment, raw_increment, reward_fraction};
use crate::params::DomainParams;
use crate::quorum::QuorumDecision;
use crate::reference::commitment::compute_commitment;
use crate::reference::incentives::evaluate_verification_incentive;
use crate::reputation::rep_factor;
use crate::state::ChainState;
use crate::vote::QuorumVote;

use super::OptimaeOutcome;

/// Per-block overlay: what earlier transactions of the same block changed.
#[derive(Default)]
struct Pending {
    /// Timestamp (µs) of the block the transactions are checked for (0: no stall).
    at_micros: i64,
    /// The generator of the block they are checked for; `None` outside a block, where a
    /// carried transaction is refused ([`crate::carried`]).
    generator: Option<String>,
    best: BTreeMap<String, f64>,
    optimae_ids: BTreeSet<String>,
    commitments: BTreeSet<String>,
}

fn check_number(field: &'static str, expected: f64, got: f64) -> Result<(), ConsensusError> {
    if expected.to_bits() == got.to_bits() {
        Ok(())
    } else {
        Err(ConsensusError::WrongNumber {
            field,
            expected,
            got,
        })
    }
}

fn check_value(field: &'static str, expected: Value, got: Value) -> Result<(), ConsensusError> {
    if expected == got {
        Ok(())
    } else {
        Err(ConsensusError::WrongValue {
            field,
            expected: doin_primitives::json::to_wire_json(&expected),
            got: doin_primitives::json::to_wire_json(&got),
        })
    }
}

impl ChainState {
    fn domain_params(&self, domain_id: &str) -> Result<&DomainParams, ConsensusError> {
        self.params
            .domain(domain_id)
            .ok_or_else(|| ConsensusError::UnknownDomain(domain_id.to_owned()))
    }

    fn scoring(
        &self,
        domain: &DomainParams,
        best: Option<f64>,
        optimizer_id: &str,
        reported: f64,
        decision: &QuorumDecision,
    ) -> Result<Scoring, ConsensusError> {
        let verified = decision.median;
        let increment = raw_increment(verified, best, domain.higher_is_better).ok_or(
            ConsensusError::NotAnImprovement {
                verified,
                best: best.unwrap_or(f64::NAN),
            },
        )?;
        let fraction = reward_fraction(reported, verified, domain);
        if fraction.is_nan() || fraction <= 0.0 {
            return Err(ConsensusError::ZeroRewardFraction { reported, verified });
        }
        let factor = rep_factor(self.reputation(optimizer_id));
        let effective = effective_increment(increment, domain.weight, factor, fraction);
        let incentive = evaluate_verification_incentive(
            reported,
            verified,
            increment,
            domain.weight,
            factor,
            &domain.incentive_config(),
        );
        Ok(Scoring {
            verified_performance: verified,
            increment,
            effective_increment: effective,
            reward_fraction: fraction,
            quorum_agree_fraction: decision.agree_fraction(),
            incentive_reason: incentive.reason,
            previous_best_performance: best,
        })
    }

    /// The numbers an optimae would carry if included in the next block on its own: the
    /// quorum decision over `votes` and the increments (the optimizer's reputation is read
    /// at the tip). A node calls this to fill [`AcceptedOptimae::build`]; if the tip moves
    /// before inclusion, it scores and seals the transaction again (the votes stay valid).
    pub fn score_optimae(
        &self,
        reveal: &Reveal,
        optimizer_id: &str,
        votes: &[QuorumVote],
    ) -> Result<Scoring, ConsensusError> {
        self.score_optimae_after(&[], reveal, optimizer_id, votes, self.tip_time_micros)
    }

    /// As [`ChainState::score_optimae`], for an optimae that follows the (checked)
    /// `pending` transactions in the next block: the domain's best is the one those
    /// transactions leave.
    pub fn score_optimae_after(
        &self,
        pending: &[Transaction],
        reveal: &Reveal,
        optimizer_id: &str,
        votes: &[QuorumVote],
        at_micros: i64,
    ) -> Result<Scoring, ConsensusError> {
        self.score_optimae_in(pending, reveal, optimizer_id, votes, at_micros, None)
    }

    /// As [`ChainState::score_optimae_after`], in a block minted by `generator`: the
    /// `pending` transactions may be carried ones it sealed ([`crate::carried`]).
    pub fn score_optimae_by(
        &self,
        pending: &[Transaction],
        reveal: &Reveal,
        optimizer_id: &str,
        votes: &[QuorumVote],
        at_micros: i64,
        generator: &str,
    ) -> Result<Scoring, ConsensusError> {
        let generator = Some(generator.to_owned());
        self.score_optimae_in(pending, reveal, optimizer_id, votes, at_micros, generator)
    }

    fn score_optimae_in(
        &self,
        pending: &[Transaction],
        reveal: &Reveal,
        optimizer_id: &str,
        votes: &[QuorumVote],
        at_micros: i64,
        generator: Option<String>,
    ) -> Result<Scoring, ConsensusError> {
        let mut before = Pending {
            at_micros,
            generator,
            ..Pending::default()
        };
        for (index, tx) in pending.iter().enumerate() {
            self.check_tx(tx, &mut before)
                .map_err(ConsensusError::in_tx(index))?;
        }
        self.score_after(&before, reveal, optimizer_id, votes)
    }

    /// The scoring of an optimae after the transactions `before` records.
    fn score_after(
        &self,
        before: &Pending,
        reveal: &Reveal,
        optimizer_id: &str,
        votes: &[QuorumVote],
    ) -> Result<Scoring, ConsensusError> {
        let domain_id = reveal.domain_id.as_str();
        let reported_performance = reveal.reported_performance;
        let domain = self.domain_params(domain_id)?;
        let quorum = self.quorum_for_at(
            domain_id,
            optimizer_id,
            reveal.commit_height,
            before.at_micros,
        )?;
        let decision = self.decide_votes(&quorum, optimizer_id, reported_performance, votes)?;
        let best = before
            .best
            .get(domain_id)
            .copied()
            .or_else(|| self.domains.get(domain_id).and_then(|d| d.best));
        self.scoring(domain, best, optimizer_id, reported_performance, &decision)
    }

    /// Checks one transaction for inclusion in the next block, after the transactions
    /// already recorded in `pending`.
    fn check_tx(
        &self,
        tx: &Transaction,
        pending: &mut Pending,
    ) -> Result<OptimaeOutcome, ConsensusError> {
        let a = AcceptedOptimae::from_tx(tx)?;
        crate::carried::check_seals(tx, &a, pending.generator.as_deref(), |s, k, id, by| {
            self.check_seal(s, k, id, by)
        })?;
        let domain = self.domain_params(&tx.domain_id)?;
        let id = optimae_id(&tx.domain_id, &tx.peer_id, &a.parameters, &tx.timestamp);
        if id != a.optimae_id {
            return Err(ConsensusError::WrongOptimaeId {
                expected: id,
                got: a.optimae_id,
            });
        }
        if self.optimae_ids.contains(&id) || pending.optimae_ids.contains(&id) {
            return Err(ConsensusError::DuplicateOptimae(id));
        }
        let commitment = compute_commitment(&a.parameters, &a.nonce);
        if commitment != a.commitment_hash {
            return Err(ConsensusError::CommitmentMismatch {
                claimed: a.commitment_hash,
                computed: commitment,
            });
        }
        if self.commitments.contains(&commitment) || pending.commitments.contains(&commitment) {
            return Err(ConsensusError::CommitmentReused(commitment));
        }
        check_parameters(&a.parameters, domain)?;
        self.seed_block_hash(a.commit_height)?;
        self.check_committed(&commitment, &tx.peer_id, &tx.domain_id, a.commit_height)?;
        let decision = self.check_votes(&a, &tx.domain_id, pending.at_micros)?;
        check_number(
            "verified_performance",
            decision.median,
            a.verified_performance,
        )?;
        let best = pending
            .best
            .get(&tx.domain_id)
            .copied()
            .or_else(|| self.domains.get(&tx.domain_id).and_then(|d| d.best));
        let s = self.scoring(domain, best, &tx.peer_id, a.reported_performance, &decision)?;
        check_number("increment", s.increment, a.increment)?;
        check_number("reward_fraction", s.reward_fraction, a.reward_fraction)?;
        check_number(
            "effective_increment",
            s.effective_increment,
            a.effective_increment,
        )?;
        check_number(
            "quorum_agree_fraction",
            s.quorum_agree_fraction,
            a.quorum_agree_fraction,
        )?;
        check_value(
            "incentive_reason",
            Value::Str(s.incentive_reason),
            Value::Str(a.incentive_reason),
        )?;
        let optional = |x: Option<f64>| x.map_or(Value::Null, Value::Float);
        check_value(
            "previous_best_performance",
            optional(s.previous_best_performance),
            optional(a.previous_best_performance),
        )?;

        pending.best.insert(tx.domain_id.clone(), decision.median);
        pending.optimae_ids.insert(id.clone());
        pending.commitments.insert(commitment.clone());
        Ok(OptimaeOutcome {
            optimae_id: id,
            domain_id: tx.domain_id.clone(),
            optimizer_id: tx.peer_id.clone(),
            commitment_hash: commitment,
            commit_height: a.commit_height,
            verified_performance: decision.median,
            effective_increment: s.effective_increment,
            votes: a
                .votes
                .iter()
                .zip(decision.agreements)
                .map(|(v, agreed)| (v.evaluator_id.clone(), agreed))
                .collect(),
        })
    }

    /// Checks transactions in order for the next block (by `generator`, if known); returns
    /// the outcomes and the sum of their effective increments (f64, in order).
    pub(super) fn check_txs(
        &self,
        txs: &[Transaction],
        at_micros: i64,
        generator: Option<&str>,
    ) -> Result<(Vec<OptimaeOutcome>, f64), ConsensusError> {
        let mut pending = Pending {
            at_micros,
            generator: generator.map(str::to_owned),
            ..Pending::default()
        };
        let mut outcomes = Vec::with_capacity(txs.len());
        let mut sum = 0.0;
        for (index, tx) in txs.iter().enumerate() {
            let o = self
                .check_tx(tx, &mut pending)
                .map_err(ConsensusError::in_tx(index))?;
            sum += o.effective_increment;
            outcomes.push(o);
        }
        Ok((outcomes, sum))
    }

    /// Checks one candidate transaction for the next block on its own (id, seal, and every
    /// accepted-optimae rule); returns its effective increment. A carried transaction needs
    /// its block's generator: see [`ChainState::pending_sum_by`].
    pub fn check_accepted_tx(&self, tx: &Transaction) -> Result<f64, ConsensusError> {
        let computed = tx.compute_id();
        if computed != tx.id {
            return Err(BlockError::TransactionIdMismatch {
                index: 0,
                claimed: tx.id.clone(),
                computed,
            }
            .into());
        }
        Ok(self
            .check_tx(tx, &mut Pending::default())?
            .effective_increment)
    }

    /// The weighted sum a next block with these transactions (in order) would carry; the
    /// node mints once it reaches [`ChainState::next_threshold`].
    pub fn pending_sum(&self, txs: &[Transaction]) -> Result<f64, ConsensusError> {
        self.pending_sum_at(txs, self.tip_time_micros)
    }

    /// As [`ChainState::pending_sum`], for a block timestamped `at_micros` (a block after a
    /// stall may carry optimae verified by fallback quorums).
    pub fn pending_sum_at(
        &self,
        txs: &[Transaction],
        at_micros: i64,
    ) -> Result<f64, ConsensusError> {
        self.check_txs(txs, at_micros, None).map(|(_, sum)| sum)
    }

    /// Candidate transactions for a block by `generator` at `at_micros`, checked one after
    /// another ([`PendingCheck`]).
    pub fn pending_check(&self, at_micros: i64, generator: &str) -> PendingCheck<'_> {
        PendingCheck {
            state: self,
            pending: Pending {
                at_micros,
                generator: Some(generator.to_owned()),
                ..Pending::default()
            },
            sum: 0.0,
        }
    }

    /// As [`ChainState::pending_sum_at`], for a block minted by `generator`, whose
    /// transactions may be carried ones it sealed ([`crate::carried`]).
    pub fn pending_sum_by(
        &self,
        txs: &[Transaction],
        at_micros: i64,
        generator: &str,
    ) -> Result<f64, ConsensusError> {
        self.check_txs(txs, at_micros, Some(generator))
            .map(|(_, sum)| sum)
    }
}

/// Candidate transactions for the next block checked one after another, each after the
/// ones that passed before it ([`ChainState::pending_check`]): what
/// [`ChainState::pending_sum_by`] checks at once, for a caller that keeps the ones that
/// pass and goes on after one that fails, in one pass.
pub struct PendingCheck<'s> {
    state: &'s ChainState,
    pending: Pending,
    sum: f64,
}

impl PendingCheck<'_> {
    /// Checks `tx` after the transactions that passed so far: its effective increment, and
    /// it counts for the ones after it; a transaction that fails changes nothing.
    pub fn check(&mut self, tx: &Transaction) -> Result<f64, ConsensusError> {
        let o = self.state.check_tx(tx, &mut self.pending)?;
        self.sum += o.effective_increment;
        Ok(o.effective_increment)
    }

    /// The scoring of an optimae after the transactions that passed so far (as
    /// [`ChainState::score_optimae_by`] after them).
    pub fn score(
        &self,
        reveal: &Reveal,
        optimizer_id: &str,
        votes: &[QuorumVote],
    ) -> Result<Scoring, ConsensusError> {
        self.state
            .score_after(&self.pending, reveal, optimizer_id, votes)
    }

    /// The sum of the effective increments of the transactions that passed, in order.
    pub fn sum(&self) -> f64 {
        self.sum
    }
}
