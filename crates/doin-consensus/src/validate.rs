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
//!    [`ChainState::check_accepted_tx`]): optimizer seal, known domain, optimae id,
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

use doin_primitives::identity::{require_seal, Identity};
use doin_primitives::models::{Block, BlockError, BlockHeader, Transaction, WireModel};
use doin_primitives::seal::SealKind;
use doin_primitives::timestamp::Timestamp;
use doin_primitives::value::Value;

use std::collections::{BTreeMap, BTreeSet};

use crate::accepted::{optimae_id, AcceptedOptimae, Reveal, Scoring};
use crate::bounds::check_parameters;
use crate::coinbase::{
    block_reward, compute_coinbase, pay_tips, Coinbase, EvaluatorWork, OptimizerWork, COINBASE_KEY,
};
use crate::difficulty::on_block;
use crate::error::ConsensusError;
use crate::increment::{effective_increment, raw_increment, reward_fraction};
use crate::params::DomainParams;
use crate::quorum::{counted_votes, decide_counted, QuorumDecision};
use crate::reference::commitment::compute_commitment;
use crate::reference::incentives::evaluate_verification_incentive;
use crate::reputation::{apply_event, rep_factor, ReputationEvent};
use crate::state::ChainState;
use crate::transfer::BlockTransfers;
use crate::vote::{QuorumVote, VoteSubject};
use doin_primitives::models::{Transfer, TRANSFERS_KEY};

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

/// Per-block overlay: what earlier transactions of the same block changed.
#[derive(Default)]
struct Pending {
    /// Timestamp (µs) of the block the transactions are checked for (0: no stall).
    at_micros: i64,
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

    /// Checks the votes of an optimae against its quorum and decides it.
    fn check_votes(
        &self,
        a: &AcceptedOptimae,
        domain_id: &str,
        at_micros: i64,
    ) -> Result<QuorumDecision, ConsensusError> {
        let quorum = self.quorum_for_at(domain_id, &a.optimizer_id, a.commit_height, at_micros)?;
        let subject = VoteSubject {
            optimae_id: &a.optimae_id,
            domain_id,
            commitment_hash: &a.commitment_hash,
            seed_block_hash: self.seed_block_hash(a.commit_height)?,
        };
        let young = self.is_young(&a.optimizer_id, a.commit_height);
        let max_votes = quorum.len() + self.params.quorum_min_evaluators as usize;
        if a.votes.len() > max_votes {
            return Err(ConsensusError::VoteFromOutsider(format!(
                "{} votes where at most {max_votes} may count",
                a.votes.len()
            )));
        }
        // A young chain also records other evaluators' votes (they never decide).
        let extra_allowed = |evaluator: &str| young && evaluator != a.optimizer_id;
        self.check_vote_list(&a.votes, &quorum, &subject, extra_allowed)?;
        self.decide_votes(&quorum, &a.optimizer_id, a.reported_performance, &a.votes)
    }

    /// Checks the votes an optimae carries (accepted or rejected) against its quorum: each
    /// voter a member or one `extra_allowed` admits, none twice, each vote about `subject`
    /// with its evaluator's seed and sealed by it, and every member present.
    pub(crate) fn check_vote_list(
        &self,
        votes: &[QuorumVote],
        quorum: &[String],
        subject: &VoteSubject<'_>,
        extra_allowed: impl Fn(&str) -> bool,
    ) -> Result<(), ConsensusError> {
        let mut voted: BTreeSet<&str> = BTreeSet::new();
        for v in votes {
            let evaluator = v.evaluator_id.as_str();
            if !quorum.iter().any(|q| q == evaluator) && !extra_allowed(evaluator) {
                return Err(ConsensusError::VoteFromOutsider(evaluator.to_owned()));
            }
            if !voted.insert(evaluator) {
                return Err(ConsensusError::DuplicateVote(evaluator.to_owned()));
            }
            v.check_subject(subject)?;
            self.check_seal(v.seal.as_ref(), SealKind::Vote, &v.id(), evaluator)
                .map_err(|e| ConsensusError::BadVoteSeal {
                    evaluator: evaluator.to_owned(),
                    reason: e.to_string(),
                })?;
        }
        if let Some(missing) = quorum.iter().find(|q| !voted.contains(q.as_str())) {
            return Err(ConsensusError::MissingVote(missing.clone()));
        }
        Ok(())
    }

