//! The wine domain's evaluator: retrains the model on the evaluator's own folds.

use doin_primitives::{Map, Value};

use super::dataset::{wine_data, DATASET};
use super::model::{neg_cv_mse, SearchSpace};
use super::synthetic::configured_folds;
use crate::error::PluginError;
use crate::plugin::{DomainMetadata, Evaluator, SyntheticData};

/// Scores hyperparameters by `neg_cv_mse` on the folds of the synthetic data.
#[derive(Debug, Clone)]
pub struct WineEvaluator {
    space: SearchSpace,
    folds: usize,
    /// The model the last inference request was served with: the chain's best changes
    /// rarely, and a refit of the degree-2 model costs milliseconds.
    pub(super) model: Option<super::inference::RidgeModel>,
}

impl WineEvaluator {
    /// Reads the search space and `folds` from the domain's `inference_config`.
    pub fn new(config: &Map) -> Result<Self, PluginError> {
        Ok(WineEvaluator {
            space: SearchSpace::from_config(config)?,
            folds: configured_folds(config)?,
            model: None,
        })
    }

    /// The fold assignment inside `data`, after checking it was made for this domain.
    fn fold_of(&self, data: &SyntheticData) -> Result<Vec<usize>, PluginError> {
        let obj = data
            .data
            .as_object()
            .ok_or_else(|| PluginError::InvalidData("expected a JSON object".into()))?;
        if obj.get("dataset").and_then(Value::as_str) != Some(DATASET)
            || obj.get("folds").and_then(Value::as_f64) != Some(self.folds as f64)
        {
            return Err(PluginError::InvalidData(format!(
                "made for another domain: expected dataset {DATASET} in {} folds (the \
                 synthetic-data and inference configs must agree on `folds`)",
                self.folds
            )));
        }
        obj.get("fold_of")
            .and_then(Value::as_array)
            .and_then(|a| {
                a.iter()
                    .map(|v| v.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0))
                    .map(|f| f.map(|f| f as usize))
                    .collect::<Option<Vec<usize>>>()
            })
            .ok_or_else(|| {
                PluginError::InvalidData("`fold_of` must be an array of fold numbers".into())
            })
    }
}

impl Evaluator for WineEvaluator {
    fn metadata(&self) -> DomainMetadata {
        self.space.metadata()
    }

    fn evaluate(&mut self, parameters: &Map, data: &SyntheticData) -> Result<f64, PluginError> {
        let h = self.space.read(parameters)?;
        let fold_of = self.fold_of(data)?;
        neg_cv_mse(wine_data(), &h, &fold_of, self.folds)
    }

    fn infer(&mut self, parameters: &Map, input: &Value) -> Result<Value, PluginError> {
        let h = self.space.read(parameters)?;
        self.predict(&h, input)
    }

    fn check_input(&self, input: &Value) -> Result<(), PluginError> {
        super::inference::read_wines(input).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wine::model::Hyperparameters;
    use crate::wine::synthetic::WineFolds;
    use crate::SyntheticDataGenerator;
    use doin_primitives::map;

    #[test]
    fn data_of_another_domain_is_refused() {
        let mut ev = WineEvaluator::new(&Map::new()).unwrap();
        let h = Hyperparameters {
            log10_alpha: -2.0,
            degree: 1,
            clip: 4.0,
        }
        .to_parameters();
        let four = WineFolds::new(&map! { "folds" => 4i64 })
            .unwrap()
            .generate(1)
            .unwrap();
        assert!(matches!(
            ev.evaluate(&h, &four),
            Err(PluginError::InvalidData(_))
        ));
        let junk = SyntheticData::new(Value::from("junk")).unwrap();
        assert!(matches!(
            ev.evaluate(&h, &junk),
            Err(PluginError::InvalidData(_))
        ));
        let five = WineFolds::new(&Map::new()).unwrap().generate(1).unwrap();
        assert!(ev.evaluate(&h, &five).unwrap() < 0.0);
    }
}
