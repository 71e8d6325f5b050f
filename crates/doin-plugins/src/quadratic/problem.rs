//! The quadratic problem a domain config describes, shared by its three plugins.

use std::collections::BTreeMap;

use doin_primitives::{Map, Value};

use crate::config::{
    optional_bounds, optional_count, optional_f64, optional_f64_array, optional_u64,
};
use crate::error::PluginError;
use crate::plugin::{DomainMetadata, ParamBound};
use crate::seeded::uniform_at;

/// The one parameter name: `{"x": [x_0, …, x_{n-1}]}`, as the reference's plugins use.
pub const PARAM: &str = "x";
/// The metric's name, as the reference's `get_domain_metadata` gives it.
pub const METRIC: &str = "neg_mse";
/// `n_params` when neither it nor `target` is configured (the reference's default).
pub const DEFAULT_N_PARAMS: usize = 10;
/// The largest `n_params` accepted.
pub const MAX_N_PARAMS: usize = 10_000;
/// Bounds on every `x_i` when `param_bounds` is not configured (the node's default).
pub const DEFAULT_BOUND: ParamBound = ParamBound {
    low: -20.0,
    high: 20.0,
};
/// `weight_noise` when not configured: evaluators' weights lie in `[0.99, 1.01]`.
pub const DEFAULT_WEIGHT_NOISE: f64 = 0.01;
/// `weight_noise` must stay below this, so that every weight is positive.
pub const MAX_WEIGHT_NOISE: f64 = 0.5;
/// The target seed when neither `target_seed` nor `seed` is configured, so that nodes
/// running configs without either still share one problem.
pub const DEFAULT_TARGET_SEED: u64 = 0;

/// A quadratic domain: `n_params` coordinates, a shared target, bounds and the evaluators'
/// weight noise.
#[derive(Debug, Clone, PartialEq)]
pub struct QuadraticProblem {
    /// The target vector `t`; its length is `n_params`.
    pub target: Vec<f64>,
    /// Bounds on every `x_i`.
    pub bound: ParamBound,
    /// Evaluator weights are `1 + weight_noise * (2u - 1)`, `u` uniform in `[0, 1)`.
    pub weight_noise: f64,
}

impl QuadraticProblem {
    /// Reads the problem from a domain config.
    ///
    /// Keys: `n_params` (default 10, or the length of `target`), `target` (explicit target
    /// vector), `target_seed` then `seed` (derive the target when `target` is absent),
    /// `param_bounds` (`{"x": [low, high]}`, default `[-20, 20]`) and `weight_noise`
    /// (default 0.01). Other keys are ignored.
    pub fn from_config(config: &Map) -> Result<Self, PluginError> {
        let bound = match optional_bounds(config, "param_bounds")? {
            None => DEFAULT_BOUND,
            Some(bounds) => bound_of_x(bounds)?,
        };
        let n_params = optional_count(config, "n_params", 1..=MAX_N_PARAMS)?;
        let target = match optional_f64_array(config, "target")? {
            Some(target) => explicit_target(target, n_params, bound)?,
            None => {
                let seed = match optional_u64(config, "target_seed")? {
                    Some(s) => s,
                    None => optional_u64(config, "seed")?.unwrap_or(DEFAULT_TARGET_SEED),
                };
                derive_target(seed, n_params.unwrap_or(DEFAULT_N_PARAMS), bound)
            }
        };
        // The worst score, every coordinate a full bound width off with the largest weight,
        // must be finite, so that no parameters inside the bounds score -inf.
        let worst =
            (1.0 + MAX_WEIGHT_NOISE) * target.len() as f64 * (bound.high - bound.low).powi(2);
        if !worst.is_finite() {
            return Err(PluginError::config(
                "param_bounds.x",
                format!(
                    "[{}, {}] is too wide: squared distances across it overflow",
                    bound.low, bound.high
                ),
            ));
        }
        let weight_noise = optional_f64(config, "weight_noise")?.unwrap_or(DEFAULT_WEIGHT_NOISE);
        if !(0.0..MAX_WEIGHT_NOISE).contains(&weight_noise) {
            return Err(PluginError::config(
                "weight_noise",
                format!("expected 0 <= weight_noise < {MAX_WEIGHT_NOISE}, got {weight_noise}"),
            ));
        }
        Ok(QuadraticProblem {
            target,
            bound,
            weight_noise,
        })
    }

    /// The number of coordinates.
    pub fn n_params(&self) -> usize {
        self.target.len()
    }

    /// The domain's metadata: `neg_mse`, higher is better, `x` bounded.
    pub fn metadata(&self) -> DomainMetadata {
        DomainMetadata {
            performance_metric: METRIC.to_owned(),
            higher_is_better: true,
            param_bounds: BTreeMap::from([(PARAM.to_owned(), self.bound)]),
        }
    }

