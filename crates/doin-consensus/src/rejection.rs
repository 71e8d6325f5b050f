//! Rejection evidence on chain: an optimizer's sealed claim and its quorum's sealed votes
//! deciding *rejected*, carried in a block as an `optimae_rejected` transaction, so that the
//! −3 penalty for an inflated report and the burn of part of its stake apply.
//!
//! **The claim.** Before its quorum evaluates, the optimizer seals an [`OptimaeClaim`]
//! ([`SealKind::Claim`] over [`OptimaeClaim::id`]): its reveal (domain, parameters, nonce,
//! reported performance, commit height, timestamp), the optimae id and commitment they
//! give, and its stake in base units. Evaluators refuse a task without a valid claim of its
//! requester, so a claim is the price of any vote.
//!
//! **The evidence.** A [`RejectedOptimae`] is the claim and the sealed votes of *every*
//! member of the quorum [`ChainState::quorum_for_at`] draws for it (as for an acceptance),
//! whose decision ([`crate::quorum::decide_counted`]) is *rejected*. Wire object:
//! `{"claim": {...claim fields, "public_key", "signature"}, "votes": [vote, ...]}`. A block
//! carries it as an `optimae_rejected` transaction ([`RejectedOptimae::to_tx`]) whose peer
//! is the optimizer, as the reference writes its own rejections: its payload is the
//! reference's `{"optimae_id", "reason"}` with the evidence beside them, so a reference
//! node's reputation counts the rejection against the optimizer, and the block hash covers
//! the evidence through the reference's merkle root
//! ([`doin_primitives::models::block_layout`]).
//!
//! **Once on chain.** A commitment appears on chain at most once, accepted or rejected: a
//! rejection inserts its commitment where accepted ones go, so it can never be accepted
//! later ([`ConsensusError::CommitmentReused`]), and an accepted one can never be rejected.
//!
//! **Effects** (applied with the block): the optimizer gets
//! [`ReputationEvent::OptimaeRejected`] (−3); each voter agrees or diverges from the
//! quorum's median as for an acceptance (an evaluator that vouched for the inflated figure
//! diverges, −2); [`stake_burn`] of the claim's stake is burned from the optimizer's
//! balance. Agreeing voters of a rejection are contributors as for an acceptance; the
//! coinbase pays nothing for a rejection.

use std::collections::BTreeSet;

use doin_primitives::fields::{Fields, ModelError};
use doin_primitives::hash::content_id;
use doin_primitives::identity::Identity;
use doin_primitives::map;
use doin_primitives::models::{Block, Transaction, TransactionType, Transfer};
use doin_primitives::seal::{Seal, SealKind};
use doin_primitives::timestamp::Timestamp;
use doin_primitives::value::{Map, Value};

use crate::accepted::Reveal;
use crate::error::ConsensusError;
use crate::fee_market::optimae_stake;
use crate::quorum::{counted_votes, decide_counted};
use crate::reputation::{apply_event, ReputationEvent};
use crate::state::ChainState;
use crate::validate::OptimaeOutcome;
use crate::vote::{QuorumVote, VoteSubject};

/// The `reason` an `optimae_rejected` transaction of DOIN gives (the reference writes its
/// quorum's reason text there; DOIN's evidence sits beside it in the payload).
pub const REJECTION_REASON: &str =
    "rejected by its quorum: verified median outside tolerance of the report";

/// Most rejections one block may carry.
pub const MAX_REJECTIONS_PER_BLOCK: usize = 32;
/// Share (percent) of a rejected claim's stake that is burned.
pub const STAKE_BURN_PERCENT: u64 = 20;

/// The stake an honest evaluator requires of a claim at `base_fee`: the reference's
/// `optimae_stake` ([`crate::fee_market::OPTIMAE_STAKE_MULTIPLIER`] base fees).
pub fn required_stake(base_fee: u64) -> u64 {
    optimae_stake(base_fee)
}

