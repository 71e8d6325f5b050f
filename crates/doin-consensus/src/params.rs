//! Chain parameters: the constants every node of one network must share.
//!
//! A network is defined by its [`ChainParams`]; nodes compare [`ChainParams::params_hash`]
//! with their peers and refuse to sync with a different one, since every consensus rule
//! below reads these numbers.

use std::collections::BTreeMap;

use doin_primitives::hash::content_id;
use doin_primitives::map;
use doin_primitives::value::{Map, Value};

use crate::reference::incentives::IncentiveConfig;

/// Base units per DOIN (amounts are integers of base units).
pub const UNITS_PER_DOIN: u64 = 100_000_000;
/// Micro-points per reputation point (reputation is an integer of micro-points).
pub const MICROS_PER_POINT: u64 = 1_000_000;

/// Per-domain consensus parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainParams {
    /// The domain's id.
    pub domain_id: String,
    /// Multiplier of the domain's increments (default 1.0).
    pub weight: f64,
    /// Whether a higher performance is better (accuracy) or a lower one (loss).
    pub higher_is_better: bool,
    /// Inclusive `(min, max)` bounds per parameter key; a bound applies to a number or to
    /// every number of a list under that key.
    pub param_bounds: BTreeMap<String, (f64, f64)>,
    /// The reference's verification incentive (its `higher_is_better` is ignored in favour
    /// of [`Self::higher_is_better`]; see [`Self::incentive_config`]).
    pub incentives: IncentiveConfig,
}

impl DomainParams {
    /// A domain with weight 1.0, no bounds and the reference's default incentives.
    pub fn new(domain_id: impl Into<String>, higher_is_better: bool) -> Self {
        DomainParams {
            domain_id: domain_id.into(),
            weight: 1.0,
            higher_is_better,
            param_bounds: BTreeMap::new(),
            incentives: IncentiveConfig::default(),
        }
    }

    /// Adds a bound on a parameter key.
    pub fn with_bound(mut self, key: impl Into<String>, min: f64, max: f64) -> Self {
        self.param_bounds.insert(key.into(), (min, max));
        self
    }

    /// The incentive configuration with this domain's direction.
    pub fn incentive_config(&self) -> IncentiveConfig {
        IncentiveConfig {
            higher_is_better: self.higher_is_better,
            ..self.incentives
        }
    }

    fn to_value(&self) -> Value {
        let bounds: Map = self
            .param_bounds
            .iter()
            .map(|(k, (lo, hi))| (k.clone(), Value::Array(vec![(*lo).into(), (*hi).into()])))
            .collect();
        let cfg = &self.incentives;
        Value::Object(map! {
            "domain_id" => self.domain_id.clone(),
            "weight" => self.weight,
            "higher_is_better" => self.higher_is_better,
            "param_bounds" => bounds,
            "tolerance_margin" => cfg.tolerance_margin,
            "bonus_threshold" => cfg.bonus_threshold,
            "min_reward_fraction" => cfg.min_reward_fraction,
            "max_bonus_multiplier" => cfg.max_bonus_multiplier,
        })
    }
}

/// The consensus constants of one network.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainParams {
    /// The block time the difficulty rule aims at, in seconds.
    pub target_block_time_secs: f64,
    /// The threshold block 1 must reach.
    pub initial_threshold: f64,
    /// Blocks per difficulty epoch (default 10).
    pub difficulty_epoch_length: u64,
    /// Evaluators per quorum; 0 makes a solo (development) chain where an optimizer
    /// verifies its own optimae on independently seeded data.
    pub quorum_min_evaluators: u32,
    /// Relative tolerance around the quorum median (default 0.05).
    pub quorum_tolerance: f64,
    /// Confirmations after which a checkpoint is final (default 6).
    pub finality_depth: u64,
    /// Reward of the first blocks, in base units (default 50 DOIN).
    pub initial_block_reward: u64,
    /// Blocks between halvings of the reward (default 210,000; 0 = never).
    pub halving_interval: u64,
    /// Reputation half-life in seconds of chain time (default 7 days).
    pub reputation_half_life_secs: u64,
    /// Reputation an evaluator needs to be eligible for quorums, in micro-points (2.0 points).
    pub min_reputation_micro: u64,
    /// How many blocks before the including block an optimizer's `commit_height` may be
    /// (default 20).
    pub max_commit_age_blocks: u64,
    /// The domains this chain accepts optimae for.
    pub domains: Vec<DomainParams>,
}

