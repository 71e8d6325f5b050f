//! The network: a multilayer perceptron with one hidden layer of ReLU units, built and
//! trained with candle on the CPU in `f64`, and its k-fold cross-validation.
//!
//! `11 z-scored measurements -> Linear(11, hidden) -> ReLU -> Linear(hidden, 1)`, trained
//! on the full batch of training wines for `steps` steps of AdamW (learning rate and
//! decoupled weight decay from the hyperparameters, candle's default betas and epsilon)
//! on the mean squared error. Nothing is random but the initial weights, drawn from a
//! labelled [`SeededStream`] (Glorot uniform for the hidden weights, zero hidden biases,
//! zero output weights and the output bias at the training wines' mean quality, so that
//! training starts from the mean predictor). Predictions are clipped to the data set's range of scores (3 to 8); a
//! prediction that is not finite (a diverged training) counts as the training mean.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Linear, Module, Optimizer, ParamsAdamW};

use super::model::Hyperparameters;
use crate::error::PluginError;
use crate::seeded::SeededStream;
use crate::wine::{WineData, N_FEATURES};

/// The lowest quality score in the data set: predictions are clipped to it.
pub(super) const QUALITY_LOW: f64 = 3.0;
/// The highest quality score in the data set: predictions are clipped to it.
pub(super) const QUALITY_HIGH: f64 = 8.0;

/// A candle failure, which on the CPU with shapes this module builds means a bug: reported
/// as a failed plugin call rather than a panic.
fn failed(e: candle_core::Error) -> PluginError {
    PluginError::Failed {
        plugin: super::NAME.into(),
        method: "train".into(),
        error_type: "candle".into(),
        message: e.to_string(),
    }
}

/// A trained network.
#[derive(Debug, Clone)]
pub struct Mlp {
    hidden_layer: Linear,
    output_layer: Linear,
    /// The training wines' mean quality: the answer where the network's is not finite.
    fallback: f64,
}

/// Glorot-uniform weights of a `fan_out x fan_in` layer, row-major.
fn glorot(rng: &mut SeededStream, fan_out: usize, fan_in: usize) -> Vec<f64> {
    let bound = (6.0 / (fan_in + fan_out) as f64).sqrt();
    (0..fan_out * fan_in)
        .map(|_| rng.next_uniform(-bound, bound))
        .collect()
}

impl Mlp {
    /// Trains the network of `h` on the wines `rows` of `data`, its initial weights drawn
    /// from `SeededStream(init_label)`.
    pub fn train(
        data: &WineData,
        rows: &[usize],
        h: &Hyperparameters,
        init_label: &str,
    ) -> Result<Self, PluginError> {
        Self::train_inner(data, rows, h, init_label).map_err(failed)
    }

    fn train_inner(
        data: &WineData,
        rows: &[usize],
        h: &Hyperparameters,
        init_label: &str,
    ) -> candle_core::Result<Self> {
        let dev = Device::Cpu;
        let x = inputs(data, rows)?;
        let targets: Vec<f64> = rows.iter().map(|&i| data.quality[i]).collect();
        let mean = targets.iter().sum::<f64>() / targets.len().max(1) as f64;
        let y = Tensor::from_vec(targets, (rows.len(), 1), &dev)?;

        let mut rng = SeededStream::new(init_label);
        let hidden = h.hidden.max(1);
        let w1 = Var::from_vec(
            glorot(&mut rng, hidden, N_FEATURES),
            (hidden, N_FEATURES),
            &dev,
        )?;
        let b1 = Var::zeros(hidden, DType::F64, &dev)?;
        // A zero output layer: the untrained network is the mean predictor, whatever its
        // hidden weights, so a short or timid training scores near the mean's error on
        // every seed instead of a random function's.
        let w2 = Var::zeros((1, hidden), DType::F64, &dev)?;
        let b2 = Var::from_vec(vec![mean], 1, &dev)?;
        let net = Mlp {
            hidden_layer: Linear::new(w1.as_tensor().clone(), Some(b1.as_tensor().clone())),
            output_layer: Linear::new(w2.as_tensor().clone(), Some(b2.as_tensor().clone())),
            fallback: mean,
        };
        let mut opt = AdamW::new(
            vec![w1, b1, w2, b2],
            ParamsAdamW {
                lr: 10f64.powf(h.log10_learning_rate),
                weight_decay: 10f64.powf(h.log10_weight_decay),
                ..ParamsAdamW::default()
            },
        )?;
        for _ in 0..h.steps {
            let loss = candle_nn::loss::mse(&net.forward(&x)?, &y)?;
            opt.backward_step(&loss)?;
        }
        Ok(net)
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.output_layer
            .forward(&self.hidden_layer.forward(x)?.relu()?)
    }

