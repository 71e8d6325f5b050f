//! Plugin outputs are checked like peer input, because a plugin may be another process,
//! another author's code, or simply wrong.
//!
//! The registry wraps every plugin it builds in a checking adapter, so callers only ever see
//! finite performances, finite parameters inside the declared bounds, and synthetic data
//! whose hash matches its content.

use doin_primitives::{Map, Value};

use crate::error::PluginError;
use crate::plugin::{
    Candidate, DomainMetadata, Evaluator, Optimizer, ParamBound, SyntheticData,
    SyntheticDataGenerator,
};

/// `performance` if it is finite.
pub fn check_performance(performance: f64) -> Result<f64, PluginError> {
    if performance.is_finite() {
        Ok(performance)
    } else {
        Err(PluginError::NonFinitePerformance(performance))
    }
}

/// Checks that every number in `parameters` is finite and that every number under a bounded
/// name lies inside its bound. Names without a declared bound are not range-checked.
pub fn check_parameters(metadata: &DomainMetadata, parameters: &Map) -> Result<(), PluginError> {
    if let Some(f) = parameters.values().find_map(Value::find_non_finite) {
        return Err(PluginError::InvalidParameters(format!(
            "contain the non-finite number {f}"
        )));
    }
    for (name, bound) in &metadata.param_bounds {
        if let Some(v) = parameters.get(name) {
            check_in_bound(name, v, bound)?;
        }
    }
    Ok(())
}

fn check_in_bound(path: &str, v: &Value, bound: &ParamBound) -> Result<(), PluginError> {
    match v {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check_in_bound(&format!("{path}[{i}]"), item, bound)),
        _ => match v.as_f64() {
            Some(f) if !bound.contains(f) => Err(PluginError::InvalidParameters(format!(
                "`{path}` = {f} is outside its bounds [{}, {}]",
                bound.low, bound.high
            ))),
            _ => Ok(()),
        },
    }
}

/// An optimizer whose inputs and outputs are checked.
pub(crate) struct CheckedOptimizer {
    inner: Box<dyn Optimizer>,
    metadata: DomainMetadata,
}

impl CheckedOptimizer {
    pub(crate) fn new(inner: Box<dyn Optimizer>) -> Self {
        let metadata = inner.metadata();
        CheckedOptimizer { inner, metadata }
    }
}

impl Optimizer for CheckedOptimizer {
    fn metadata(&self) -> DomainMetadata {
        self.metadata.clone()
    }

    fn step(&mut self, current_best: Option<&Candidate>) -> Result<Candidate, PluginError> {
        if let Some(best) = current_best {
            check_parameters(&self.metadata, &best.parameters)?;
        }
        let candidate = self.inner.step(current_best)?;
        check_parameters(&self.metadata, &candidate.parameters)?;
        check_performance(candidate.performance)?;
        Ok(candidate)
    }
}

/// An evaluator whose inputs and outputs are checked.
pub(crate) struct CheckedEvaluator {
    inner: Box<dyn Evaluator>,
    metadata: DomainMetadata,
}

impl CheckedEvaluator {
    pub(crate) fn new(inner: Box<dyn Evaluator>) -> Self {
        let metadata = inner.metadata();
        CheckedEvaluator { inner, metadata }
    }
}

impl Evaluator for CheckedEvaluator {
    fn metadata(&self) -> DomainMetadata {
        self.metadata.clone()
    }

    fn evaluate(&mut self, parameters: &Map, data: &SyntheticData) -> Result<f64, PluginError> {
        check_parameters(&self.metadata, parameters)?;
        data.verify()?;
        check_performance(self.inner.evaluate(parameters, data)?)
    }

    fn infer(&mut self, parameters: &Map, input: &Value) -> Result<Value, PluginError> {
        check_parameters(&self.metadata, parameters)?;
        crate::inference::check_input(input)?;
        crate::inference::check_output(self.inner.infer(parameters, input)?)
    }

    fn check_input(&self, input: &Value) -> Result<(), PluginError> {
        crate::inference::check_input(input)?;
        self.inner.check_input(input)
    }
}

/// A synthetic-data generator whose output is checked.
pub(crate) struct CheckedGenerator {
    inner: Box<dyn SyntheticDataGenerator>,
}

impl CheckedGenerator {
    pub(crate) fn new(inner: Box<dyn SyntheticDataGenerator>) -> Self {
        CheckedGenerator { inner }
    }
}