/// The stake an optimizer names at `base_fee`: [`required_stake`] plus a quarter, so that
/// an evaluator a block or two ahead (the base fee rises at most 12.5 % per block) still
/// finds it enough.
pub fn claim_stake(base_fee: u64) -> u64 {
    let s = required_stake(base_fee);
    s.saturating_add(s / 4)
}

/// Rule: a claim must stake at least [`required_stake`] at the evaluator's base fee
/// ([`ConsensusError::StakeTooLow`]); evaluators apply it before they evaluate.
pub fn check_stake(stake: u64, base_fee: u64) -> Result<(), ConsensusError> {
    let required = required_stake(base_fee);
    if stake < required {
        return Err(ConsensusError::StakeTooLow { stake, required });
    }
    Ok(())
}

/// Rule: a rejection on chain burns [`STAKE_BURN_PERCENT`] % of the larger of the claim's
/// stake and [`required_stake`] at the including block's base fee (an under-staked claim
/// loses as much as a fully staked one), capped at the optimizer's balance after the
/// block's transfers and coinbase. Stakes are not escrowed, so the cap is what lets a new
/// node with no balance take part; an accepted optimae's stake is refunded, which moves
/// nothing.
pub fn stake_burn(stake: u64, base_fee: u64, balance: u64) -> u64 {
    let at_stake = u128::from(stake.max(required_stake(base_fee)));
    let burn = at_stake * u128::from(STAKE_BURN_PERCENT) / 100;
    u64::try_from(burn).unwrap_or(u64::MAX).min(balance)
}

/// An optimizer's sealed claim on an optimae it submits to its quorum.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimaeClaim {
    /// The optimizer.
    pub optimizer_id: String,
    /// What it reveals and reports.
    pub reveal: Reveal,
    /// The optimae id the reveal gives (evaluators vote on it).
    pub optimae_id: String,
    /// The commitment the reveal gives.
    pub commitment_hash: String,
    /// Base units staked.
    pub stake: u64,
    /// The optimizer's key and signature over [`Self::id`].
    pub seal: Option<Seal>,
}

impl OptimaeClaim {
    /// The claim of `optimizer` on `reveal` with `stake`, sealed.
    pub fn sealed(optimizer: &Identity, reveal: &Reveal, stake: u64) -> Self {
        let mut claim = OptimaeClaim {
            optimizer_id: optimizer.peer_id().to_string(),
            reveal: reveal.clone(),
            optimae_id: reveal.optimae_id(optimizer.peer_id()),
            commitment_hash: reveal.commitment_hash(),
            stake,
            seal: None,
        };
        claim.seal = Some(optimizer.seal(SealKind::Claim, &claim.id()));
        claim
    }

    fn fields_value(&self, timestamp: String) -> Value {
        let r = &self.reveal;
        Value::Object(map! {
            "optimizer_id" => self.optimizer_id.clone(),
            "domain_id" => r.domain_id.clone(),
            "parameters" => r.parameters.clone(),
            "nonce" => r.nonce.clone(),
            "reported_performance" => r.reported_performance,
            "commit_height" => r.commit_height,
            "timestamp" => timestamp,
            "optimae_id" => self.optimae_id.clone(),
            "commitment_hash" => self.commitment_hash.clone(),
            "stake" => self.stake,
        })
    }

    /// The claim id: `content_id` of every field but the seal (timestamp as `isoformat`).
    pub fn id(&self) -> String {
        content_id(&self.fields_value(self.reveal.timestamp.isoformat()))
    }

    /// The wire object, seal included.
    pub fn to_value(&self) -> Value {
        let mut v = self.fields_value(self.reveal.timestamp.wire());
        if let (Value::Object(m), Some(seal)) = (&mut v, &self.seal) {
            seal.write(m);
        }
        v
    }

