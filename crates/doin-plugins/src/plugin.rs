//! The plugin contract: the data that crosses it and the three traits every domain
//! implements.
//!
//! Everything that crosses the contract is plain, owned data (JSON objects, `f64`, strings),
//! so that the same traits can later be served by a plugin in another process speaking JSON
//! over stdin/stdout.

use std::collections::BTreeMap;

use doin_primitives::hash::content_id;
use doin_primitives::{Map, Value};

use crate::error::PluginError;

/// A set of parameters and the performance its producer measured for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The parameters, as the domain's JSON object (`{"x": [...]}` for the quadratic).
    pub parameters: Map,
    /// The performance the optimizer itself measured (its report, not a verified value).
    pub performance: f64,
}

/// Seeded evaluation data and its content hash.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticData {
    /// The data, as JSON.
    pub data: Value,
    /// Lowercase hex SHA-256 of the canonical JSON of `data`.
    pub data_hash: String,
}

impl SyntheticData {
    /// Wraps `data` with its hash; refuses non-finite numbers, which canonical JSON cannot
    /// carry between nodes.
    pub fn new(data: Value) -> Result<Self, PluginError> {
        if let Some(f) = data.find_non_finite() {
            return Err(PluginError::InvalidData(format!(
                "contains the non-finite number {f}"
            )));
        }
        let data_hash = content_id(&data);
        Ok(SyntheticData { data, data_hash })
    }

    /// Checks that `data_hash` is the hash of `data` and that `data` is finite.
    pub fn verify(&self) -> Result<(), PluginError> {
        let fresh = SyntheticData::new(self.data.clone())?;
        if fresh.data_hash != self.data_hash {
            return Err(PluginError::InvalidData(format!(
                "data_hash {} is not the hash of the data ({})",
                self.data_hash, fresh.data_hash
            )));
        }
        Ok(())
    }
}

/// An inclusive range `[low, high]` for a parameter; applies to every number inside it
/// (each element of an array parameter).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamBound {
    /// Lowest allowed value.
    pub low: f64,
    /// Highest allowed value.
    pub high: f64,
}

impl ParamBound {
    /// Whether `v` lies inside the range.
    pub fn contains(&self, v: f64) -> bool {
        self.low <= v && v <= self.high
    }

    /// `v` moved to the nearest value inside the range.
    pub fn clamp(&self, v: f64) -> f64 {
        v.clamp(self.low, self.high)
    }
}

/// What a domain declares about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainMetadata {
    /// The metric's name (`neg_mse` for the quadratic, as the reference names it).
    pub performance_metric: String,
    /// The metric's direction.
    pub higher_is_better: bool,
    /// Bounds on parameters, by parameter name.
    pub param_bounds: BTreeMap<String, ParamBound>,
}

impl DomainMetadata {
    /// Whether performance `a` is strictly better than `b` in this domain's direction.
    pub fn is_better(&self, a: f64, b: f64) -> bool {
        if self.higher_is_better {
            a > b
        } else {
            a < b
        }
    }
}

/// Proposes parameters, one step per call.
///
/// Built from the domain's `optimization_config` and a node-specific `rng_seed` (see
/// [`crate::PluginRegistry::optimizer`]).
pub trait Optimizer: Send {
    /// The domain's metric, direction and bounds.
    fn metadata(&self) -> DomainMetadata;

    /// Runs one optimization step and returns the best candidate the optimizer knows, with
    /// its own measurement of it.
    ///
    /// `current_best` is the best known elsewhere (the chain's or a peer's champion): the
    /// optimizer re-measures it and continues from it when it beats its own best. The
    /// performance in it is never trusted.
    fn step(&mut self, current_best: Option<&Candidate>) -> Result<Candidate, PluginError>;
}

/// Scores parameters on synthetic data (the reference's "inference" plugin).
pub trait Evaluator: Send {
    /// The domain's metric, direction and bounds.
    fn metadata(&self) -> DomainMetadata;

    /// The performance of `parameters` on `data`.
    fn evaluate(&mut self, parameters: &Map, data: &SyntheticData) -> Result<f64, PluginError>;

    /// Inference: the model that `parameters` (the domain's best optimae) describe, applied
    /// to a client's `input` (`Value::Null` when the client sent none); see
    /// [`crate::inference`] for what the built-in domains answer. A plugin that serves no
    /// inference keeps this default, which says so.
    fn infer(&mut self, parameters: &Map, input: &Value) -> Result<Value, PluginError> {
        let _ = (parameters, input);
        Err(PluginError::NoInference(
            "this plugin implements evaluation only".into(),
        ))
    }

    /// A cheap check of an inference input's shape, made before a request is queued so
    /// that the client hears of a bad input at once; [`Self::infer`] checks it again. The
    /// default accepts every input.
    fn check_input(&self, input: &Value) -> Result<(), PluginError> {
        let _ = input;
        Ok(())
    }
}

/// Generates evaluation data, deterministically for a seed.
pub trait SyntheticDataGenerator: Send {
    /// The data for `seed`: the same seed always gives the same data and hash.
    fn generate(&mut self, seed: u64) -> Result<SyntheticData, PluginError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_decides_better() {
        let mut m = DomainMetadata {
            performance_metric: "m".into(),
            higher_is_better: true,
            param_bounds: BTreeMap::new(),
        };
        assert!(m.is_better(-1.0, -2.0));
        assert!(!m.is_better(-2.0, -2.0));
        m.higher_is_better = false;
        assert!(m.is_better(-2.0, -1.0));
    }

    #[test]
    fn synthetic_data_hash_is_the_content_id_and_non_finite_data_is_refused() {
        let data = SyntheticData::new(Value::Array(vec![Value::Float(0.5)])).unwrap();
        // sha256 of the canonical text "[0.5]".
        assert_eq!(data.data_hash, doin_primitives::hash::sha256_hex("[0.5]"));
        assert!(data.verify().is_ok());
        assert!(matches!(
            SyntheticData::new(Value::Float(f64::NAN)),
            Err(PluginError::InvalidData(_))
        ));
    }

    #[test]
    fn bounds_clamp_and_contain() {
        let b = ParamBound {
            low: -1.0,
            high: 2.0,
        };
        assert!(b.contains(-1.0) && b.contains(2.0) && !b.contains(2.5));
        assert_eq!(b.clamp(5.0), 2.0);
        assert_eq!(b.clamp(-5.0), -1.0);
    }
}