    /// The quorum's decision on votes already checked against it: the members' votes
    /// decide ([`counted_votes`]); a rejection is [`ConsensusError::QuorumRejected`].
    fn decide_votes(
        &self,
        quorum: &[String],
        optimizer_id: &str,
        reported: f64,
        votes: &[QuorumVote],
    ) -> Result<QuorumDecision, ConsensusError> {
        let voters: Vec<&str> = votes.iter().map(|v| v.evaluator_id.as_str()).collect();
        let counted = counted_votes(quorum, optimizer_id, &voters);
        let perfs: Vec<f64> = votes.iter().map(|v| v.verified_performance).collect();
        let decision = decide_counted(&perfs, &counted, reported, self.params.quorum_tolerance)
            .ok_or_else(|| ConsensusError::MissingVote(optimizer_id.to_owned()))?;
        if !decision.accepted {
            return Err(ConsensusError::QuorumRejected {
                agree: decision.agree_count,
                votes: counted.iter().filter(|c| **c).count(),
                report_divergence: decision.report_divergence,
            });
        }
        Ok(decision)
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
        let domain_id = reveal.domain_id.as_str();
        let reported_performance = reveal.reported_performance;
        let mut before = Pending {
            at_micros,
            ..Pending::default()
        };
        for (index, tx) in pending.iter().enumerate() {
            self.check_tx(tx, &mut before)
                .map_err(ConsensusError::in_tx(index))?;
        }
        let domain = self.domain_params(domain_id)?;
        let quorum =
            self.quorum_for_at(domain_id, optimizer_id, reveal.commit_height, at_micros)?;
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
        self.check_seal(tx.seal.as_ref(), SealKind::Transaction, &tx.id, &tx.peer_id)
            .map_err(|e| ConsensusError::BadOptimizerSeal(e.to_string()))?;
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

    /// Checks transactions in order for the next block; returns the outcomes and the sum
    /// of their effective increments (f64, in order).
    fn check_txs(
        &self,
        txs: &[Transaction],
        at_micros: i64,
    ) -> Result<(Vec<OptimaeOutcome>, f64), ConsensusError> {
        let mut pending = Pending {
            at_micros,
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
    /// accepted-optimae rule); returns its effective increment.
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
        self.check_txs(txs, at_micros).map(|(_, sum)| sum)
    }

    fn expected_coinbase(
        &self,
        height: u64,
        generator_id: &str,
        outcomes: &[OptimaeOutcome],
        tips: u64,
    ) -> Coinbase {
        let optimizers: Vec<OptimizerWork> = outcomes
            .iter()
            .map(|o| OptimizerWork {
                optimizer_id: o.optimizer_id.clone(),
                domain_id: o.domain_id.clone(),
                effective_increment: o.effective_increment,
            })
            .collect();
        let evaluators: Vec<EvaluatorWork> = outcomes
            .iter()
            .flat_map(|o| {
                o.votes
                    .iter()
                    .filter(|(_, agreed)| *agreed)
                    .map(|(e, _)| EvaluatorWork {
                        evaluator_id: e.clone(),
                        domain_id: o.domain_id.clone(),
                        agreeing_votes: 1,
                    })
            })
            .collect();
        // A commitment block accepts no optimae and earns no block reward.
        let reward = if outcomes.is_empty() {
            0
        } else {
            block_reward(height, &self.params)
        };
        let mut coinbase =
            compute_coinbase(height, reward, 0, generator_id, &optimizers, &evaluators);
        pay_tips(&mut coinbase, generator_id, tips);
        coinbase
    }

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
        let (optimae, sum) =
            self.check_txs(layout.accepted, block.header.timestamp.unix_micros())?;
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

    fn apply_summary(&mut self, s: &BlockSummary) {
        let t = s.timestamp_micros;
        let half_life = self.params.reputation_half_life_secs;
        // A commitment block leaves the difficulty as it was: block times are measured
        // between blocks that reach the threshold.
        if !s.optimae.is_empty() {
            self.difficulty = on_block(&self.difficulty, t, &self.params);
        }
        let event = |reps: &mut BTreeMap<String, _>, peer: &str, e: ReputationEvent| {
            let r = reps.entry(peer.to_owned()).or_default();
            *r = apply_event(r, e, t, half_life);
        };
        for o in &s.optimae {
            event(
                &mut self.reputations,
                &o.optimizer_id,
                ReputationEvent::OptimaeAccepted,
            );
            self.peers_seen.insert(o.optimizer_id.clone());
            for (evaluator, agreed) in &o.votes {
                // A divergent voter is not a contributor: a key that only ever voted
                // against its quorum must not be drawn into quorums (bootstrap, stalls).
                let e = if *agreed {
                    self.active_evaluators.insert(evaluator.clone());
                    self.peers_seen.insert(evaluator.clone());
                    ReputationEvent::VoteAgreed
                } else {
                    ReputationEvent::VoteDivergent
                };
                event(&mut self.reputations, evaluator, e);
            }
            let d = self.domains.entry(o.domain_id.clone()).or_default();
            d.best = Some(o.verified_performance);
            d.accepted += 1;
            self.optimae_ids.insert(o.optimae_id.clone());
            self.commitments.insert(o.commitment_hash.clone());
        }
        // A commitment block takes no work to make: its generator contributes nothing.
        if !s.optimae.is_empty() {
            self.peers_seen.insert(s.generator_id.clone());
            self.active_evaluators.insert(s.generator_id.clone());
            self.work_time_micros = t;
        }
        let base_fee = self.base_fee;
        self.apply_transfers(&s.transfers);
        self.apply_channel_ops(&s.channels);
        for out in &s.coinbase.outputs {
            let b = self.balances.entry(out.recipient.clone()).or_default();
            *b = b.saturating_add(out.amount);
        }
        self.apply_rejections(&s.rejections, t, base_fee);
        self.total_minted = self.total_minted.saturating_add(s.coinbase.block_reward);
        self.cumulative_work += s.weighted_sum;
        self.height = s.height;
        self.tip_hash = s.hash.clone();
        self.tip_time_micros = t;
        self.announced.extend(s.commitments.iter().map(|c| c.id()));
        let commitments = s
            .commitments
            .iter()
            .map(|c| {
                let on_chain = crate::commitment::OnChainCommitment {
                    optimizer_id: c.optimizer_id.clone(),
                    domain_id: c.domain_id.clone(),
                };
                (
                    (c.bound_commitment.clone(), c.optimizer_id.clone()),
                    on_chain,
                )
            })
            .collect();
        self.push_recent(commitments, crate::finality::attesters_of(s));
        self.advance_finality();
    }

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
        let (optimae, sum) = self.check_txs(&txs, time)?;
        let threshold = self.next_threshold();
        self.check_weight(sum, optimae.len(), commitments.len(), time)?;
        self.check_commitments(commitments)?;
        let height = self.height + 1;
        let header = BlockHeader {
            index: i64::try_from(height).unwrap_or(i64::MAX),
            previous_hash: self.tip_hash.clone(),
            timestamp: Timestamp::from_unix_micros(time),
            merkle_root: String::new(),
            generator_id: generator.peer_id().to_owned(),
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

    pub(crate) fn check_seal(
        &self,
        seal: Option<&doin_primitives::seal::Seal>,
        kind: SealKind,
        id: &str,
        signer: &str,
    ) -> Result<(), doin_primitives::identity::IdentityError> {
        if self.trust_stored_seals {
            return match seal {
                Some(s) => doin_primitives::identity::key_matches_peer_id(&s.public_key, signer),
                None => require_seal(None, kind, id, signer),
            };
        }
        require_seal(seal, kind, id, signer)
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

/// Verifies every signature a block carries, none of which depends on chain state: the
/// generator's seal over the block hash, each transaction's seal by its peer, each
/// quorum vote's seal by its evaluator, and each transfer's seal by its sender. Pure, so a batch can be checked on several threads
/// before [`ChainState::apply_stored_block`] applies the blocks in order.
pub fn verify_block_signatures(block: &Block) -> Result<(), ConsensusError> {
    require_seal(
        block.seal.as_ref(),
        SealKind::Block,
        &block.hash,
        &block.header.generator_id,
    )
    .map_err(|e| ConsensusError::BadGeneratorSeal(e.to_string()))?;
    // Only accepted optimae are sealed as transactions; the others carry sealed objects.
    for (index, tx) in block.layout()?.accepted.iter().enumerate() {
        require_seal(tx.seal.as_ref(), SealKind::Transaction, &tx.id, &tx.peer_id)
            .map_err(|e| ConsensusError::BadOptimizerSeal(e.to_string()))
            .map_err(ConsensusError::in_tx(index))?;
        if let Ok(a) = AcceptedOptimae::from_tx(tx) {
            for v in &a.votes {
                require_seal(v.seal.as_ref(), SealKind::Vote, &v.id(), &v.evaluator_id)
                    .map_err(|e| ConsensusError::BadVoteSeal {
                        evaluator: v.evaluator_id.clone(),
                        reason: e.to_string(),
                    })
                    .map_err(ConsensusError::in_tx(index))?;
            }
        }
    }
    let transfers = block.transfers()?;
    for (index, t) in transfers.iter().enumerate() {
        crate::transfer::verify_transfer_seal(t)
            .map_err(|source| ConsensusError::InTransfer { index, source })?;
    }
    for (index, op) in block.channel_ops()?.iter().enumerate() {
        crate::channel::verify_channel_op_seal(op)
            .map_err(|source| ConsensusError::InChannelOp { index, source })?;
    }
    crate::rejection::verify_rejection_signatures(block)?;
    crate::commitment::verify_commitment_signatures(block)
}

/// How far (µs) a received block's timestamp may be ahead of the receiving node's clock:
/// two minutes.
pub const MAX_FUTURE_DRIFT_MICROS: i64 = 120 * 1_000_000;

/// Rule for blocks received from peers: a block timestamped more than
/// [`MAX_FUTURE_DRIFT_MICROS`] after `now_micros` (the receiving node's clock, passed in
/// by the node) is refused. Header timestamps drive difficulty, reputation decay and the
/// stall rule, so a generator must not be able to date its block ahead of real time.
/// A refused block may be offered again once the clock has caught up.
pub fn check_not_in_future(block_micros: i64, now_micros: i64) -> Result<(), ConsensusError> {
    if block_micros.saturating_sub(now_micros) > MAX_FUTURE_DRIFT_MICROS {
        return Err(ConsensusError::TimestampInFuture {
            now_micros,
            got_micros: block_micros,
            max_drift_micros: MAX_FUTURE_DRIFT_MICROS,
        });
    }
    Ok(())
}

/// The header's threshold must be exactly (bit for bit) the rule's.
fn check_threshold(expected: f64, got: f64) -> Result<(), ConsensusError> {
    if expected.to_bits() == got.to_bits() {
        Ok(())
    } else {
        Err(ConsensusError::WrongThreshold { expected, got })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_from_the_future_are_refused() {
        let now = 1_767_225_600_000_000;
        assert!(check_not_in_future(now, now).is_ok());
        assert!(check_not_in_future(now - 3_600_000_000, now).is_ok());
        assert!(check_not_in_future(now + MAX_FUTURE_DRIFT_MICROS, now).is_ok());
        assert!(matches!(
            check_not_in_future(now + MAX_FUTURE_DRIFT_MICROS + 1, now),
            Err(ConsensusError::TimestampInFuture { .. })
        ));
        assert!(check_not_in_future(i64::MAX, i64::MIN).is_err());
    }

    #[test]
    fn threshold_must_match_bit_for_bit() {
        assert!(check_threshold(0.5, 0.5).is_ok());
        assert!(check_threshold(0.5, 0.5000000000000001).is_err());
    }
}