    /// Reads a wire object; non-finite numbers, negative heights and stakes are refused.
    pub fn from_value(v: &Value) -> Result<Self, ModelError> {
        let f = Fields::new("OptimaeClaim", v)?;
        let non_negative = |field: &'static str| -> Result<u64, ModelError> {
            let x = f.i64(field)?;
            u64::try_from(x).map_err(|_| ModelError::Invalid {
                model: "OptimaeClaim",
                field,
                reason: format!("must be >= 0, got {x}"),
            })
        };
        Ok(OptimaeClaim {
            optimizer_id: f.str("optimizer_id")?,
            reveal: Reveal {
                domain_id: f.str("domain_id")?,
                parameters: f.map_req("parameters")?,
                nonce: f.str("nonce")?,
                reported_performance: f.f64("reported_performance")?,
                commit_height: non_negative("commit_height")?,
                timestamp: f.timestamp("timestamp")?,
            },
            optimae_id: f.str("optimae_id")?,
            commitment_hash: f.str("commitment_hash")?,
            stake: non_negative("stake")?,
            seal: Seal::read(&f)?,
        })
    }

    /// Rule: a claim binds what it names: its optimae id is the reference id of its reveal
    /// under its optimizer ([`ConsensusError::WrongOptimaeId`]) and its commitment the
    /// reveal's ([`ConsensusError::CommitmentMismatch`]). The seal is checked apart
    /// ([`Self::check`]).
    pub fn check_binding(&self) -> Result<(), ConsensusError> {
        let id = self.reveal.optimae_id(&self.optimizer_id);
        if id != self.optimae_id {
            return Err(ConsensusError::WrongOptimaeId {
                expected: id,
                got: self.optimae_id.clone(),
            });
        }
        let commitment = self.reveal.commitment_hash();
        if commitment != self.commitment_hash {
            return Err(ConsensusError::CommitmentMismatch {
                claimed: self.commitment_hash.clone(),
                computed: commitment,
            });
        }
        Ok(())
    }

    /// The binding holds ([`Self::check_binding`]) and the optimizer sealed the claim with
    /// the key its id hashes from ([`ConsensusError::BadClaimSeal`]).
    pub fn check(&self) -> Result<(), ConsensusError> {
        self.check_binding()?;
        doin_primitives::identity::require_seal(
            self.seal.as_ref(),
            SealKind::Claim,
            &self.id(),
            &self.optimizer_id,
        )
        .map_err(|e| ConsensusError::BadClaimSeal(e.to_string()))
    }
}

/// Rejection evidence: a claim and its quorum's votes.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedOptimae {
    /// The optimizer's claim.
    pub claim: OptimaeClaim,
    /// The quorum members' votes.
    pub votes: Vec<QuorumVote>,
}

impl RejectedOptimae {
    /// The wire object.
    pub fn to_value(&self) -> Value {
        Value::Object(map! {
            "claim" => self.claim.to_value(),
            "votes" => self.votes.iter().map(QuorumVote::to_value).collect::<Vec<_>>(),
        })
    }

    /// Reads a wire object.
    pub fn from_value(v: &Value) -> Result<Self, ModelError> {
        let f = Fields::new("RejectedOptimae", v)?;
        let claim = f.get("claim").ok_or(ModelError::Missing {
            model: "RejectedOptimae",
            field: "claim",
        })?;
        let votes = f
            .list_or_empty("votes")?
            .iter()
            .map(QuorumVote::from_value)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RejectedOptimae {
            claim: OptimaeClaim::from_value(claim)?,
            votes,
        })
    }

    /// The `optimae_rejected` transaction that carries the evidence in a block: the
    /// optimizer as peer, the claim's domain and timestamp, and as payload the reference's
    /// `optimae_id` and `reason` with the evidence's `claim` and `votes`; unsealed (the
    /// claim and votes carry their seals).
    pub fn to_tx(&self) -> Transaction {
        let mut payload = map! {
            "optimae_id" => self.claim.optimae_id.clone(),
            "reason" => REJECTION_REASON,
        };
        if let Value::Object(evidence) = self.to_value() {
            payload.extend(evidence);
        }
        Transaction::new(
            TransactionType::OptimaeRejected,
            self.claim.reveal.domain_id.clone(),
            self.claim.optimizer_id.clone(),
            payload,
            self.claim.reveal.timestamp,
        )
    }

    /// Reads the evidence an `optimae_rejected` transaction carries; refuses a transaction
    /// that is not the one [`Self::to_tx`] gives ([`ConsensusError::CarrierMismatch`]).
    pub fn from_tx(tx: &Transaction) -> Result<Self, ConsensusError> {
        let r = RejectedOptimae::from_value(&Value::Object(tx.payload.clone()))?;
        let expected = r.to_tx();
        if expected.id != tx.compute_id() || tx.seal.is_some() {
            return Err(ConsensusError::CarrierMismatch {
                kind: TransactionType::OptimaeRejected.as_str(),
                expected: expected.id,
                got: tx.id.clone(),
            });
        }
        Ok(r)
    }

    /// The rejections a block carries (its `optimae_rejected` transactions, in order).
    pub fn read_block(block: &Block) -> Result<Vec<RejectedOptimae>, ConsensusError> {
        block
            .layout()?
            .rejected
            .iter()
            .enumerate()
            .map(|(index, tx)| {
                RejectedOptimae::from_tx(tx).map_err(|e| ConsensusError::InRejection {
                    index,
                    source: Box::new(e),
                })
            })
            .collect()
    }
}

