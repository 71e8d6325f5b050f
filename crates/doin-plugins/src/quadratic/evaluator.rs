//! The quadratic domain's evaluator: the weighted score on an evaluator's synthetic data.

use doin_primitives::{Map, Value};

use super::problem::QuadraticProblem;
use crate::error::PluginError;
use crate::plugin::{DomainMetadata, Evaluator, SyntheticData};

/// Scores `{"x": [...]}` as `-Σ w_i (x_i - t_i)^2` with the weights of the synthetic data.
#[derive(Debug, Clone)]
pub struct QuadraticEvaluator {
    problem: QuadraticProblem,
}

impl QuadraticEvaluator {
    /// Reads the problem from the domain's `inference_config`.
    pub fn new(config: &Map) -> Result<Self, PluginError> {
        Ok(QuadraticEvaluator {
            problem: QuadraticProblem::from_config(config)?,
        })
    }

    /// The weights inside `data`, after checking that the data was made for this problem.
    fn weights(&self, data: &SyntheticData) -> Result<Vec<f64>, PluginError> {
        let obj = data
            .data
            .as_object()
            .ok_or_else(|| PluginError::InvalidData("expected a JSON object".into()))?;
        let target = numbers(obj.get("target"), "target")?;
        if target != self.problem.target {
            return Err(PluginError::InvalidData(
                "generated for a different target: the synthetic-data and inference configs \
                 must describe the same domain (target, target_seed or seed, n_params, \
                 param_bounds)"
                    .into(),
            ));
        }
        let weights = numbers(obj.get("weights"), "weights")?;
        if weights.len() != self.problem.n_params() || weights.iter().any(|w| *w <= 0.0) {
            return Err(PluginError::InvalidData(format!(
                "expected {} positive weights",
                self.problem.n_params()
            )));
        }
        Ok(weights)
    }
}

fn numbers(v: Option<&Value>, key: &str) -> Result<Vec<f64>, PluginError> {
    v.and_then(Value::as_array)
        .and_then(|a| a.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>())
        .ok_or_else(|| PluginError::InvalidData(format!("`{key}` must be an array of numbers")))
}

impl Evaluator for QuadraticEvaluator {
    fn metadata(&self) -> DomainMetadata {
        self.problem.metadata()
    }

    fn evaluate(&mut self, parameters: &Map, data: &SyntheticData) -> Result<f64, PluginError> {
        let x = self.problem.read_x(parameters)?;
        let weights = self.weights(data)?;
        Ok(self.problem.performance(&x, Some(&weights)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quadratic::QuadraticSyntheticData;
    use crate::SyntheticDataGenerator;
    use doin_primitives::map;

    fn cfg() -> Map {
        map! { "target" => vec![Value::Float(1.0), Value::Float(2.0), Value::Float(3.0)] }
    }

    #[test]
    fn exact_target_scores_zero_and_others_score_below() {
        let data = QuadraticSyntheticData::new(&cfg())
            .unwrap()
            .generate(9)
            .unwrap();
        let mut ev = QuadraticEvaluator::new(&cfg()).unwrap();
        let at = QuadraticProblem::parameters(&[1.0, 2.0, 3.0]);
        assert_eq!(ev.evaluate(&at, &data), Ok(0.0));
        let off = QuadraticProblem::parameters(&[0.0, 2.0, 3.0]);
        let perf = ev.evaluate(&off, &data).unwrap();
        assert!((-1.01..=-0.99).contains(&perf), "{perf}");
    }

    #[test]
    fn data_for_another_problem_is_refused() {
        let other =
            map! { "target" => vec![Value::Float(1.0), Value::Float(2.0), Value::Float(4.0)] };
        let data = QuadraticSyntheticData::new(&other)
            .unwrap()
            .generate(9)
            .unwrap();
        let mut ev = QuadraticEvaluator::new(&cfg()).unwrap();
        let x = QuadraticProblem::parameters(&[1.0, 2.0, 3.0]);
        assert!(matches!(
            ev.evaluate(&x, &data),
            Err(PluginError::InvalidData(_))
        ));
        let junk = SyntheticData::new(Value::from("junk")).unwrap();
        assert!(matches!(
            ev.evaluate(&x, &junk),
            Err(PluginError::InvalidData(_))
        ));
    }
}
