//! Carried optimae: one block generator puts every optimizer's verified optimae in its
//! block.
//!
//! In its own form an `optimae_accepted` transaction ([`crate::accepted`]) is sealed by its
//! optimizer over the whole payload, tip-dependent numbers included (the domain's best
//! before it, the increments, the reward fraction), so only the optimizer could build it
//! and every optimizer minted its own: with several optimizers, every height was raced by
//! several minters. The numbers that depend on the tip are recomputed by every validator
//! anyway, so the optimizer need not vouch for them.
//!
//! **The claim.** The optimizer seals ([`SealKind::CarriedClaim`] over [`claim_id`]) only
//! what it alone asserts and what no tip changes: its id, the domain, the optimae id (which
//! covers the parameters and the timestamp), the commitment, the commit height, its
//! reported performance and its experiment metrics. The reveal is bound to the optimizer
//! by its commitment on chain (the commit block names the optimizer), and the votes are
//! sealed by their evaluators, so a carrier can change none of them.
//!
//! **The carried transaction.** `peer_id` is still the optimizer (the coinbase pays it and
//! its evaluators whoever generates), the claim seal rides in the payload under
//! [`crate::accepted::CLAIM_SEAL_KEY`], and the transaction's seal is the **block
//! generator's** over the transaction id. Rule (in [`crate::validate`], rule 6): a
//! transaction with a claim seal is valid only when the claim seal verifies for its
//! `peer_id` and the transaction seal for the generator of the block that carries it; one
//! without is the optimizer's own form, sealed by `peer_id` as before, so every chain built
//! before carrying stays valid.
//!
//! **Gossip.** A [`VerifiedOptimae`] (reveal, votes, experiment, claim seal) is what an
//! optimizer publishes once its quorum has voted, and what a receiving node scores against
//! its chain and keeps pending to carry in the next block it mints.

use doin_primitives::fields::{Fields, ModelError};
use doin_primitives::hash::content_id;
use doin_primitives::identity::{require_seal, Identity};
use doin_primitives::map;
use doin_primitives::models::Transaction;
use doin_primitives::seal::{Seal, SealKind};
use doin_primitives::value::{Map, Value};

use crate::accepted::{AcceptedOptimae, Experiment, Reveal, Scoring};
use crate::error::ConsensusError;
use crate::vote::QuorumVote;

const MODEL: &str = "VerifiedOptimae";

/// Most votes a gossiped verified optimae may carry (a quorum is far smaller).
pub const MAX_VOTES: usize = 64;

/// The object the optimizer's claim seal signs, as its content id: what only the
/// optimizer asserts and no tip changes.
#[allow(clippy::too_many_arguments)]
fn claim_value(
    optimizer_id: &str,
    domain_id: &str,
    optimae_id: &str,
    commitment_hash: &str,
    commit_height: u64,
    reported_performance: f64,
    e: &Experiment,
) -> Value {
    Value::Object(map! {
        "optimizer_id" => optimizer_id,
        "domain_id" => domain_id,
        "optimae_id" => optimae_id,
        "commitment_hash" => commitment_hash,
        "commit_height" => commit_height,
        "reported_performance" => reported_performance,
        "experiment_id" => e.experiment_id.clone(),
        "round_number" => e.round_number,
        "time_to_this_result_seconds" => e.time_to_this_result_seconds,
        "optimization_config_hash" => e.optimization_config_hash.clone(),
        "data_hash" => e.data_hash.clone(),
        "champion_metrics" => e.champion_metrics.clone(),
    })
}

/// The id the claim seal of a carried transaction signs, from the transaction as read.
pub fn claim_id(a: &AcceptedOptimae) -> String {
    content_id(&claim_value(
        &a.optimizer_id,
        &a.domain_id,
        &a.optimae_id,
        &a.commitment_hash,
        a.commit_height,
        a.reported_performance,
        &a.experiment,
    ))
}