impl ChainParams {
    /// A solo (development) chain with one higher-is-better domain `"quadratic"`, a 10 s
    /// block time and an initial threshold of 0.5.
    pub fn solo_default() -> Self {
        ChainParams {
            target_block_time_secs: 10.0,
            initial_threshold: 0.5,
            difficulty_epoch_length: 10,
            quorum_min_evaluators: 0,
            quorum_tolerance: 0.05,
            finality_depth: 6,
            initial_block_reward: 50 * UNITS_PER_DOIN,
            halving_interval: 210_000,
            reputation_half_life_secs: 604_800,
            min_reputation_micro: 2 * MICROS_PER_POINT,
            max_commit_age_blocks: 20,
            domains: vec![DomainParams::new("quadratic", true)],
        }
    }

    /// The domain's parameters, if the chain has it.
    pub fn domain(&self, domain_id: &str) -> Option<&DomainParams> {
        self.domains.iter().find(|d| d.domain_id == domain_id)
    }

    /// The canonical object the parameters hash is computed over.
    pub fn to_value(&self) -> Value {
        Value::Object(map! {
            "target_block_time_secs" => self.target_block_time_secs,
            "initial_threshold" => self.initial_threshold,
            "difficulty_epoch_length" => self.difficulty_epoch_length,
            "quorum_min_evaluators" => u64::from(self.quorum_min_evaluators),
            "quorum_tolerance" => self.quorum_tolerance,
            "finality_depth" => self.finality_depth,
            "initial_block_reward" => self.initial_block_reward,
            "halving_interval" => self.halving_interval,
            "reputation_half_life_secs" => self.reputation_half_life_secs,
            "min_reputation_micro" => self.min_reputation_micro,
            "max_commit_age_blocks" => self.max_commit_age_blocks,
            "domains" => self.domains.iter().map(DomainParams::to_value).collect::<Vec<_>>(),
        })
    }

    /// `content_id` of [`Self::to_value`]: peers on one network have the same hash.
    pub fn params_hash(&self) -> String {
        content_id(&self.to_value())
    }

    /// Checks that the parameters make a usable chain: finite positive floats, bounds with
    /// `min <= max`, unique domain ids.
    pub fn check(&self) -> Result<(), String> {
        let positive = [
            ("target_block_time_secs", self.target_block_time_secs),
            ("initial_threshold", self.initial_threshold),
        ];
        for (name, x) in positive {
            if !(x.is_finite() && x > 0.0) {
                return Err(format!("{name} must be a finite number > 0, got {x}"));
            }
        }
        if !(self.quorum_tolerance.is_finite() && self.quorum_tolerance >= 0.0) {
            return Err("quorum_tolerance must be a finite number >= 0".into());
        }
        if self.difficulty_epoch_length == 0 {
            return Err("difficulty_epoch_length must be >= 1".into());
        }
        if self.reputation_half_life_secs == 0 {
            return Err("reputation_half_life_secs must be >= 1".into());
        }
        for (i, d) in self.domains.iter().enumerate() {
            if self.domains[..i].iter().any(|e| e.domain_id == d.domain_id) {
                return Err(format!("domain {} is listed twice", d.domain_id));
            }
            if !(d.weight.is_finite() && d.weight > 0.0) {
                return Err(format!("domain {}: weight must be > 0", d.domain_id));
            }
            for (k, (lo, hi)) in &d.param_bounds {
                if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                    return Err(format!(
                        "domain {}: bound {k} must be finite, min <= max",
                        d.domain_id
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solo_default_is_valid_and_solo() {
        let p = ChainParams::solo_default();
        assert_eq!(p.check(), Ok(()));
        assert_eq!(p.quorum_min_evaluators, 0);
        assert_eq!(p.initial_block_reward, 5_000_000_000);
        assert_eq!(p.min_reputation_micro, 2_000_000);
    }

    #[test]
    fn params_hash_changes_with_any_field() {
        let p = ChainParams::solo_default();
        let h = p.params_hash();
        assert_eq!(h.len(), 64);
        assert_eq!(h, ChainParams::solo_default().params_hash());
        let mut q = p.clone();
        q.quorum_tolerance = 0.06;
        assert_ne!(q.params_hash(), h);
        let mut q = p.clone();
        q.domains[0] = q.domains[0].clone().with_bound("x", -1.0, 1.0);
        assert_ne!(q.params_hash(), h);
    }

    #[test]
    fn check_refuses_bad_values() {
        let mut p = ChainParams::solo_default();
        p.initial_threshold = f64::NAN;
        assert!(p.check().is_err());
        let mut p = ChainParams::solo_default();
        p.domains.push(p.domains[0].clone());
        assert!(p.check().is_err());
        let mut p = ChainParams::solo_default();
        p.domains[0] = p.domains[0].clone().with_bound("x", 1.0, 0.0);
        assert!(p.check().is_err());
    }
}