    /// `-Σ w_i (x_i - t_i)^2`; the optimizer's own measurement uses `w_i = 1`.
    pub fn performance(&self, x: &[f64], weights: Option<&[f64]>) -> f64 {
        let sum: f64 = match weights {
            None => x
                .iter()
                .zip(&self.target)
                .map(|(xi, ti)| (xi - ti).powi(2))
                .sum(),
            Some(w) => x
                .iter()
                .zip(&self.target)
                .zip(w)
                .map(|((xi, ti), wi)| wi * (xi - ti).powi(2))
                .sum(),
        };
        -sum
    }

    /// The vector `x` of `parameters`, which must hold `n_params` finite numbers under `"x"`
    /// inside the bounds. Other keys are ignored, as the reference ignores them.
    pub fn read_x(&self, parameters: &Map) -> Result<Vec<f64>, PluginError> {
        let items = parameters
            .get(PARAM)
            .and_then(Value::as_array)
            .ok_or_else(|| {
                PluginError::InvalidParameters(format!(
                    "expected {{\"{PARAM}\": [{} numbers]}}",
                    self.n_params()
                ))
            })?;
        if items.len() != self.n_params() {
            return Err(PluginError::InvalidParameters(format!(
                "`{PARAM}` has {} values, the domain has n_params = {}",
                items.len(),
                self.n_params()
            )));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, v)| match v.as_f64() {
                Some(f) if f.is_finite() && self.bound.contains(f) => Ok(f),
                _ => Err(PluginError::InvalidParameters(format!(
                    "`{PARAM}[{i}]` must be a finite number in [{}, {}]",
                    self.bound.low, self.bound.high
                ))),
            })
            .collect()
    }

    /// `{"x": [...]}` for the vector `x`.
    pub fn parameters(x: &[f64]) -> Map {
        let mut m = Map::new();
        m.insert(
            PARAM.to_owned(),
            Value::Array(x.iter().map(|v| Value::Float(*v)).collect()),
        );
        m
    }
}

/// The target derived from `seed`: `t_i = low + (high - low) * (1/4 + u_i / 2)`, with
/// `u_i = uniform_at("doin/simple_quadratic/target/{seed}", i)` (see
/// [`crate::seeded::uniform_at`]). The target lies in the middle half of the bounds:
/// `[-10, 10)` for the default `[-20, 20]`.
pub fn derive_target(seed: u64, n_params: usize, bound: ParamBound) -> Vec<f64> {
    let label = format!("doin/simple_quadratic/target/{seed}");
    (0..n_params as u64)
        .map(|i| bound.low + (bound.high - bound.low) * (0.25 + 0.5 * uniform_at(&label, i)))
        .collect()
}

fn explicit_target(
    target: Vec<f64>,
    n_params: Option<usize>,
    bound: ParamBound,
) -> Result<Vec<f64>, PluginError> {
    if target.is_empty() || target.len() > MAX_N_PARAMS {
        return Err(PluginError::config(
            "target",
            format!("expected 1 to {MAX_N_PARAMS} numbers, got {}", target.len()),
        ));
    }
    if let Some(n) = n_params.filter(|n| *n != target.len()) {
        return Err(PluginError::config(
            "target",
            format!("has {} values but n_params is {n}", target.len()),
        ));
    }
    if let Some((i, t)) = target
        .iter()
        .enumerate()
        .find(|(_, t)| !bound.contains(**t))
    {
        return Err(PluginError::config(
            format!("target[{i}]"),
            format!(
                "{t} is outside param_bounds.x [{}, {}], so no valid parameters reach it",
                bound.low, bound.high
            ),
        ));
    }
    Ok(target)
}

