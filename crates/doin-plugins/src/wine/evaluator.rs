//! The wine domain's evaluator: retrains the model on the evaluator's own folds.

use doin_primitives::{Map, Value};

use super::dataset::{wine_data, DATASET};
use super::model::SearchSpace;
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
        self.space.read(parameters)?;
        let fold_of = self.fold_of(data)?;
        self.space
            .score(wine_data(), parameters, &fold_of, self.folds)
    }

    fn infer(&mut self, parameters: &Map, input: &Value) -> Result<Value, PluginError> {
        let h = self.space.read(parameters)?;
        let data = self.space.data(super::dataset::wine_data(), parameters)?;
        let described = self.space.normalized(parameters)?;
        self.predict(&data, &h, described, input)
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

#[cfg(test)]
mod feature_selection_tests {
    use super::*;
    use crate::wine::model::{weight_name, Hyperparameters, FEATURE_SELECTION};
    use crate::wine::synthetic::WineFolds;
    use crate::wine::N_FEATURES;
    use crate::SyntheticDataGenerator;
    use doin_primitives::map;

    fn point(weights: [f64; N_FEATURES]) -> Map {
        let mut p = Hyperparameters {
            log10_alpha: -2.0,
            degree: 2,
            clip: 3.0,
        }
        .to_parameters();
        for (j, w) in weights.iter().enumerate() {
            p.insert(weight_name(j), Value::Float(*w));
        }
        p
    }

    #[test]
    fn weights_change_the_score_and_evaluation_is_deterministic() {
        let cfg = map! { FEATURE_SELECTION => true };
        let mut ev = WineEvaluator::new(&cfg).unwrap();
        let mut off = WineEvaluator::new(&Map::new()).unwrap();
        let data = WineFolds::new(&Map::new()).unwrap().generate(3).unwrap();
        let ones = point([1.0; N_FEATURES]);
        let all = ev.evaluate(&ones, &data).unwrap();
        // All weights 1 is the model of the default space.
        assert_eq!(all, off.evaluate(&ones, &data).unwrap());
        let mut fewer = [1.0; N_FEATURES];
        fewer[10] = 0.0; // no alcohol
        let without_alcohol = ev.evaluate(&point(fewer), &data).unwrap();
        assert!(without_alcohol < all - 0.01, "{without_alcohol} vs {all}");
        assert_eq!(without_alcohol, ev.evaluate(&point(fewer), &data).unwrap());
        let other = WineFolds::new(&Map::new()).unwrap().generate(4).unwrap();
        assert_ne!(without_alcohol, ev.evaluate(&point(fewer), &other).unwrap());
        // The default space ignores the weights.
        assert_eq!(off.evaluate(&point(fewer), &data).unwrap(), all);
        let mut bad = point(fewer);
        bad.insert(weight_name(0), Value::Float(1.5));
        assert!(matches!(
            ev.evaluate(&bad, &data),
            Err(PluginError::InvalidParameters(_))
        ));
        bad.shift_remove(&weight_name(0));
        assert!(ev.evaluate(&bad, &data).is_err());
        assert!(WineEvaluator::new(&map! { FEATURE_SELECTION => "yes" }).is_err());
    }

    #[test]
    fn inference_uses_the_weights() {
        let cfg = map! { FEATURE_SELECTION => true };
        let mut ev = WineEvaluator::new(&cfg).unwrap();
        let wine = doin_primitives::Value::Object(map! {
            "wine" => Value::Array(
                [7.4, 0.7, 0.0, 1.9, 0.076, 11.0, 34.0, 0.9978, 3.51, 0.56, 9.4]
                    .iter()
                    .map(|v| Value::Float(*v))
                    .collect()
            )
        });
        let all = ev.infer(&point([1.0; N_FEATURES]), &wine).unwrap();
        let mut fewer = [1.0; N_FEATURES];
        fewer[10] = 0.0;
        let without = ev.infer(&point(fewer), &wine).unwrap();
        assert_ne!(all, without);
        let model = without.as_object().unwrap()["model"].as_object().unwrap();
        assert_eq!(model[&weight_name(10)].as_f64(), Some(0.0));
        let mut off = WineEvaluator::new(&Map::new()).unwrap();
        let predictions = |v: &Value| v.as_object().unwrap()["predictions"].clone();
        assert_eq!(
            predictions(&off.infer(&point([1.0; N_FEATURES]), &wine).unwrap()),
            predictions(&all)
        );
    }
}
