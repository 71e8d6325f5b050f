//! The neural-network domain's evaluator: retrains the network on the evaluator's own
//! folds, each fold's network initialised from the evaluator's seed.

use doin_primitives::{Map, Value};

use super::model::SearchSpace;
use super::network::neg_cv_mse;
use super::synthetic::{configured_folds, GENERATOR};
use crate::error::PluginError;
use crate::plugin::{DomainMetadata, Evaluator, SyntheticData};
use crate::wine::{wine_data, DATASET};

/// Scores hyperparameters by `neg_cv_mse` on the folds and seed of the synthetic data.
#[derive(Debug, Clone)]
pub struct MlpEvaluator {
    pub(super) space: SearchSpace,
    folds: usize,
    /// The network the last inference request was served with: the chain's best changes
    /// rarely, and training one costs a fraction of a second.
    pub(super) model: Option<super::inference::ServedModel>,
}

impl MlpEvaluator {
    /// Reads the search space and `folds` from the domain's `inference_config`.
    pub fn new(config: &Map) -> Result<Self, PluginError> {
        Ok(MlpEvaluator {
            space: SearchSpace::from_config(config)?,
            folds: configured_folds(config)?,
            model: None,
        })
    }

    /// The fold assignment and the seed inside `data`, after checking it was made for
    /// this domain.
    fn folds_and_seed(&self, data: &SyntheticData) -> Result<(Vec<usize>, u64), PluginError> {
        let obj = data
            .data
            .as_object()
            .ok_or_else(|| PluginError::InvalidData("expected a JSON object".into()))?;
        if obj.get("dataset").and_then(Value::as_str) != Some(DATASET)
            || obj.get("generator").and_then(Value::as_str) != Some(GENERATOR)
            || obj.get("folds").and_then(Value::as_f64) != Some(self.folds as f64)
        {
            return Err(PluginError::InvalidData(format!(
                "made for another domain: expected {GENERATOR} data of {DATASET} in {} folds \
                 (the synthetic-data and inference configs must agree on `folds`)",
                self.folds
            )));
        }
        let seed = match obj.get("seed") {
            Some(Value::Int(s)) if *s >= 0 => *s as u64,
            Some(Value::BigInt(s)) => s
                .parse::<u64>()
                .map_err(|_| PluginError::InvalidData("`seed` must be a u64".into()))?,
            _ => return Err(PluginError::InvalidData("`seed` must be a u64".into())),
        };
        let fold_of = obj
            .get("fold_of")
            .and_then(Value::as_array)
            .and_then(|a| {
                a.iter()
                    .map(|v| v.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0))
                    .map(|f| f.map(|f| f as usize))
                    .collect::<Option<Vec<usize>>>()
            })
            .ok_or_else(|| {
                PluginError::InvalidData("`fold_of` must be an array of fold numbers".into())
            })?;
        Ok((fold_of, seed))
    }
}

impl Evaluator for MlpEvaluator {
    fn metadata(&self) -> DomainMetadata {
        self.space.metadata()
    }

    fn evaluate(&mut self, parameters: &Map, data: &SyntheticData) -> Result<f64, PluginError> {
        let h = self.space.read(parameters)?;
        let (fold_of, seed) = self.folds_and_seed(data)?;
        neg_cv_mse(wine_data(), &fold_of, self.folds, &h, seed)
    }

    fn infer(&mut self, parameters: &Map, input: &Value) -> Result<Value, PluginError> {
        let h = self.space.read(parameters)?;
        self.predict(&h, input)
    }

    fn check_input(&self, input: &Value) -> Result<(), PluginError> {
        crate::wine::read_wines(input).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlp::model::Hyperparameters;
    use crate::mlp::synthetic::MlpFolds;
    use crate::wine::WineFolds;
    use crate::SyntheticDataGenerator;
    use doin_primitives::map;

    /// Well-tuned hyperparameters (about -0.42) and a poor choice (too few, too small
    /// steps: about -0.6).
    pub(crate) fn tuned() -> Hyperparameters {
        Hyperparameters {
            hidden: 16,
            log10_learning_rate: -1.5,
            log10_weight_decay: -3.0,
            steps: 200,
        }
    }

    #[test]
    fn data_of_another_domain_is_refused() {
        let mut ev = MlpEvaluator::new(&Map::new()).unwrap();
        let h = tuned().to_parameters();
        let wine = WineFolds::new(&map! { "folds" => 5i64 })
            .unwrap()
            .generate(1)
            .unwrap();
        assert!(matches!(
            ev.evaluate(&h, &wine),
            Err(PluginError::InvalidData(_))
        ));
        let other_folds = MlpFolds::new(&map! { "folds" => 3i64 })
            .unwrap()
            .generate(1)
            .unwrap();
        assert!(ev.evaluate(&h, &other_folds).is_err());
        let junk = SyntheticData::new(Value::from("junk")).unwrap();
        assert!(ev.evaluate(&h, &junk).is_err());
        let mut no_seed = MlpFolds::new(&Map::new())
            .unwrap()
            .generate(1)
            .unwrap()
            .data;
        if let Value::Object(o) = &mut no_seed {
            o.insert("seed".into(), Value::Float(1.5));
        }
        assert!(ev
            .evaluate(&h, &SyntheticData::new(no_seed).unwrap())
            .is_err());
    }

    /// The claim of the module doc: honest evaluators, each on the folds and initial
    /// weights of its own seed, agree within the quorum tolerance the domain is run with
    /// ([`super::super::QUORUM_TOLERANCE`], relative to the median), at a tuned point and
    /// at a poor one.
    #[test]
    fn honest_evaluators_agree_within_the_tolerance() {
        let mut generator = MlpFolds::new(&Map::new()).unwrap();
        let mut ev = MlpEvaluator::new(&Map::new()).unwrap();
        let poor = Hyperparameters {
            hidden: 4,
            log10_learning_rate: -3.0,
            log10_weight_decay: -1.0,
            steps: 60,
        };
        for h in [tuned(), poor] {
            let p = h.to_parameters();
            let mut scores: Vec<f64> = (1..=8u64)
                .map(|seed| ev.evaluate(&p, &generator.generate(seed).unwrap()).unwrap())
                .collect();
            scores.sort_by(f64::total_cmp);
            let median = (scores[3] + scores[4]) / 2.0;
            let mean = scores.iter().sum::<f64>() / scores.len() as f64;
            let sd = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>()
                / (scores.len() - 1) as f64)
                .sqrt();
            let spread = scores
                .iter()
                .map(|s| (s - median).abs() / median.abs())
                .fold(0.0, f64::max);
            eprintln!(
                "{h:?}: scores over 8 evaluator seeds {scores:.4?}, sd {:.2} % of the median, \
                 largest divergence from it {:.2} %",
                100.0 * sd / median.abs(),
                100.0 * spread
            );
            assert!(spread < crate::mlp::QUORUM_TOLERANCE, "{scores:?}");
            // The same seed gives the same score, bit for bit.
            let again = ev.evaluate(&p, &generator.generate(1).unwrap()).unwrap();
            assert_eq!(
                again,
                ev.evaluate(&p, &generator.generate(1).unwrap()).unwrap()
            );
        }
    }
}