/// Rule: the seals of an accepted-optimae transaction `tx` (read as `a`) in a block by
/// `generator`. Own form: the transaction sealed by its optimizer. Carried form: the
/// claim sealed by the optimizer and the transaction by `generator`; outside a block (no
/// generator) a carried transaction is refused. `check` verifies one seal (kind, id,
/// signer).
pub(crate) fn check_seals(
    tx: &Transaction,
    a: &AcceptedOptimae,
    generator: Option<&str>,
    check: impl Fn(
        Option<&Seal>,
        SealKind,
        &str,
        &str,
    ) -> Result<(), doin_primitives::identity::IdentityError>,
) -> Result<(), ConsensusError> {
    let Some(claim) = &a.claim_seal else {
        return check(tx.seal.as_ref(), SealKind::Transaction, &tx.id, &tx.peer_id)
            .map_err(|e| ConsensusError::BadOptimizerSeal(e.to_string()));
    };
    let generator = generator.ok_or(ConsensusError::CarriedOutsideBlock)?;
    check(tx.seal.as_ref(), SealKind::Transaction, &tx.id, generator)
        .map_err(|e| ConsensusError::BadCarrierSeal(e.to_string()))?;
    check(
        Some(claim),
        SealKind::CarriedClaim,
        &claim_id(a),
        &tx.peer_id,
    )
    .map_err(|e| ConsensusError::BadOptimizerSeal(format!("carried claim: {e}")))
}

/// A verified optimae as its optimizer hands it to whoever mints: the reveal, the
/// quorum's votes, the experiment metrics, and the optimizer's claim seal.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedOptimae {
    /// The optimizer.
    pub optimizer_id: String,
    /// What it revealed.
    pub reveal: Reveal,
    /// Its quorum's sealed votes.
    pub votes: Vec<QuorumVote>,
    /// Its experiment metrics.
    pub experiment: Experiment,
    /// The optimizer's seal over [`Self::claim_id`].
    pub claim_seal: Option<Seal>,
}

impl VerifiedOptimae {
    /// The optimae of `optimizer`, its claim sealed.
    pub fn sealed(
        optimizer: &Identity,
        reveal: &Reveal,
        votes: &[QuorumVote],
        experiment: &Experiment,
    ) -> Self {
        let mut v = VerifiedOptimae {
            optimizer_id: optimizer.peer_id().to_string(),
            reveal: reveal.clone(),
            votes: votes.to_vec(),
            experiment: experiment.clone(),
            claim_seal: None,
        };
        v.claim_seal = Some(optimizer.seal(SealKind::CarriedClaim, &v.claim_id()));
        v
    }

    /// The optimae id its votes are on.
    pub fn optimae_id(&self) -> String {
        self.reveal.optimae_id(&self.optimizer_id)
    }

    /// The id its claim seal signs (the same [`claim_id`] gives its carried transaction).
    pub fn claim_id(&self) -> String {
        let r = &self.reveal;
        content_id(&claim_value(
            &self.optimizer_id,
            &r.domain_id,
            &self.optimae_id(),
            &r.commitment_hash(),
            r.commit_height,
            r.reported_performance,
            &self.experiment,
        ))
    }

    /// Checks the claim seal (key of the optimizer, signature over [`Self::claim_id`]) and
    /// every vote's seal by its evaluator, before any chain state is read.
    pub fn check_seals(&self) -> Result<(), ConsensusError> {
        require_seal(
            self.claim_seal.as_ref(),
            SealKind::CarriedClaim,
            &self.claim_id(),
            &self.optimizer_id,
        )
        .map_err(|e| ConsensusError::BadOptimizerSeal(format!("carried claim: {e}")))?;
        for v in &self.votes {
            require_seal(v.seal.as_ref(), SealKind::Vote, &v.id(), &v.evaluator_id).map_err(
                |e| ConsensusError::BadVoteSeal {
                    evaluator: v.evaluator_id.clone(),
                    reason: e.to_string(),
                },
            )?;
        }
        Ok(())
    }

