//! The OPTIMAE_ACCEPTED transaction DOIN puts in blocks.
//!
//! A reference [`Transaction`] (`tx_type = "optimae_accepted"`, `domain_id`,
//! `peer_id` = the optimizer), sealed by the optimizer with [`SealKind::Transaction`] over
//! the transaction id. Everything consensus needs rides in the payload, which the id (and
//! so the merkle root and the block hash) covers:
//!
//! The keys the reference's node writes come first, at the top level and with its
//! meanings, so that its chain metrics, OLAP export, dashboard and fork choice read them;
//! DOIN's keys sit beside them:
//!
//! | key | type | meaning |
//! |---|---|---|
//! | `optimae_id` | str | reference optimae id of domain, optimizer, parameters, tx timestamp |
//! | `parameters` | object | the revealed parameters |
//! | `verified_performance` | float | the quorum median |
//! | `effective_increment`, `reward_fraction` | float | see [`crate::increment`] (fork choice reads `effective_increment`) |
//! | `quorum_agree_fraction` | float | agreeing over deciding quorum votes (recomputed) |
//! | `incentive_reason` | str | the reference's verification-incentive reason text (recomputed) |
//! | `champion_metrics` | object | the optimizer's metrics of this result, carried and type-checked |
//! | `experiment_id`, `round_number`, `time_to_this_result_seconds`, `optimization_config_hash`, `data_hash` | str, int, float, str, str | experiment metrics ([`Experiment`]), carried and type-checked |
//! | `reported_performance` | float | what the optimizer reported |
//! | `previous_best_performance` | float or null | the domain's best before this optimae (recomputed) |
//! | `increment` | float | the raw increment (DOIN) |
//! | `commitment_hash` | str | `compute_commitment(parameters, nonce)` (DOIN) |
//! | `nonce` | str | the commitment nonce (DOIN) |
//! | `commit_height` | int | chain height when the optimizer committed, the quorum seed block (DOIN) |
//! | `votes` | list | the quorum's sealed [`QuorumVote`] objects (DOIN) |
//! | `claim_seal` | object, optional | `{"public_key", "signature"}`: the optimizer's seal over its carried claim (DOIN, [`crate::carried`]) |
//!
//! **Two forms.** Without `claim_seal`, the optimizer seals the transaction itself (its
//! own form, the only one before carrying). With it, the transaction is *carried*: the
//! optimizer's seal covers only what it alone asserts and what does not depend on the tip
//! ([`crate::carried::claim_id`]), and the transaction's seal is the block generator's, so
//! any node can put a verified optimae of another optimizer in the block it mints.
//!
//! The payload is read strictly (numbers must be JSON numbers, strings strings), since
//! every value is recomputed and compared by the validator.

use doin_primitives::identity::Identity;
use doin_primitives::map;
use doin_primitives::models::{Transaction, TransactionType};
use doin_primitives::seal::{Seal, SealKind};
use doin_primitives::timestamp::Timestamp;
use doin_primitives::value::{Map, Value};
use doin_primitives::ModelError;

use crate::error::ConsensusError;
use crate::reference::commitment::compute_commitment;
use crate::vote::QuorumVote;

const MODEL: &str = "OptimaeAccepted";

/// The payload key of the optimizer's claim seal in a carried transaction.
pub const CLAIM_SEAL_KEY: &str = "claim_seal";

/// The reference optimae id: `content_id` of `{"domain_id", "optimizer_id", "parameters",
/// "timestamp": isoformat}` ([`doin_primitives::models::optimae::optimae_id`]).
pub fn optimae_id(
    domain_id: &str,
    optimizer_id: &str,
    parameters: &Map,
    timestamp: &Timestamp,
) -> String {
    doin_primitives::models::optimae::optimae_id(domain_id, optimizer_id, parameters, *timestamp)
}

