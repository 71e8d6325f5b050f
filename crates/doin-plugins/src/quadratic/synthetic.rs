//! The quadratic domain's synthetic data: seeded per-coordinate weights.

use doin_primitives::{Map, Value};

use super::problem::QuadraticProblem;
use crate::error::PluginError;
use crate::plugin::{SyntheticData, SyntheticDataGenerator};
use crate::seeded::uniform_at;

/// Names this generator's rule inside the data, so that a future rule cannot be mistaken
/// for this one.
pub const GENERATOR: &str = "simple_quadratic/weights-v1";

/// The weights for `seed`: `w_i = 1 + weight_noise * (2 u_i - 1)` with
/// `u_i = uniform_at("doin/simple_quadratic/weights/{seed}", i)` (see
/// [`crate::seeded::uniform_at`]).
pub fn derive_weights(seed: u64, n_params: usize, weight_noise: f64) -> Vec<f64> {
    let label = format!("doin/simple_quadratic/weights/{seed}");
    (0..n_params as u64)
        .map(|i| 1.0 + weight_noise * (2.0 * uniform_at(&label, i) - 1.0))
        .collect()
}

/// Generates `{"generator", "seed", "synthetic": true, "target", "weight_noise", "weights"}`
/// for the configured problem.
#[derive(Debug, Clone)]
pub struct QuadraticSyntheticData {
    problem: QuadraticProblem,
}

impl QuadraticSyntheticData {
    /// Reads the problem from the domain's `synthetic_data_config`.
    pub fn new(config: &Map) -> Result<Self, PluginError> {
        Ok(QuadraticSyntheticData {
            problem: QuadraticProblem::from_config(config)?,
        })
    }
}

impl SyntheticDataGenerator for QuadraticSyntheticData {
    fn generate(&mut self, seed: u64) -> Result<SyntheticData, PluginError> {
        let p = &self.problem;
        let floats = |v: &[f64]| Value::Array(v.iter().map(|f| Value::Float(*f)).collect());
        let mut data = Map::new();
        data.insert("generator".into(), GENERATOR.into());
        data.insert("seed".into(), seed.into());
        data.insert("synthetic".into(), true.into());
        data.insert("target".into(), floats(&p.target));
        data.insert("weight_noise".into(), p.weight_noise.into());
        data.insert(
            "weights".into(),
            floats(&derive_weights(seed, p.n_params(), p.weight_noise)),
        );
        SyntheticData::new(Value::Object(data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::map;

    #[test]
    fn same_seed_same_data_and_hash_different_seed_different_hash() {
        let mut g = QuadraticSyntheticData::new(&map! { "seed" => 42i64 }).unwrap();
        let a = g.generate(7).unwrap();
        let b = g.generate(7).unwrap();
        let c = g.generate(8).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.data_hash, c.data_hash);
        assert!(a.verify().is_ok());
        assert_eq!(a.data_hash.len(), 64);
    }

    #[test]
    fn weights_pin_the_rule() {
        // Computed independently with Python's hashlib from the documented rule.
        assert_eq!(
            derive_weights(7, 3, 0.01),
            vec![1.004919747736784, 0.991799328744576, 1.0046454502637385]
        );
    }

    #[test]
    fn weights_stay_within_the_noise() {
        for seed in 0..50 {
            let w = derive_weights(seed, 20, 0.01);
            assert!(w.iter().all(|w| (0.99..=1.01).contains(w)), "{w:?}");
        }
        assert!(derive_weights(3, 5, 0.0).iter().all(|w| *w == 1.0));
    }

    #[test]
    fn data_carries_the_target_of_the_domain() {
        let cfg = map! { "target" => vec![Value::Float(1.5), Value::Float(-2.0)] };
        let data = QuadraticSyntheticData::new(&cfg)
            .unwrap()
            .generate(1)
            .unwrap();
        let obj = data.data.as_object().unwrap();
        assert_eq!(
            obj["target"],
            Value::Array(vec![Value::Float(1.5), Value::Float(-2.0)])
        );
        assert_eq!(obj["weights"].as_array().unwrap().len(), 2);
        assert_eq!(obj["synthetic"], Value::Bool(true));
    }
}
