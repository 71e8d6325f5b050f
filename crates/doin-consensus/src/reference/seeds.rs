//! Deterministic seeds: the reference's `derive_seed` and `DeterministicSeedPolicy`.
//!
//! A seed is the big-endian `u32` of the first four bytes of
//! `sha256(f"{commitment}:{domain_id}:{salt}")` (note the trailing `:` when the salt is
//! empty). The policy derives three seeds from an optimae's commitment: the optimizer's
//! (salt `""`), each evaluator's synthetic-data seed (salt `"{evaluator_id}:{chain_tip}"`)
//! and the evaluation-training seed (salt `str(round)`).
//!
//! Reference behaviour kept here: the optimizer seed is known to the optimizer at commit
//! time (it is a function of its own commitment), and the synthetic-data seed depends on
//! the chain tip, which a block producer can grind.

use doin_primitives::hash::sha256;

/// The reference's `derive_seed(commitment_hash, domain_id, salt)`.
pub fn derive_seed(commitment: &str, domain_id: &str, salt: &str) -> u32 {
    let preimage = format!("{commitment}:{domain_id}:{salt}");
    let d = sha256(preimage.as_bytes());
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// The reference's `verify_seed`: whether `claimed` is the seed derived from the inputs.
pub fn verify_seed(commitment: &str, domain_id: &str, claimed: i64, salt: &str) -> bool {
    i64::from(derive_seed(commitment, domain_id, salt)) == claimed
}

/// Why the seed policy refused a submission; `Display` is the reference's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedRejection {
    /// The submission declared no seed while the policy requires one.
    #[error("Seed not declared (deterministic seed required)")]
    NotDeclared,
    /// The declared seed is not the optimizer seed of the commitment.
    #[error("Declared seed {declared} does not match expected {expected} for commitment {commitment_prefix}...")]
    Mismatch {
        /// The seed the submission declared.
        declared: i64,
        /// The seed derived from the commitment.
        expected: u32,
        /// The first 16 characters of the commitment hash.
        commitment_prefix: String,
    },
}

/// The reference's `DeterministicSeedPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedPolicy {
    /// Whether submissions must declare the optimizer seed (the reference's default: yes).
    pub require_seed: bool,
}

impl Default for SeedPolicy {
    fn default() -> Self {
        SeedPolicy { require_seed: true }
    }
}

impl SeedPolicy {
    /// The seed an optimizer must use (`get_seed_for_optimae`): salt `""`.
    pub fn optimizer_seed(&self, commitment: &str, domain_id: &str) -> u32 {
        derive_seed(commitment, domain_id, "")
    }

    /// One evaluator's synthetic-data seed (`get_seed_for_synthetic_data`):
    /// salt `"{evaluator_id}:{chain_tip_hash}"`.
    pub fn synthetic_data_seed(
        &self,
        commitment: &str,
        domain_id: &str,
        evaluator_id: &str,
        chain_tip_hash: &str,
    ) -> u32 {
        derive_seed(
            commitment,
            domain_id,
            &format!("{evaluator_id}:{chain_tip_hash}"),
        )
    }

    /// The evaluation-training seed (`get_seed_for_evaluation`): salt `str(round)`.
    pub fn evaluation_seed(&self, commitment: &str, domain_id: &str, round: i64) -> u32 {
        derive_seed(commitment, domain_id, &round.to_string())
    }

    /// The reference's `validate_submission`: accepts anything when the policy is off,
    /// otherwise requires the declared seed to be the optimizer seed.
    pub fn validate_submission(
        &self,
        commitment: &str,
        domain_id: &str,
        declared: Option<i64>,
    ) -> Result<(), SeedRejection> {
        if !self.require_seed {
            return Ok(());
        }
        let Some(declared) = declared else {
            return Err(SeedRejection::NotDeclared);
        };
        let expected = self.optimizer_seed(commitment, domain_id);
        if declared != i64::from(expected) {
            return Err(SeedRejection::Mismatch {
                declared,
                expected,
                commitment_prefix: commitment.chars().take(16).collect(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_values() {
        assert_eq!(derive_seed("abc", "domain1", ""), 2670656259);
        let p = SeedPolicy::default();
        assert_eq!(p.optimizer_seed("h", "d"), 2399416359);
        assert_eq!(p.synthetic_data_seed("h", "d", "eval-1", "tip"), 896872616);
        assert_eq!(p.evaluation_seed("h", "d", 0), 1166197884);
        assert_eq!(p.evaluation_seed("h", "d", 1), 2370186990);
        assert!(verify_seed("h", "d", 2399416359, ""));
    }

    #[test]
    fn submission_messages() {
        let p = SeedPolicy::default();
        let c = "0123456789abcdef0123";
        assert_eq!(
            p.validate_submission(c, "d", None)
                .map_err(|e| e.to_string()),
            Err("Seed not declared (deterministic seed required)".to_owned())
        );
        let expected = p.optimizer_seed(c, "d");
        assert_eq!(p.validate_submission(c, "d", Some(expected.into())), Ok(()));
        assert_eq!(
            p.validate_submission(c, "d", Some(7)).map_err(|e| e.to_string()),
            Err(format!(
                "Declared seed 7 does not match expected {expected} for commitment 0123456789abcdef..."
            ))
        );
        let off = SeedPolicy {
            require_seed: false,
        };
        assert_eq!(off.validate_submission(c, "d", None), Ok(()));
    }
}