    /// The predicted quality of the wines `rows` of `data` (z-scored measurements),
    /// clipped to the data set's range of scores.
    pub fn predict_rows(&self, data: &WineData, rows: &[usize]) -> Result<Vec<f64>, PluginError> {
        self.predict_z(&inputs(data, rows).map_err(failed)?)
    }

    /// The predicted quality of wines given by z-scored measurements (`n x 11`).
    pub(super) fn predict_z(&self, z: &Tensor) -> Result<Vec<f64>, PluginError> {
        let out = self
            .forward(z)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f64>())
            .map_err(failed)?;
        Ok(out
            .into_iter()
            .map(|q| {
                if q.is_finite() {
                    q.clamp(QUALITY_LOW, QUALITY_HIGH)
                } else {
                    self.fallback
                }
            })
            .collect())
    }
}

/// The z-scored measurements of the wines `rows`, as an `n x 11` tensor.
fn inputs(data: &WineData, rows: &[usize]) -> candle_core::Result<Tensor> {
    let mut x = Vec::with_capacity(rows.len() * N_FEATURES);
    for &i in rows {
        x.extend_from_slice(data.row(i));
    }
    Tensor::from_vec(x, (rows.len(), N_FEATURES), &Device::Cpu)
}

/// Minus the mean squared error of the `folds`-fold cross-validated predictions of every
/// wine's quality: for each fold `k`, the network of `h` is trained on the other folds,
/// initialised from `SeededStream("doin/wine_mlp/init/{seed}/{k}")`, and predicts fold `k`.
pub fn neg_cv_mse(
    data: &WineData,
    fold_of: &[usize],
    folds: usize,
    h: &Hyperparameters,
    seed: u64,
) -> Result<f64, PluginError> {
    if fold_of.len() != data.len() || fold_of.iter().any(|f| *f >= folds) {
        return Err(PluginError::InvalidData(format!(
            "expected a fold below {folds} for each of the {} wines",
            data.len()
        )));
    }
    let mut squared_error = 0.0;
    for k in 0..folds {
        let (train, validate): (Vec<usize>, Vec<usize>) =
            (0..data.len()).partition(|&i| fold_of[i] != k);
        if train.is_empty() || validate.is_empty() {
            return Err(PluginError::InvalidData(format!(
                "fold {k} is empty or is everything"
            )));
        }
        let net = Mlp::train(data, &train, h, &format!("doin/wine_mlp/init/{seed}/{k}"))?;
        let predicted = net.predict_rows(data, &validate)?;
        squared_error += validate
            .iter()
            .zip(predicted)
            .map(|(&i, q)| (q - data.quality[i]).powi(2))
            .sum::<f64>();
    }
    Ok(-squared_error / data.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wine::{fold_assignment, wine_data};

    fn tuned() -> Hyperparameters {
        Hyperparameters {
            hidden: 16,
            log10_learning_rate: -1.5,
            log10_weight_decay: -3.0,
            steps: 200,
        }
    }

    #[test]
    fn training_beats_the_mean_predictor_and_is_repeatable() {
        let d = wine_data();
        let fold_of = fold_assignment(1, d.len(), 5);
        let score = neg_cv_mse(d, &fold_of, 5, &tuned(), 1).unwrap();
        // The mean predictor scores about -0.65; a trained MLP about -0.42.
        assert!(score > -0.5, "{score}");
        assert_eq!(score, neg_cv_mse(d, &fold_of, 5, &tuned(), 1).unwrap());
        let untrained = Hyperparameters {
            steps: 10,
            log10_learning_rate: -4.0,
            ..tuned()
        };
        let barely = neg_cv_mse(d, &fold_of, 5, &untrained, 1).unwrap();
        assert!(barely < score - 0.1, "{barely} vs {score}");
        // Another seed initialises differently.
        assert_ne!(score, neg_cv_mse(d, &fold_of, 5, &tuned(), 2).unwrap());
    }

    #[test]
    fn a_diverging_training_scores_finitely() {
        let d = wine_data();
        let fold_of = fold_assignment(1, d.len(), 2);
        let wild = Hyperparameters {
            hidden: 32,
            log10_learning_rate: -0.5,
            log10_weight_decay: 0.0,
            steps: 30,
        };
        assert!(neg_cv_mse(d, &fold_of, 2, &wild, 1).unwrap().is_finite());
    }

    #[test]
    fn folds_that_do_not_fit_the_data_are_refused() {
        let d = wine_data();
        assert!(neg_cv_mse(d, &[0; 3], 2, &tuned(), 1).is_err());
        assert!(neg_cv_mse(d, &vec![0; d.len()], 2, &tuned(), 1).is_err());
        assert!(neg_cv_mse(d, &vec![5; d.len()], 2, &tuned(), 1).is_err());
    }
}
