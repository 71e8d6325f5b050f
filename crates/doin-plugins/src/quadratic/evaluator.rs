//! The quadratic domain's evaluator: the weighted score on an evaluator's synthetic data.

use doin_primitives::{Map, Value};

use super::problem::{QuadraticProblem, PARAM};
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

    /// The best point and the objective there; with input `{"x": [...]}` also the
    /// objective at the client's point (see [`crate::inference`]).
    fn infer(&mut self, parameters: &Map, input: &Value) -> Result<Value, PluginError> {
        let best = self.problem.read_x(parameters)?;
        let best_value = self.problem.performance(&best, None);
        let x = self.client_point(input)?.unwrap_or_else(|| best.clone());
        let value = self.problem.performance(&x, None);
        let floats = |v: &[f64]| Value::Array(v.iter().map(|f| Value::Float(*f)).collect());
        let mut out = Map::new();
        out.insert(PARAM.into(), floats(&x));
        out.insert("value".into(), Value::Float(value));
        out.insert("best_x".into(), floats(&best));
        out.insert("best_value".into(), Value::Float(best_value));
        Ok(Value::Object(out))
    }

    fn check_input(&self, input: &Value) -> Result<(), PluginError> {
        self.client_point(input).map(|_| ())
    }
}

impl QuadraticEvaluator {
    /// The client's point of an inference input, `None` for no input (`null` or `{}`).
    fn client_point(&self, input: &Value) -> Result<Option<Vec<f64>>, PluginError> {
        match input {
            Value::Null => Ok(None),
            Value::Object(m) if m.is_empty() => Ok(None),
            Value::Object(m) => {
                if let Some(extra) = m.keys().find(|k| k.as_str() != PARAM) {
                    return Err(PluginError::InvalidInput(format!(
                        "unknown key `{extra}`: the quadratic domain takes {{\"{PARAM}\": [...]}}"
                    )));
                }
                self.problem
                    .read_x(m)
                    .map(Some)
                    .map_err(|e| PluginError::InvalidInput(e.to_string()))
            }
            other => Err(PluginError::InvalidInput(format!(
                "expected an object {{\"{PARAM}\": [...]}}, got {}",
                other.type_name()
            ))),
        }
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
    fn inference_answers_the_best_point_or_the_clients_point() {
        let mut ev = QuadraticEvaluator::new(&cfg()).unwrap();
        let best = QuadraticProblem::parameters(&[1.0, 2.0, 2.0]);
        let out = ev.infer(&best, &Value::Null).unwrap();
        let out = out.as_object().unwrap();
        assert_eq!(out["value"], Value::Float(-1.0));
        assert_eq!(out["x"], out["best_x"]);
        let at = map! { "x" => vec![Value::Float(1.0), Value::Float(2.0), Value::Float(5.0)] };
        let out = ev.infer(&best, &Value::Object(at)).unwrap();
        assert_eq!(out.as_object().unwrap()["value"], Value::Float(-4.0));
        assert_eq!(out.as_object().unwrap()["best_value"], Value::Float(-1.0));
        for bad in [
            Value::Object(map! { "x" => vec![Value::Float(1.0)] }),
            Value::Object(map! { "y" => 1i64 }),
            Value::from("x"),
        ] {
            assert!(matches!(
                ev.infer(&best, &bad),
                Err(PluginError::InvalidInput(_))
            ));
            assert!(matches!(
                ev.check_input(&bad),
                Err(PluginError::InvalidInput(_))
            ));
        }
        assert!(ev.check_input(&Value::object()).is_ok());
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