fn bound_of_x(bounds: BTreeMap<String, ParamBound>) -> Result<ParamBound, PluginError> {
    if let Some(other) = bounds.keys().find(|k| *k != PARAM) {
        return Err(PluginError::config(
            format!("param_bounds.{other}"),
            format!("the quadratic domain has only the parameter `{PARAM}`"),
        ));
    }
    Ok(bounds.get(PARAM).copied().unwrap_or(DEFAULT_BOUND))
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::map;

    fn floats(v: &[f64]) -> Value {
        Value::Array(v.iter().map(|f| Value::Float(*f)).collect())
    }

    #[test]
    fn defaults_give_ten_params_in_the_middle_half_of_the_bounds() {
        let p = QuadraticProblem::from_config(&Map::new()).unwrap();
        assert_eq!(p.n_params(), 10);
        assert_eq!(p.bound, DEFAULT_BOUND);
        assert_eq!(
            p.target,
            derive_target(DEFAULT_TARGET_SEED, 10, DEFAULT_BOUND)
        );
        assert!(p.target.iter().all(|t| (-10.0..10.0).contains(t)));
    }

    #[test]
    fn target_seed_wins_over_seed_and_explicit_target_wins_over_both() {
        let by_seed = QuadraticProblem::from_config(&map! { "seed" => 42i64 }).unwrap();
        let by_target_seed =
            QuadraticProblem::from_config(&map! { "seed" => 1i64, "target_seed" => 42i64 })
                .unwrap();
        assert_eq!(by_seed.target, by_target_seed.target);
        assert_eq!(by_seed.target, derive_target(42, 10, DEFAULT_BOUND));
        let other = QuadraticProblem::from_config(&map! { "seed" => 43i64 }).unwrap();
        assert_ne!(by_seed.target, other.target);

        let explicit = QuadraticProblem::from_config(&map! {
            "seed" => 42i64,
            "target_seed" => 7i64,
            "target" => vec![Value::Int(1), Value::Float(2.5)],
        })
        .unwrap();
        assert_eq!(explicit.target, vec![1.0, 2.5]);
    }

    #[test]
    fn derived_target_pins_the_rule() {
        // Computed independently with Python's hashlib from the documented rule.
        assert_eq!(
            derive_target(42, 3, DEFAULT_BOUND),
            vec![-5.698304343475707, -9.266730231312419, 1.5724716602878175]
        );
    }

    #[test]
    fn derived_target_scales_with_the_bounds() {
        let b = ParamBound {
            low: 0.0,
            high: 4.0,
        };
        let t = derive_target(5, 50, b);
        assert!(t.iter().all(|v| (1.0..3.0).contains(v)));
        let unit = derive_target(5, 50, DEFAULT_BOUND);
        for (a, u) in t.iter().zip(&unit) {
            // Same draws, mapped onto a range a tenth as wide and shifted.
            assert!(((a - 2.0) * 10.0 - u).abs() < 1e-9);
        }
    }

    #[test]
    fn config_errors_name_the_key() {
        let cases: Vec<(Map, &str)> = vec![
            (map! { "n_params" => 0i64 }, "n_params"),
            (map! { "n_params" => -3i64 }, "n_params"),
            (map! { "n_params" => 10.5 }, "n_params"),
            (map! { "n_params" => "10" }, "n_params"),
            (map! { "n_params" => 1_000_000i64 }, "n_params"),
            (map! { "seed" => "abc" }, "seed"),
            (map! { "target_seed" => -1i64 }, "target_seed"),
            (map! { "target" => "1,2" }, "target"),
            (map! { "target" => floats(&[]) }, "target"),
            (
                map! { "target" => floats(&[1.0, 2.0]), "n_params" => 3i64 },
                "target",
            ),
            (map! { "target" => floats(&[1.0, 25.0]) }, "target[1]"),
            (map! { "weight_noise" => 0.7 }, "weight_noise"),
            (map! { "weight_noise" => -0.1 }, "weight_noise"),
            (
                map! { "param_bounds" => map! { "y" => floats(&[0.0, 1.0]) } },
                "param_bounds.y",
            ),
            (
                map! { "param_bounds" => floats(&[0.0, 1.0]) },
                "param_bounds",
            ),
        ];
        for (cfg, key) in cases {
            match QuadraticProblem::from_config(&cfg) {
                Err(PluginError::Config { key: k, .. }) => assert_eq!(k, key, "{cfg:?}"),
                other => panic!("{cfg:?}: expected a config error on {key}, got {other:?}"),
            }
        }
    }

    #[test]
    fn parameters_round_trip_and_bad_shapes_are_refused() {
        let p = QuadraticProblem::from_config(&map! { "n_params" => 3i64 }).unwrap();
        let x = vec![1.0, -2.0, 3.5];
        assert_eq!(p.read_x(&QuadraticProblem::parameters(&x)).unwrap(), x);
        let ints = map! { "x" => vec![Value::Int(1), Value::Int(2), Value::Int(3)] };
        assert_eq!(p.read_x(&ints).unwrap(), vec![1.0, 2.0, 3.0]);
        for bad in [
            Map::new(),
            map! { "x" => 1.0 },
            map! { "x" => floats(&[1.0, 2.0]) },
            map! { "x" => floats(&[1.0, 2.0, 21.0]) },
            map! { "x" => floats(&[1.0, 2.0, f64::NAN]) },
            map! { "x" => vec![Value::Int(1), Value::Int(2), Value::from("3")] },
        ] {
            assert!(
                matches!(p.read_x(&bad), Err(PluginError::InvalidParameters(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn performance_is_negative_weighted_squared_distance() {
        let p = QuadraticProblem::from_config(&map! { "target" => floats(&[1.0, 2.0]) }).unwrap();
        assert_eq!(p.performance(&[1.0, 2.0], None), 0.0);
        assert_eq!(p.performance(&[0.0, 0.0], None), -5.0);
        assert_eq!(p.performance(&[0.0, 0.0], Some(&[2.0, 0.5])), -4.0);
    }
}