/// Experiment metrics an optimizer attaches to its accepted optimae.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Experiment {
    /// The optimizer's experiment id.
    pub experiment_id: String,
    /// The optimization round that produced the result.
    pub round_number: i64,
    /// Seconds from the experiment's start to this result.
    pub time_to_this_result_seconds: f64,
    /// Hash of the optimizer's configuration.
    pub optimization_config_hash: String,
    /// Hash of the data it trained on.
    pub data_hash: String,
    /// The optimizer's metrics of this result (the reference's `champion_metrics`).
    pub champion_metrics: Map,
}

impl Experiment {
    /// Reads the metrics from the top level of a payload.
    fn read(p: &Strict<'_>) -> Result<Self, ModelError> {
        Ok(Experiment {
            experiment_id: p.str("experiment_id")?,
            round_number: p.int("round_number")?,
            time_to_this_result_seconds: p.num("time_to_this_result_seconds")?,
            optimization_config_hash: p.str("optimization_config_hash")?,
            data_hash: p.str("data_hash")?,
            champion_metrics: p.object("champion_metrics")?,
        })
    }
}

/// What the optimizer reveals: the committed parameters and its claim.
#[derive(Debug, Clone, PartialEq)]
pub struct Reveal {
    /// The domain.
    pub domain_id: String,
    /// The parameters committed to.
    pub parameters: Map,
    /// The commitment nonce (at least 128 random bits, as hex).
    pub nonce: String,
    /// The performance the optimizer reports.
    pub reported_performance: f64,
    /// The chain height when the optimizer committed.
    pub commit_height: u64,
    /// The optimae's timestamp (also the transaction's); fixes the optimae id the
    /// evaluators vote on.
    pub timestamp: Timestamp,
}

impl Reveal {
    /// `compute_commitment(parameters, nonce)`.
    pub fn commitment_hash(&self) -> String {
        compute_commitment(&self.parameters, &self.nonce)
    }

    /// The optimae id evaluators vote on.
    pub fn optimae_id(&self, optimizer_id: &str) -> String {
        optimae_id(
            &self.domain_id,
            optimizer_id,
            &self.parameters,
            &self.timestamp,
        )
    }
}

/// The numbers the rules give an optimae (see [`crate::state::ChainState::score_optimae`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scoring {
    /// The quorum median.
    pub verified_performance: f64,
    /// The raw increment.
    pub increment: f64,
    /// The effective (weighted) increment.
    pub effective_increment: f64,
    /// The verification incentive's reward fraction.
    pub reward_fraction: f64,
    /// Agreeing over deciding quorum votes.
    pub quorum_agree_fraction: f64,
    /// The reference's verification-incentive reason text.
    pub incentive_reason: String,
    /// The domain's best verified performance before this optimae.
    pub previous_best_performance: Option<f64>,
}

/// An accepted optimae as carried by an OPTIMAE_ACCEPTED transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct AcceptedOptimae {
    /// Reference optimae id.
    pub optimae_id: String,
    /// The domain (the transaction's `domain_id`).
    pub domain_id: String,
    /// The optimizer (the transaction's `peer_id`).
    pub optimizer_id: String,
    /// The revealed parameters.
    pub parameters: Map,
    /// The performance the optimizer reported.
    pub reported_performance: f64,
    /// The quorum median.
    pub verified_performance: f64,
    /// The commitment.
    pub commitment_hash: String,
    /// The commitment nonce.
    pub nonce: String,
    /// The chain height when the optimizer committed.
    pub commit_height: u64,
    /// Raw increment.
    pub increment: f64,
    /// Effective increment.
    pub effective_increment: f64,
    /// Reward fraction.
    pub reward_fraction: f64,
    /// Agreeing over deciding quorum votes.
    pub quorum_agree_fraction: f64,
    /// The reference's verification-incentive reason text.
    pub incentive_reason: String,
    /// The domain's best verified performance before this optimae.
    pub previous_best_performance: Option<f64>,
    /// The quorum's votes.
    pub votes: Vec<QuorumVote>,
    /// Experiment metrics.
    pub experiment: Experiment,
    /// The transaction's timestamp.
    pub timestamp: Timestamp,
    /// The optimizer's seal over its carried claim, when the transaction is carried (sealed
    /// by the block's generator); `None` in the optimizer's own form.
    pub claim_seal: Option<Seal>,
}

