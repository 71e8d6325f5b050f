//! A quorum member's signed verification result.
//!
//! Wire object (an extension: votes ride inside an accepted transaction's payload):
//! `{"optimae_id", "domain_id", "evaluator_id", "verified_performance", "synthetic_seed",
//! "synthetic_data_hash", "timestamp", "public_key", "signature"}`. The vote id is the
//! `content_id` of every field but the seal (timestamp as `isoformat`), and the evaluator
//! seals it with [`SealKind::Vote`].

use doin_primitives::fields::{Fields, ModelError};
use doin_primitives::hash::content_id;
use doin_primitives::identity::require_seal;
use doin_primitives::identity::Identity;
use doin_primitives::map;
use doin_primitives::seal::{Seal, SealKind};
use doin_primitives::timestamp::Timestamp;
use doin_primitives::value::Value;

use crate::error::ConsensusError;

/// What a vote must be about: the optimae, and the chain data its seed derives from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoteSubject<'a> {
    /// The optimae the quorum verifies.
    pub optimae_id: &'a str,
    /// Its domain.
    pub domain_id: &'a str,
    /// Its commitment.
    pub commitment_hash: &'a str,
    /// The hash of the block at its commit height.
    pub seed_block_hash: &'a str,
}

/// An evaluator's vote on an optimae.
#[derive(Debug, Clone, PartialEq)]
pub struct QuorumVote {
    /// The optimae voted on (reference optimae id).
    pub optimae_id: String,
    /// Its domain.
    pub domain_id: String,
    /// The voter.
    pub evaluator_id: String,
    /// The performance the evaluator measured.
    pub verified_performance: f64,
    /// The synthetic-data seed the evaluator used (see [`crate::quorum::synthetic_seed`]).
    pub synthetic_seed: u64,
    /// Hash of the synthetic data it generated (audit only).
    pub synthetic_data_hash: String,
    /// When the evaluator voted.
    pub timestamp: Timestamp,
    /// The evaluator's key and signature over [`Self::id`].
    pub seal: Option<Seal>,
}

impl QuorumVote {
    fn fields_value(&self, timestamp: String) -> Value {
        Value::Object(map! {
            "optimae_id" => self.optimae_id.clone(),
            "domain_id" => self.domain_id.clone(),
            "evaluator_id" => self.evaluator_id.clone(),
            "verified_performance" => self.verified_performance,
            "synthetic_seed" => self.synthetic_seed,
            "synthetic_data_hash" => self.synthetic_data_hash.clone(),
            "timestamp" => timestamp,
        })
    }

    /// The vote id: `content_id` of all fields except the seal (timestamp as `isoformat`).
    pub fn id(&self) -> String {
        content_id(&self.fields_value(self.timestamp.isoformat()))
    }

    /// Seals the vote as `evaluator` (which must be the vote's `evaluator_id`).
    pub fn sealed(mut self, evaluator: &Identity) -> Self {
        self.seal = Some(evaluator.seal(SealKind::Vote, &self.id()));
        self
    }

    /// The wire object, seal included.
    pub fn to_value(&self) -> Value {
        let mut v = self.fields_value(self.timestamp.wire());
        if let (Value::Object(m), Some(seal)) = (&mut v, &self.seal) {
            seal.write(m);
        }
        v
    }

    /// Rule: a vote counts for an optimae only if it names that optimae and its domain
    /// ([`ConsensusError::VoteForOtherOptimae`]) and declares its evaluator's own synthetic
    /// seed, [`crate::quorum::synthetic_seed`] of the commitment, the domain, the evaluator
    /// and the block at the commit height ([`ConsensusError::WrongVoteSeed`]). The seal is
    /// checked apart (see [`Self::check_for`]).
    pub fn check_subject(&self, subject: &VoteSubject<'_>) -> Result<(), ConsensusError> {
        if self.optimae_id != subject.optimae_id || self.domain_id != subject.domain_id {
            return Err(ConsensusError::VoteForOtherOptimae(
                self.evaluator_id.clone(),
            ));
        }
        let expected = crate::quorum::synthetic_seed(
            subject.commitment_hash,
            subject.domain_id,
            &self.evaluator_id,
            subject.seed_block_hash,
        );
        if self.synthetic_seed != expected {
            return Err(ConsensusError::WrongVoteSeed {
                evaluator: self.evaluator_id.clone(),
                expected,
                got: self.synthetic_seed,
            });
        }
        Ok(())
    }

    /// Everything a vote handed in by `evaluator_id` must satisfy to count: it is that
    /// evaluator's ([`ConsensusError::VoteFromOtherEvaluator`]), its subject holds
    /// ([`Self::check_subject`]) and that evaluator sealed it
    /// ([`ConsensusError::BadVoteSeal`]).
    pub fn check_for(
        &self,
        evaluator_id: &str,
        subject: &VoteSubject<'_>,
    ) -> Result<(), ConsensusError> {
        if self.evaluator_id != evaluator_id {
            return Err(ConsensusError::VoteFromOtherEvaluator {
                expected: evaluator_id.to_owned(),
                got: self.evaluator_id.clone(),
            });
        }
        self.check_subject(subject)?;
        require_seal(self.seal.as_ref(), SealKind::Vote, &self.id(), evaluator_id).map_err(|e| {
            ConsensusError::BadVoteSeal {
                evaluator: evaluator_id.to_owned(),
                reason: e.to_string(),
            }
        })
    }