/// What a validated rejection does.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectionOutcome {
    /// The optimizer.
    pub optimizer_id: String,
    /// The rejected optimae.
    pub optimae_id: String,
    /// Its domain.
    pub domain_id: String,
    /// Its commitment (now used on chain).
    pub commitment_hash: String,
    /// The claim's stake.
    pub stake: u64,
    /// The quorum median.
    pub median: f64,
    /// Each voter and whether its vote agreed with the median.
    pub votes: Vec<(String, bool)>,
}

/// What rejections did to the chain so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RejectionTally {
    /// Rejections on chain.
    pub rejected: u64,
    /// Base units of stakes burned by them.
    pub stake_burned: u64,
}

impl ChainState {
    /// Rejections on chain and the stakes they burned.
    pub fn rejection_tally(&self) -> RejectionTally {
        self.rejection_tally
    }

    /// Whether a commitment is on chain (accepted or rejected).
    pub fn has_commitment(&self, commitment_hash: &str) -> bool {
        self.commitments.contains(commitment_hash)
    }

    /// Checks one rejection for the next block (timestamped `at_micros`), on its own.
    ///
    /// Rule: the claim binds and is sealed ([`OptimaeClaim::check`]); its domain is the
    /// chain's and its parameters pass the domain's bounds ([`crate::bounds`]); its
    /// commitment is not on chain ([`ConsensusError::CommitmentReused`]); its commit
    /// height is in the window ([`ChainState::seed_block_hash`]) and its block carries the
    /// commitment ([`ChainState::check_committed`]); the votes are
    /// exactly one per member of the quorum drawn as for an acceptance
    /// ([`ConsensusError::VoteFromOutsider`], [`ConsensusError::DuplicateVote`],
    /// [`ConsensusError::MissingVote`]), each about this optimae with its evaluator's seed
    /// and seal; and the members' votes decide *rejected*
    /// ([`ConsensusError::QuorumAccepts`] otherwise).
    pub fn check_rejection(
        &self,
        r: &RejectedOptimae,
        at_micros: i64,
    ) -> Result<RejectionOutcome, ConsensusError> {
        let c = &r.claim;
        c.check_binding()?;
        self.check_seal(c.seal.as_ref(), SealKind::Claim, &c.id(), &c.optimizer_id)
            .map_err(|e| ConsensusError::BadClaimSeal(e.to_string()))?;
        let domain_id = c.reveal.domain_id.as_str();
        let domain = self
            .params
            .domain(domain_id)
            .ok_or_else(|| ConsensusError::UnknownDomain(domain_id.to_owned()))?;
        // Honest evaluators only measure parameters within the chain's bounds and size limit.
        crate::bounds::check_parameters(&c.reveal.parameters, domain)?;
        if self.commitments.contains(&c.commitment_hash) {
            return Err(ConsensusError::CommitmentReused(c.commitment_hash.clone()));
        }
        let commit_height = c.reveal.commit_height;
        self.seed_block_hash(commit_height)?;
        self.check_committed(
            &c.commitment_hash,
            &c.optimizer_id,
            domain_id,
            commit_height,
        )?;
        let quorum = self.quorum_for_at(domain_id, &c.optimizer_id, commit_height, at_micros)?;
        let subject = VoteSubject {
            optimae_id: &c.optimae_id,
            domain_id,
            commitment_hash: &c.commitment_hash,
            seed_block_hash: self.seed_block_hash(commit_height)?,
        };
        // Only the quorum's own votes: rejection evidence admits no young-chain extras.
        self.check_vote_list(&r.votes, &quorum, &subject, |_| false)?;
        let voters: Vec<&str> = r.votes.iter().map(|v| v.evaluator_id.as_str()).collect();
        let counted = counted_votes(&quorum, &c.optimizer_id, &voters);
        let perfs: Vec<f64> = r.votes.iter().map(|v| v.verified_performance).collect();
        let reported = c.reveal.reported_performance;
        let decision = decide_counted(&perfs, &counted, reported, self.params.quorum_tolerance)
            .ok_or_else(|| ConsensusError::MissingVote(c.optimizer_id.clone()))?;
        if decision.accepted {
            return Err(ConsensusError::QuorumAccepts {
                agree: decision.agree_count,
                votes: counted.iter().filter(|x| **x).count(),
                report_divergence: decision.report_divergence,
            });
        }
        Ok(RejectionOutcome {
            optimizer_id: c.optimizer_id.clone(),
            optimae_id: c.optimae_id.clone(),
            domain_id: domain_id.to_owned(),
            commitment_hash: c.commitment_hash.clone(),
            stake: c.stake,
            median: decision.median,
            votes: voters
                .iter()
                .zip(decision.agreements)
                .map(|(v, agreed)| ((*v).to_owned(), agreed))
                .collect(),
        })
    }

