//! Inference for the neural-network domain: the network with the chain's best
//! hyperparameters, trained on every wine of the data set, predicting the quality of a
//! client's wines.

use candle_core::{Device, Tensor};
use doin_primitives::{Map, Value};

use super::evaluator::MlpEvaluator;
use super::model::Hyperparameters;
use super::network::Mlp;
use crate::error::PluginError;
use crate::wine::{read_wines, wine_data, N_FEATURES};

/// The label of the stream the served network's initial weights are drawn from: every
/// node serving the same best hyperparameters serves the same network.
pub const SERVED_INIT: &str = "doin/wine_mlp/init/served";

/// The network served for the best hyperparameters.
#[derive(Debug, Clone)]
pub struct ServedModel {
    /// The hyperparameters it was trained with.
    pub hyperparameters: Hyperparameters,
    network: Mlp,
}

impl ServedModel {
    /// Trains the network of `h` on all 1,599 wines, initialised from [`SERVED_INIT`].
    pub fn train(h: &Hyperparameters) -> Result<Self, PluginError> {
        let data = wine_data();
        let all: Vec<usize> = (0..data.len()).collect();
        Ok(ServedModel {
            hyperparameters: *h,
            network: Mlp::train(data, &all, h, SERVED_INIT)?,
        })
    }

    /// The predicted quality of wines given by their measurements in the data set's units
    /// (z-scored with the data set's means and deviations), within 3 to 8.
    pub fn predict(&self, wines: &[[f64; N_FEATURES]]) -> Result<Vec<f64>, PluginError> {
        let d = wine_data();
        let z: Vec<f64> = wines
            .iter()
            .flat_map(|w| (0..N_FEATURES).map(move |j| (w[j] - d.mean[j]) / d.sd[j]))
            .collect();
        let z = Tensor::from_vec(z, (wines.len(), N_FEATURES), &Device::Cpu).map_err(|e| {
            PluginError::InvalidInput(format!("the wines do not form a batch: {e}"))
        })?;
        self.network.predict_z(&z)
    }
}

impl MlpEvaluator {
    /// Answers `{"predictions": [q, …], "model": {hyperparameters, "trained_on": 1599}}`
    /// for the wines of `input`, with the network of `h` (kept until the best changes).
    pub(super) fn predict(
        &mut self,
        h: &Hyperparameters,
        input: &Value,
    ) -> Result<Value, PluginError> {
        let wines = read_wines(input)?;
        let model = match self.model.take() {
            Some(m) if m.hyperparameters == *h => m,
            _ => ServedModel::train(h)?,
        };
        let model = self.model.insert(model);
        let predictions = model
            .predict(&wines)?
            .into_iter()
            .map(Value::Float)
            .collect();
        let mut described = h.to_parameters();
        described.insert("trained_on".into(), Value::Int(wine_data().len() as i64));
        let mut out = Map::new();
        out.insert("predictions".into(), Value::Array(predictions));
        out.insert("model".into(), Value::Object(described));
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Evaluator;
    use doin_primitives::map;

    fn raw(i: usize) -> Vec<Value> {
        let d = wine_data();
        (0..N_FEATURES)
            .map(|j| Value::Float(d.row(i)[j] * d.sd[j] + d.mean[j]))
            .collect()
    }

    #[test]
    fn the_served_network_predicts_the_data_set_and_follows_a_new_best() {
        let tuned = Hyperparameters {
            hidden: 16,
            log10_learning_rate: -1.5,
            log10_weight_decay: -3.0,
            steps: 200,
        };
        let d = wine_data();
        let served = ServedModel::train(&tuned).unwrap();
        let wines: Vec<[f64; N_FEATURES]> = (0..d.len())
            .map(|i| {
                let mut w = [0.0; N_FEATURES];
                for (j, x) in w.iter_mut().enumerate() {
                    *x = d.row(i)[j] * d.sd[j] + d.mean[j];
                }
                w
            })
            .collect();
        let predicted = served.predict(&wines).unwrap();
        let mse = predicted
            .iter()
            .zip(&d.quality)
            .map(|(p, q)| (p - q).powi(2))
            .sum::<f64>()
            / d.len() as f64;
        // Training error, below the cross-validated error of a tuned network (~0.42).
        assert!(mse < 0.42, "{mse}");
        assert!(predicted.iter().all(|q| (3.0..=8.0).contains(q)));

        let input =
            Value::Object(map! { "wines" => vec![Value::Array(raw(0)), Value::Array(raw(1))] });
        let mut ev = MlpEvaluator::new(&Map::new()).unwrap();
        let answer = ev.infer(&tuned.to_parameters(), &input).unwrap();
        let obj = answer.as_object().unwrap();
        let got: Vec<f64> = obj["predictions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(got, predicted[..2].to_vec());
        assert_eq!(
            obj["model"].as_object().unwrap()["trained_on"],
            Value::Int(1599)
        );
        // The kept network answers as a fresh one; a new best is another network.
        assert_eq!(ev.infer(&tuned.to_parameters(), &input).unwrap(), answer);
        let other = Hyperparameters { hidden: 4, ..tuned };
        assert_ne!(ev.infer(&other.to_parameters(), &input).unwrap(), answer);
        assert!(matches!(
            ev.infer(&tuned.to_parameters(), &Value::Null),
            Err(PluginError::InvalidInput(_))
        ));
    }
}