impl SyntheticDataGenerator for CheckedGenerator {
    fn generate(&mut self, seed: u64) -> Result<SyntheticData, PluginError> {
        let data = self.inner.generate(seed)?;
        data.verify()?;
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::map;
    use std::collections::BTreeMap;

    fn meta() -> DomainMetadata {
        DomainMetadata {
            performance_metric: "m".into(),
            higher_is_better: true,
            param_bounds: BTreeMap::from([(
                "x".to_owned(),
                ParamBound {
                    low: -1.0,
                    high: 1.0,
                },
            )]),
        }
    }

    /// A deliberately broken plugin: returns whatever it was told to.
    struct Broken {
        parameters: Map,
        performance: f64,
        data: SyntheticData,
    }

    impl Broken {
        fn new(parameters: Map, performance: f64) -> Self {
            let data = SyntheticData::new(Value::object()).unwrap();
            Broken {
                parameters,
                performance,
                data,
            }
        }
    }

    impl Optimizer for Broken {
        fn metadata(&self) -> DomainMetadata {
            meta()
        }
        fn step(&mut self, _: Option<&Candidate>) -> Result<Candidate, PluginError> {
            Ok(Candidate {
                parameters: self.parameters.clone(),
                performance: self.performance,
            })
        }
    }

    impl Evaluator for Broken {
        fn metadata(&self) -> DomainMetadata {
            meta()
        }
        fn evaluate(&mut self, _: &Map, _: &SyntheticData) -> Result<f64, PluginError> {
            Ok(self.performance)
        }
    }

    impl SyntheticDataGenerator for Broken {
        fn generate(&mut self, _: u64) -> Result<SyntheticData, PluginError> {
            Ok(self.data.clone())
        }
    }

    fn x(values: &[f64]) -> Map {
        map! { "x" => values.iter().map(|v| Value::Float(*v)).collect::<Vec<_>>() }
    }

    #[test]
    fn non_finite_and_out_of_bounds_parameters_are_refused() {
        assert!(check_parameters(&meta(), &x(&[0.5, -1.0, 1.0])).is_ok());
        let err = check_parameters(&meta(), &x(&[0.0, 1.5])).unwrap_err();
        assert!(err.to_string().contains("`x[1]` = 1.5"), "{err}");
        assert!(check_parameters(&meta(), &x(&[f64::NAN])).is_err());
        assert!(check_parameters(&meta(), &map! { "y" => f64::INFINITY }).is_err());
        // Unbounded names are only checked for finiteness.
        assert!(check_parameters(&meta(), &map! { "y" => 1e9 }).is_ok());
    }

    #[test]
    fn checked_optimizer_refuses_bad_outputs_and_inputs() {
        for perf in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut opt = CheckedOptimizer::new(Box::new(Broken::new(x(&[0.0]), perf)));
            assert_eq!(
                opt.step(None).unwrap_err().to_string(),
                PluginError::NonFinitePerformance(perf).to_string()
            );
        }
        let mut opt = CheckedOptimizer::new(Box::new(Broken::new(x(&[2.0]), -1.0)));
        assert!(matches!(
            opt.step(None),
            Err(PluginError::InvalidParameters(_))
        ));
        let mut opt = CheckedOptimizer::new(Box::new(Broken::new(x(&[0.0]), -1.0)));
        let migrant = Candidate {
            parameters: x(&[f64::NAN]),
            performance: 0.0,
        };
        assert!(opt.step(Some(&migrant)).is_err());
        assert!(opt.step(None).is_ok());
    }

    #[test]
    fn checked_evaluator_refuses_bad_outputs_and_forged_data() {
        let data = SyntheticData::new(Value::object()).unwrap();
        let mut ev = CheckedEvaluator::new(Box::new(Broken::new(Map::new(), f64::NAN)));
        assert!(ev.evaluate(&x(&[0.0]), &data).is_err());
        let mut ev = CheckedEvaluator::new(Box::new(Broken::new(Map::new(), -3.0)));
        assert_eq!(ev.evaluate(&x(&[0.0]), &data), Ok(-3.0));
        assert!(ev.evaluate(&x(&[5.0]), &data).is_err());
        let forged = SyntheticData {
            data: Value::object(),
            data_hash: "00".repeat(32),
        };
        assert!(matches!(
            ev.evaluate(&x(&[0.0]), &forged),
            Err(PluginError::InvalidData(_))
        ));
    }

    #[test]
    fn checked_generator_refuses_a_wrong_hash() {
        let mut broken = Broken::new(Map::new(), 0.0);
        broken.data.data_hash = "ab".repeat(32);
        let mut generator = CheckedGenerator::new(Box::new(broken));
        assert!(generator.generate(1).is_err());
        let mut generator = CheckedGenerator::new(Box::new(Broken::new(Map::new(), 0.0)));
        assert!(generator.generate(1).is_ok());
    }
}