    /// Checks a next block's rejections in order, after its accepted optimae: at most
    /// [`MAX_REJECTIONS_PER_BLOCK`], each valid ([`ChainState::check_rejection`]), no
    /// commitment twice in the block, accepted or rejected.
    pub fn check_rejections(
        &self,
        rejections: &[RejectedOptimae],
        at_micros: i64,
        accepted: &[OptimaeOutcome],
    ) -> Result<Vec<RejectionOutcome>, ConsensusError> {
        if rejections.len() > MAX_REJECTIONS_PER_BLOCK {
            return Err(ConsensusError::TooManyRejections {
                count: rejections.len(),
                max: MAX_REJECTIONS_PER_BLOCK,
            });
        }
        let mut used: BTreeSet<&str> = accepted
            .iter()
            .map(|o| o.commitment_hash.as_str())
            .collect();
        let mut out = Vec::with_capacity(rejections.len());
        for (index, r) in rejections.iter().enumerate() {
            let in_rejection = |e| ConsensusError::InRejection {
                index,
                source: Box::new(e),
            };
            let outcome = self.check_rejection(r, at_micros).map_err(in_rejection)?;
            if !used.insert(r.claim.commitment_hash.as_str()) {
                return Err(in_rejection(ConsensusError::CommitmentReused(
                    outcome.commitment_hash,
                )));
            }
            out.push(outcome);
        }
        Ok(out)
    }

    /// The rejections `block` carries, checked for it as the next block.
    pub(crate) fn check_block_rejections(
        &self,
        block: &Block,
        accepted: &[OptimaeOutcome],
    ) -> Result<Vec<RejectionOutcome>, ConsensusError> {
        let rejections = RejectedOptimae::read_block(block)?;
        self.check_rejections(&rejections, block.header.timestamp.unix_micros(), accepted)
    }