impl AcceptedOptimae {
    /// Builds the transaction the node puts in a block, sealed by `optimizer`.
    pub fn build(
        optimizer: &Identity,
        reveal: &Reveal,
        scoring: &Scoring,
        votes: &[QuorumVote],
        experiment: &Experiment,
    ) -> Transaction {
        Self::from_parts(
            optimizer.peer_id(),
            reveal,
            scoring,
            votes,
            experiment,
            None,
        )
        .to_tx(optimizer)
    }

    /// The accepted optimae of `optimizer_id`'s `reveal`, with the numbers `scoring` gives
    /// at the tip, and `claim_seal` when it is carried (unsealed: see [`Self::to_tx`]).
    pub fn from_parts(
        optimizer_id: &str,
        reveal: &Reveal,
        scoring: &Scoring,
        votes: &[QuorumVote],
        experiment: &Experiment,
        claim_seal: Option<Seal>,
    ) -> AcceptedOptimae {
        AcceptedOptimae {
            optimae_id: reveal.optimae_id(optimizer_id),
            domain_id: reveal.domain_id.clone(),
            optimizer_id: optimizer_id.to_owned(),
            parameters: reveal.parameters.clone(),
            reported_performance: reveal.reported_performance,
            verified_performance: scoring.verified_performance,
            commitment_hash: reveal.commitment_hash(),
            nonce: reveal.nonce.clone(),
            commit_height: reveal.commit_height,
            increment: scoring.increment,
            effective_increment: scoring.effective_increment,
            reward_fraction: scoring.reward_fraction,
            quorum_agree_fraction: scoring.quorum_agree_fraction,
            incentive_reason: scoring.incentive_reason.clone(),
            previous_best_performance: scoring.previous_best_performance,
            votes: votes.to_vec(),
            experiment: experiment.clone(),
            timestamp: reveal.timestamp,
            claim_seal,
        }
    }

    /// The transaction carrying this optimae, sealed by `signer`: the optimizer in its own
    /// form, the block's generator when [`Self::claim_seal`] is set (carried).
    pub fn to_tx(&self, signer: &Identity) -> Transaction {
        let mut tx = self.unsealed_tx();
        tx.seal = Some(signer.seal(SealKind::Transaction, &tx.id));
        tx
    }

    /// The transaction without its seal.
    fn unsealed_tx(&self) -> Transaction {
        Transaction::new(
            TransactionType::OptimaeAccepted,
            self.domain_id.clone(),
            self.optimizer_id.clone(),
            self.payload(),
            self.timestamp,
        )
    }

    /// The payload object: the reference's keys first, then DOIN's (see the module doc).
    pub fn payload(&self) -> Map {
        let e = &self.experiment;
        let mut payload = map! {
            "optimae_id" => self.optimae_id.clone(),
            "parameters" => self.parameters.clone(),
            "verified_performance" => self.verified_performance,
            "effective_increment" => self.effective_increment,
            "reward_fraction" => self.reward_fraction,
            "quorum_agree_fraction" => self.quorum_agree_fraction,
            "incentive_reason" => self.incentive_reason.clone(),
            "champion_metrics" => e.champion_metrics.clone(),
            "experiment_id" => e.experiment_id.clone(),
            "round_number" => e.round_number,
            "time_to_this_result_seconds" => e.time_to_this_result_seconds,
            "optimization_config_hash" => e.optimization_config_hash.clone(),
            "data_hash" => e.data_hash.clone(),
            "reported_performance" => self.reported_performance,
            "previous_best_performance" => self.previous_best_performance.map_or(Value::Null, Value::Float),
            "increment" => self.increment,
            "commitment_hash" => self.commitment_hash.clone(),
            "nonce" => self.nonce.clone(),
            "commit_height" => self.commit_height,
            "votes" => self.votes.iter().map(QuorumVote::to_value).collect::<Vec<_>>(),
        };
        if let Some(seal) = &self.claim_seal {
            let mut m = Map::new();
            seal.write(&mut m);
            payload.insert(CLAIM_SEAL_KEY.into(), Value::Object(m));
        }
        payload
    }