    /// The carried transaction for a block by `generator`, with the numbers `scoring`
    /// gives at its tip ([`crate::state::ChainState::score_optimae_by`]).
    pub fn carry(&self, generator: &Identity, scoring: &Scoring) -> Transaction {
        AcceptedOptimae::from_parts(
            &self.optimizer_id,
            &self.reveal,
            scoring,
            &self.votes,
            &self.experiment,
            self.claim_seal.clone(),
        )
        .to_tx(generator)
    }

    /// The wire object: the reveal's and experiment's fields, the votes, the claim seal.
    pub fn to_value(&self) -> Value {
        let r = &self.reveal;
        let e = &self.experiment;
        let mut m = map! {
            "optimizer_id" => self.optimizer_id.clone(),
            "domain_id" => r.domain_id.clone(),
            "parameters" => r.parameters.clone(),
            "nonce" => r.nonce.clone(),
            "reported_performance" => r.reported_performance,
            "commit_height" => r.commit_height,
            "timestamp" => r.timestamp.wire(),
            "votes" => self.votes.iter().map(QuorumVote::to_value).collect::<Vec<_>>(),
            "experiment_id" => e.experiment_id.clone(),
            "round_number" => e.round_number,
            "time_to_this_result_seconds" => e.time_to_this_result_seconds,
            "optimization_config_hash" => e.optimization_config_hash.clone(),
            "data_hash" => e.data_hash.clone(),
            "champion_metrics" => e.champion_metrics.clone(),
        };
        if let Some(seal) = &self.claim_seal {
            let mut s = Map::new();
            seal.write(&mut s);
            m.insert(crate::accepted::CLAIM_SEAL_KEY.into(), Value::Object(s));
        }
        Value::Object(m)
    }

    /// Reads a wire object; refuses non-finite numbers, a negative commit height and more
    /// than [`MAX_VOTES`] votes.
    pub fn from_value(v: &Value) -> Result<Self, ModelError> {
        let f = Fields::new(MODEL, v)?;
        let invalid = |field: &'static str, reason: String| ModelError::Invalid {
            model: MODEL,
            field,
            reason,
        };
        let finite = |field: &'static str| -> Result<f64, ModelError> {
            let x = f.f64(field)?;
            if x.is_finite() {
                Ok(x)
            } else {
                Err(invalid(field, "number is not finite".into()))
            }
        };
        let commit_height = f.i64("commit_height")?;
        let commit_height = u64::try_from(commit_height).map_err(|_| {
            invalid(
                "commit_height",
                format!("must be >= 0, got {commit_height}"),
            )
        })?;
        let votes = f.list_or_empty("votes")?;
        if votes.len() > MAX_VOTES {
            return Err(invalid(
                "votes",
                format!("{} votes, at most {MAX_VOTES}", votes.len()),
            ));
        }
        let claim_seal = match f.get(crate::accepted::CLAIM_SEAL_KEY) {
            None => None,
            Some(s) => Seal::read(&Fields::new(MODEL, s)?)?,
        };
        Ok(VerifiedOptimae {
            optimizer_id: f.str("optimizer_id")?,
            reveal: Reveal {
                domain_id: f.str("domain_id")?,
                parameters: f.map_req("parameters")?,
                nonce: f.str("nonce")?,
                reported_performance: finite("reported_performance")?,
                commit_height,
                timestamp: f.timestamp("timestamp")?,
            },
            votes: votes
                .iter()
                .map(QuorumVote::from_value)
                .collect::<Result<Vec<_>, _>>()?,
            experiment: Experiment {
                experiment_id: f.str("experiment_id")?,
                round_number: f.i64("round_number")?,
                time_to_this_result_seconds: finite("time_to_this_result_seconds")?,
                optimization_config_hash: f.str("optimization_config_hash")?,
                data_hash: f.str("data_hash")?,
                champion_metrics: f.map_req("champion_metrics")?,
            },
            claim_seal,
        })
    }
}

impl doin_primitives::models::WireModel for VerifiedOptimae {
    fn from_value(v: &Value) -> Result<Self, ModelError> {
        VerifiedOptimae::from_value(v)
    }

    fn to_value(&self) -> Value {
        VerifiedOptimae::to_value(self)
    }
}