    /// Applies validated rejections at block time `t` (after the block's transfers and
    /// coinbase): the reputation events and the stake burns (see the module doc).
    pub(crate) fn apply_rejections(&mut self, outcomes: &[RejectionOutcome], t: i64, fee: u64) {
        let half_life = self.params.reputation_half_life_secs;
        for o in outcomes {
            let mut event = |peer: &str, e: ReputationEvent| {
                let r = self.reputations.entry(peer.to_owned()).or_default();
                *r = apply_event(r, e, t, half_life);
            };
            event(&o.optimizer_id, ReputationEvent::OptimaeRejected);
            for (evaluator, agreed) in &o.votes {
                let e = if *agreed {
                    ReputationEvent::VoteAgreed
                } else {
                    ReputationEvent::VoteDivergent
                };
                event(evaluator, e);
                if *agreed {
                    self.active_evaluators.insert(evaluator.clone());
                    self.peers_seen.insert(evaluator.clone());
                }
            }
            let balance = self.balances.entry(o.optimizer_id.clone()).or_default();
            let burned = stake_burn(o.stake, fee, *balance);
            *balance -= burned;
            self.total_burned = self.total_burned.saturating_add(burned);
            self.commitments.insert(o.commitment_hash.clone());
            self.rejection_tally.rejected += 1;
            self.rejection_tally.stake_burned =
                self.rejection_tally.stake_burned.saturating_add(burned);
        }
    }

    /// As [`ChainState::build_block_with_transfers`], the block also carrying `rejections`
    /// (see [`ChainState::add_rejections`]).
    pub fn build_block_with_rejections(
        &self,
        generator: &Identity,
        txs: Vec<doin_primitives::models::Transaction>,
        transfers: Vec<Transfer>,
        rejections: &[RejectedOptimae],
        timestamp: Timestamp,
    ) -> Result<Block, ConsensusError> {
        let block = self.build_block_with_transfers(generator, txs, transfers, timestamp)?;
        self.add_rejections(generator, block, rejections)
    }

    /// `block`, built by `generator` as the next block, also carrying `rejections` (each
    /// valid after its accepted optimae, see [`ChainState::check_rejections`]) as
    /// `optimae_rejected` transactions after its accepted and announced ones: merkle root,
    /// hash and seal recomputed to cover them, and the result fully validated.
    pub fn add_rejections(
        &self,
        generator: &Identity,
        mut block: Block,
        rejections: &[RejectedOptimae],
    ) -> Result<Block, ConsensusError> {
        if rejections.is_empty() {
            return Ok(block);
        }
        let at = {
            let l = block.layout()?;
            l.accepted.len() + l.announced.len() + l.rejected.len()
        };
        block
            .transactions
            .splice(at..at, rejections.iter().map(RejectedOptimae::to_tx));
        block.commit_extensions()?;
        block.seal = Some(generator.seal(SealKind::Block, &block.hash));
        self.validate_block(&block)?;
        Ok(block)
    }
}

/// Verifies the seals of a block's rejection evidence (claims and votes), none of which
/// depends on chain state (see [`crate::validate::verify_block_signatures`]).
pub fn verify_rejection_signatures(block: &Block) -> Result<(), ConsensusError> {
    let Ok(rejections) = RejectedOptimae::read_block(block) else {
        // Malformed evidence fails validation with its reason.
        return Ok(());
    };
    for (index, r) in rejections.iter().enumerate() {
        let in_rejection = |e| ConsensusError::InRejection {
            index,
            source: Box::new(e),
        };
        r.claim.check().map_err(in_rejection)?;
        for v in &r.votes {
            doin_primitives::identity::require_seal(
                v.seal.as_ref(),
                SealKind::Vote,
                &v.id(),
                &v.evaluator_id,
            )
            .map_err(|e| ConsensusError::BadVoteSeal {
                evaluator: v.evaluator_id.clone(),
                reason: e.to_string(),
            })
            .map_err(in_rejection)?;
        }
    }
    Ok(())
}

/// A claim's wire object inside a map (task extension fields, gossip payloads).
pub const CLAIM_KEY: &str = "claim";

/// Reads the claim carried under [`CLAIM_KEY`] in `m`, if any.
pub fn claim_in(m: &Map) -> Option<Result<OptimaeClaim, ModelError>> {
    m.get(CLAIM_KEY).map(OptimaeClaim::from_value)
}