    /// Reads a wire object leniently (ints for floats, unknown keys ignored); non-finite
    /// numbers and negative seeds are refused.
    pub fn from_value(v: &Value) -> Result<Self, ModelError> {
        let f = Fields::new("QuorumVote", v)?;
        let seed = f.i64("synthetic_seed")?;
        let synthetic_seed = u64::try_from(seed).map_err(|_| ModelError::Invalid {
            model: "QuorumVote",
            field: "synthetic_seed",
            reason: format!("must be >= 0, got {seed}"),
        })?;
        Ok(QuorumVote {
            optimae_id: f.str("optimae_id")?,
            domain_id: f.str("domain_id")?,
            evaluator_id: f.str("evaluator_id")?,
            verified_performance: f.f64("verified_performance")?,
            synthetic_seed,
            synthetic_data_hash: f.str_or("synthetic_data_hash", "")?,
            timestamp: f.timestamp("timestamp")?,
            seal: Seal::read(&f)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::identity::verify_seal;

    fn vote(evaluator: &Identity) -> QuorumVote {
        QuorumVote {
            optimae_id: "o".into(),
            domain_id: "d".into(),
            evaluator_id: evaluator.peer_id().into(),
            verified_performance: -0.25,
            synthetic_seed: 42,
            synthetic_data_hash: "h".into(),
            timestamp: Timestamp::from_unix_secs(1_767_225_600),
            seal: None,
        }
    }

    #[test]
    fn round_trip_and_seal() {
        let id = Identity::from_scalar_bytes(&[3u8; 32]).expect("scalar");
        let v = vote(&id).sealed(&id);
        let back = QuorumVote::from_value(&v.to_value()).expect("parses");
        assert_eq!(back, v);
        let seal = back.seal.as_ref().expect("sealed");
        verify_seal(seal, SealKind::Vote, &back.id(), id.peer_id()).expect("valid");
        let mut tampered = back.clone();
        tampered.verified_performance = -0.2;
        assert_ne!(tampered.id(), back.id());
        assert!(verify_seal(seal, SealKind::Vote, &tampered.id(), id.peer_id()).is_err());
    }

    #[test]
    fn id_excludes_the_seal_and_uses_isoformat() {
        let id = Identity::from_scalar_bytes(&[3u8; 32]).expect("scalar");
        let v = vote(&id);
        assert_eq!(v.id(), v.clone().sealed(&id).id());
        let preimage = doin_primitives::cjson::to_cjson(&v.fields_value(v.timestamp.isoformat()));
        assert!(preimage.contains("\"timestamp\": \"2026-01-01T00:00:00+00:00\""));
        assert!(preimage.contains("\"verified_performance\": -0.25"));
    }

    #[test]
    fn a_vote_counts_only_for_its_optimae_with_its_evaluators_seed_and_seal() {
        let id = Identity::from_scalar_bytes(&[3u8; 32]).expect("scalar");
        let other = Identity::from_scalar_bytes(&[4u8; 32]).expect("scalar");
        let subject = VoteSubject {
            optimae_id: "o",
            domain_id: "d",
            commitment_hash: "c",
            seed_block_hash: "b",
        };
        let mut v = vote(&id);
        v.synthetic_seed = crate::quorum::synthetic_seed("c", "d", id.peer_id(), "b");
        let v = v.sealed(&id);
        assert_eq!(v.check_for(id.peer_id(), &subject), Ok(()));
        // Someone else's seed, another block's, another optimae, another claimer.
        let mut w = v.clone();
        w.synthetic_seed = crate::quorum::synthetic_seed("c", "d", other.peer_id(), "b");
        assert!(matches!(
            w.sealed(&id).check_for(id.peer_id(), &subject),
            Err(ConsensusError::WrongVoteSeed { .. })
        ));
        let mut w = v.clone();
        w.synthetic_seed = crate::quorum::synthetic_seed("c", "d", id.peer_id(), "b2");
        assert!(matches!(
            w.sealed(&id).check_subject(&subject),
            Err(ConsensusError::WrongVoteSeed { .. })
        ));
        let other_optimae = VoteSubject {
            optimae_id: "o2",
            ..subject
        };
        assert_eq!(
            v.check_subject(&other_optimae),
            Err(ConsensusError::VoteForOtherOptimae(id.peer_id().into()))
        );
        assert!(matches!(
            v.check_for(other.peer_id(), &subject),
            Err(ConsensusError::VoteFromOtherEvaluator { .. })
        ));
        // Sealed by a key that is not the evaluator's.
        let forged = QuorumVote {
            seal: None,
            ..v.clone()
        }
        .sealed(&other);
        assert!(matches!(
            forged.check_for(id.peer_id(), &subject),
            Err(ConsensusError::BadVoteSeal { .. })
        ));
    }

    #[test]
    fn refuses_nan_and_negative_seed() {
        let id = Identity::from_scalar_bytes(&[3u8; 32]).expect("scalar");
        let mut v = vote(&id).to_value();
        if let Value::Object(m) = &mut v {
            m.insert("verified_performance".into(), Value::Float(f64::NAN));
        }
        assert!(QuorumVote::from_value(&v).is_err());
        let mut v = vote(&id).to_value();
        if let Value::Object(m) = &mut v {
            m.insert("synthetic_seed".into(), Value::Int(-1));
        }
        assert!(QuorumVote::from_value(&v).is_err());
    }
}