    /// Reads an OPTIMAE_ACCEPTED transaction (any other type is
    /// [`ConsensusError::UnsupportedTransaction`]). Checks types only, not the rules.
    pub fn from_tx(tx: &Transaction) -> Result<AcceptedOptimae, ConsensusError> {
        if tx.tx_type != TransactionType::OptimaeAccepted {
            return Err(ConsensusError::UnsupportedTransaction(tx.tx_type.as_str()));
        }
        let p = Strict { map: &tx.payload };
        let commit_height = p.int("commit_height")?;
        let commit_height =
            u64::try_from(commit_height).map_err(|_| p.invalid("commit_height", "must be >= 0"))?;
        let votes = match p.get("votes")? {
            Value::Array(a) => a
                .iter()
                .map(QuorumVote::from_value)
                .collect::<Result<Vec<_>, _>>()?,
            other => {
                return Err(p
                    .invalid(
                        "votes",
                        format!("expected a list, got {}", other.type_name()),
                    )
                    .into())
            }
        };
        let parameters = p.object("parameters")?;
        let previous_best_performance = match p.get("previous_best_performance")? {
            Value::Null => None,
            _ => Some(p.num("previous_best_performance")?),
        };
        Ok(AcceptedOptimae {
            optimae_id: p.str("optimae_id")?,
            domain_id: tx.domain_id.clone(),
            optimizer_id: tx.peer_id.clone(),
            parameters,
            reported_performance: p.num("reported_performance")?,
            verified_performance: p.num("verified_performance")?,
            commitment_hash: p.str("commitment_hash")?,
            nonce: p.str("nonce")?,
            commit_height,
            increment: p.num("increment")?,
            effective_increment: p.num("effective_increment")?,
            reward_fraction: p.num("reward_fraction")?,
            quorum_agree_fraction: p.num("quorum_agree_fraction")?,
            incentive_reason: p.str("incentive_reason")?,
            previous_best_performance,
            votes,
            experiment: Experiment::read(&p)?,
            timestamp: tx.timestamp,
            claim_seal: p.seal(CLAIM_SEAL_KEY)?,
        })
    }
}

/// Strict typed reading of a payload object.
struct Strict<'a> {
    map: &'a Map,
}

impl<'a> Strict<'a> {
    fn object(&self, field: &'static str) -> Result<Map, ModelError> {
        match self.get(field)? {
            Value::Object(m) => Ok(m.clone()),
            other => Err(self.invalid(
                field,
                format!("expected an object, got {}", other.type_name()),
            )),
        }
    }

    fn invalid(&self, field: &'static str, reason: impl Into<String>) -> ModelError {
        ModelError::Invalid {
            model: MODEL,
            field,
            reason: reason.into(),
        }
    }

    fn get(&self, field: &'static str) -> Result<&'a Value, ModelError> {
        self.map.get(field).ok_or(ModelError::Missing {
            model: MODEL,
            field,
        })
    }

    fn str(&self, field: &'static str) -> Result<String, ModelError> {
        match self.get(field)? {
            Value::Str(s) => Ok(s.clone()),
            other => Err(self.invalid(
                field,
                format!("expected a string, got {}", other.type_name()),
            )),
        }
    }

    fn num(&self, field: &'static str) -> Result<f64, ModelError> {
        let x = match self.get(field)? {
            Value::Float(f) => *f,
            Value::Int(i) => *i as f64,
            other => {
                return Err(self.invalid(
                    field,
                    format!("expected a number, got {}", other.type_name()),
                ))
            }
        };
        if x.is_finite() {
            Ok(x)
        } else {
            Err(self.invalid(field, "number is not finite"))
        }
    }

    /// An optional seal object (`{"public_key", "signature"}`); absent is `None`.
    fn seal(&self, field: &'static str) -> Result<Option<Seal>, ModelError> {
        if !self.map.contains_key(field) {
            return Ok(None);
        }
        let m = self.object(field)?;
        let f = doin_primitives::fields::Fields::of_map(MODEL, &m);
        match Seal::read(&f)? {
            Some(seal) => Ok(Some(seal)),
            None => Err(self.invalid(field, "a seal needs public_key and signature")),
        }
    }

    fn int(&self, field: &'static str) -> Result<i64, ModelError> {
        match self.get(field)? {
            Value::Int(i) => Ok(*i),
            other => Err(self.invalid(
                field,
                format!("expected an integer, got {}", other.type_name()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reveal() -> Reveal {
        Reveal {
            domain_id: "d1".into(),
            parameters: map! { "w" => vec![Value::Int(1), Value::Int(2), Value::Int(3)] },
            nonce: "abc123".into(),
            reported_performance: -0.5,
            commit_height: 3,
            timestamp: Timestamp::parse_str("2026-01-01T00:00:00Z").expect("time"),
        }
    }

    #[test]
    fn optimae_id_is_the_reference_vector() {
        assert_eq!(
            reveal().optimae_id("optimizer-1"),
            "a04d4c14cc54a720b79b513e6d914e8b1139e07e97dfd865884ed41a3a9819ab"
        );
    }

    #[test]
    fn build_then_parse_round_trips() {
        let id = Identity::from_scalar_bytes(&[5u8; 32]).expect("scalar");
        let scoring = Scoring {
            verified_performance: -0.5,
            increment: 1.0,
            effective_increment: 0.5,
            reward_fraction: 1.0,
            ..Scoring::default()
        };
        let exp = Experiment {
            experiment_id: "e".into(),
            round_number: 7,
            time_to_this_result_seconds: 1.5,
            optimization_config_hash: "c".into(),
            data_hash: "h".into(),
            champion_metrics: map! { "mae" => 0.25 },
        };
        let tx = AcceptedOptimae::build(&id, &reveal(), &scoring, &[], &exp);
        assert!(tx.id_is_valid());
        let a = AcceptedOptimae::from_tx(&tx).expect("parses");
        assert_eq!(a.optimizer_id, id.peer_id());
        assert_eq!(
            a.commitment_hash,
            compute_commitment(&a.parameters, "abc123")
        );
        assert_eq!(a.experiment, exp);
        assert_eq!(a.to_tx(&id).id, tx.id);
    }

    #[test]
    fn wrong_types_and_other_tx_types_are_refused() {
        let id = Identity::from_scalar_bytes(&[5u8; 32]).expect("scalar");
        let scoring = Scoring {
            verified_performance: -0.5,
            increment: 1.0,
            effective_increment: 0.5,
            reward_fraction: 1.0,
            ..Scoring::default()
        };
        let mut tx = AcceptedOptimae::build(&id, &reveal(), &scoring, &[], &Experiment::default());
        tx.payload
            .insert("increment".into(), Value::Str("1.0".into()));
        assert!(matches!(
            AcceptedOptimae::from_tx(&tx),
            Err(ConsensusError::MalformedPayload(_))
        ));
        tx.tx_type = TransactionType::TaskCreated;
        assert_eq!(
            AcceptedOptimae::from_tx(&tx),
            Err(ConsensusError::UnsupportedTransaction("task_created"))
        );
    }
}
