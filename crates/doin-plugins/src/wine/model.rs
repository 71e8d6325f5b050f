//! The model whose hyperparameters the domain optimizes: ridge regression of the quality
//! score on clipped z-scores (degree 1) or on them and all their pairwise products
//! (degree 2), with an unpenalized intercept, scored by k-fold cross-validation.
//!
//! Ridge regression has a closed form, so a fit is one Cholesky solve of the regularized
//! normal equations, and every fold reuses the per-fold Gram matrices: one pass over the
//! data per evaluation, a few milliseconds. (A general solver such as `linfa-elasticnet`'s
//! coordinate descent takes seconds per cross-validation of the degree-2 model.)
//! Predictions are clipped to the range of quality scores in the data (3 to 8).

use std::collections::BTreeMap;

use doin_primitives::{Map, Value};

use std::borrow::Cow;

use super::dataset::{WineData, FEATURE_NAMES, N_FEATURES};
use crate::config::optional_bounds;
use crate::error::PluginError;
use crate::plugin::{DomainMetadata, ParamBound};

/// The metric: minus the mean squared error of the cross-validated predictions of every
/// wine's quality (higher is better; predicting the mean scores about -0.65).
pub const METRIC: &str = "neg_cv_mse";
/// Ridge penalty `alpha = 10^log10_alpha`, applied as `alpha * n_train` to the squared
/// coefficients (the intercept is not penalized).
pub const LOG10_ALPHA: &str = "log10_alpha";
/// Polynomial degree of the features: 1 (the measurements) or 2 (and their pairwise
/// products); the value is rounded to the nearest integer.
pub const DEGREE: &str = "degree";
/// z-scores are clipped to `[-clip, clip]` before the features are formed, which tames
/// outlying wines.
pub const CLIP: &str = "clip";

/// The config key (`true` or `false`, default `false`) that opts into the larger search
/// space: one weight `w_<measurement>` in `[0, 1]` per measurement ([`weight_name`]), by
/// which its z-score is multiplied before clipping (0 drops the measurement).
pub const FEATURE_SELECTION: &str = "feature_selection";

/// The name of measurement `j`'s weight in the larger search space: `w_` and its name.
pub fn weight_name(j: usize) -> String {
    format!("w_{}", FEATURE_NAMES[j])
}

/// Predictions are clipped to the range of quality scores in the data set, so that no
/// extrapolation to an outlying wine dominates the error.
pub(super) const QUALITY_LOW: f64 = 3.0;
/// See [`QUALITY_LOW`].
pub(super) const QUALITY_HIGH: f64 = 8.0;

/// The widest bounds of each hyperparameter; a config's `param_bounds` may narrow them.
pub const LIMITS: [(&str, ParamBound); 3] = [
    (
        CLIP,
        ParamBound {
            low: 0.5,
            high: 6.0,
        },
    ),
    (
        DEGREE,
        ParamBound {
            low: 1.0,
            high: 2.0,
        },
    ),
    (
        LOG10_ALPHA,
        ParamBound {
            low: -4.0,
            high: 2.0,
        },
    ),
];

/// One point of the search space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hyperparameters {
    /// `log10` of the ridge penalty.
    pub log10_alpha: f64,
    /// 1 or 2.
    pub degree: u8,
    /// The z-score clip.
    pub clip: f64,
}

impl Hyperparameters {
    /// The parameters object: `{"clip": f, "degree": 1|2, "log10_alpha": f}`.
    pub fn to_parameters(self) -> Map {
        let mut m = Map::new();
        m.insert(CLIP.into(), Value::Float(self.clip));
        m.insert(DEGREE.into(), Value::Int(i64::from(self.degree)));
        m.insert(LOG10_ALPHA.into(), Value::Float(self.log10_alpha));
        m
    }
}

/// The search space a domain config describes: each hyperparameter's bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchSpace {
    /// Bounds by parameter name (every name of [`LIMITS`], and with
    /// [`FEATURE_SELECTION`] every [`weight_name`], in `[0, 1]`).
    pub bounds: BTreeMap<String, ParamBound>,
    /// Whether the parameters include the measurements' weights ([`FEATURE_SELECTION`]).
    pub feature_selection: bool,
}

impl SearchSpace {
    /// Reads [`FEATURE_SELECTION`] and `param_bounds` (optional; each given range must lie
    /// inside [`LIMITS`], a weight's inside `[0, 1]`).
    pub fn from_config(config: &Map) -> Result<Self, PluginError> {
        let feature_selection = match config.get(FEATURE_SELECTION) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(PluginError::config(
                    FEATURE_SELECTION,
                    format!("expected true or false, got {}", other.type_name()),
                ))
            }
        };
        let mut bounds: BTreeMap<String, ParamBound> =
            LIMITS.iter().map(|(k, b)| ((*k).to_owned(), *b)).collect();
        if feature_selection {
            for j in 0..N_FEATURES {
                bounds.insert(
                    weight_name(j),
                    ParamBound {
                        low: 0.0,
                        high: 1.0,
                    },
                );
            }
        }
        for (name, b) in optional_bounds(config, "param_bounds")?.unwrap_or_default() {
            let limit = bounds.get(&name).copied().ok_or_else(|| {
                PluginError::config(
                    format!("param_bounds.{name}"),
                    format!("the wine quality domain has only {CLIP}, {DEGREE} and {LOG10_ALPHA}"),
                )
            })?;
            if b.low < limit.low || b.high > limit.high {
                return Err(PluginError::config(
                    format!("param_bounds.{name}"),
                    format!(
                        "[{}, {}] leaves the domain's limits [{}, {}]",
                        b.low, b.high, limit.low, limit.high
                    ),
                ));
            }
            bounds.insert(name, b);
        }
        Ok(SearchSpace {
            bounds,
            feature_selection,
        })
    }

    /// The domain's metadata: [`METRIC`], higher is better, the bounds.
    pub fn metadata(&self) -> DomainMetadata {
        DomainMetadata {
            performance_metric: METRIC.to_owned(),
            higher_is_better: true,
            param_bounds: self.bounds.clone(),
        }
    }

    /// The hyperparameters in `parameters`: every name present, a finite number inside its
    /// bounds. Other keys (the weights too) are ignored.
    pub fn read(&self, parameters: &Map) -> Result<Hyperparameters, PluginError> {
        let get = |name: &str| self.get(parameters, name);
        Ok(Hyperparameters {
            log10_alpha: get(LOG10_ALPHA)?,
            degree: if get(DEGREE)? < 1.5 { 1 } else { 2 },
            clip: get(CLIP)?,
        })
    }

    /// The measurements' weights in `parameters` with [`FEATURE_SELECTION`] (each present,
    /// a finite number inside its bounds), `None` without it.
    pub fn weights(&self, parameters: &Map) -> Result<Option<[f64; N_FEATURES]>, PluginError> {
        if !self.feature_selection {
            return Ok(None);
        }
        let mut w = [0.0; N_FEATURES];
        for (j, wj) in w.iter_mut().enumerate() {
            *wj = self.get(parameters, &weight_name(j))?;
        }
        Ok(Some(w))
    }

    /// The data the model of `parameters` is trained on: `data` itself, or with
    /// [`FEATURE_SELECTION`] its z-scores multiplied by the weights (and the standard
    /// deviations divided by them, so that inference scales a client's wines alike).
    pub fn data<'a>(
        &self,
        data: &'a WineData,
        parameters: &Map,
    ) -> Result<Cow<'a, WineData>, PluginError> {
        let Some(w) = self.weights(parameters)? else {
            return Ok(Cow::Borrowed(data));
        };
        let mut d = data.clone();
        for row in d.z.chunks_mut(N_FEATURES) {
            for (v, wj) in row.iter_mut().zip(&w) {
                *v *= wj;
            }
        }
        for (s, wj) in d.sd.iter_mut().zip(&w) {
            *s /= wj;
        }
        Ok(Cow::Owned(d))
    }

    /// The validated hyperparameters (and weights) of `parameters`, in the form
    /// [`Hyperparameters::to_parameters`] gives, with the weights added.
    pub fn normalized(&self, parameters: &Map) -> Result<Map, PluginError> {
        let mut out = self.read(parameters)?.to_parameters();
        if let Some(w) = self.weights(parameters)? {
            for (j, wj) in w.iter().enumerate() {
                out.insert(weight_name(j), Value::Float(*wj));
            }
        }
        Ok(out)
    }

    /// `neg_cv_mse` of the model of `parameters` (validated) on `data` in the folds
    /// `fold_of`.
    pub fn score(
        &self,
        data: &WineData,
        parameters: &Map,
        fold_of: &[usize],
        folds: usize,
    ) -> Result<f64, PluginError> {
        let h = self.read(parameters)?;
        let data = self.data(data, parameters)?;
        neg_cv_mse(&data, &h, fold_of, folds)
    }

    fn get(&self, parameters: &Map, name: &str) -> Result<f64, PluginError> {
        {
            let bound = self.bounds.get(name).copied().unwrap_or(ParamBound {
                low: f64::NEG_INFINITY,
                high: f64::INFINITY,
            });
            match parameters.get(name).and_then(Value::as_f64) {
                Some(v) if v.is_finite() && bound.contains(v) => Ok(v),
                _ => Err(PluginError::InvalidParameters(format!(
                    "`{name}` must be a finite number in [{}, {}]",
                    bound.low, bound.high
                ))),
            }
        }
    }
}

/// The number of features (intercept included) of a degree.
pub fn n_features(degree: u8) -> usize {
    let p = N_FEATURES;
    if degree >= 2 {
        1 + p + p * (p + 1) / 2
    } else {
        1 + p
    }
}

/// The feature row of one wine: 1, the clipped z-scores, and for degree 2 their products
/// `z_a z_b` for `a <= b` in row-major order.
pub(super) fn features(z: &[f64], h: &Hyperparameters, out: &mut Vec<f64>) {
    out.clear();
    out.push(1.0);
    out.extend(z.iter().map(|v| v.clamp(-h.clip, h.clip)));
    if h.degree >= 2 {
        for a in 0..N_FEATURES {
            for b in a..N_FEATURES {
                out.push(out[1 + a] * out[1 + b]);
            }
        }
    }
}

/// Minus the mean squared error of `k`-fold cross-validated ridge predictions: wine `i` is
/// predicted by the model fitted on every wine outside its fold `fold_of[i]` (folds
/// `0..folds`, each non-empty).
pub fn neg_cv_mse(
    data: &WineData,
    h: &Hyperparameters,
    fold_of: &[usize],
    folds: usize,
) -> Result<f64, PluginError> {
    if fold_of.len() != data.len() || fold_of.iter().any(|f| *f >= folds) {
        return Err(PluginError::InvalidData(format!(
            "expected a fold in 0..{folds} for each of the {} wines",
            data.len()
        )));
    }
    let p = n_features(h.degree);
    let mut rows = Vec::with_capacity(data.len() * p);
    let mut row = Vec::with_capacity(p);
    // Per fold: the upper triangle of X'X, X'y and the fold's size.
    let mut gram = vec![vec![0.0; p * p]; folds];
    let mut xty = vec![vec![0.0; p]; folds];
    let mut size = vec![0usize; folds];
    for (i, fold) in fold_of.iter().enumerate() {
        features(data.row(i), h, &mut row);
        let (g, b) = (&mut gram[*fold], &mut xty[*fold]);
        for a in 0..p {
            let ra = row[a];
            b[a] += ra * data.quality[i];
            let g_row = &mut g[a * p..(a + 1) * p];
            for (gab, rb) in g_row[a..].iter_mut().zip(&row[a..]) {
                *gab += ra * rb;
            }
        }
        size[*fold] += 1;
        rows.extend_from_slice(&row);
    }
    if let Some(empty) = size.iter().position(|s| *s == 0) {
        return Err(PluginError::InvalidData(format!(
            "fold {empty} holds no wine"
        )));
    }
    let total_g: Vec<f64> = (0..p * p)
        .map(|k| gram.iter().map(|g| g[k]).sum())
        .collect();
    let total_b: Vec<f64> = (0..p).map(|k| xty.iter().map(|b| b[k]).sum()).collect();
    let alpha = 10f64.powf(h.log10_alpha);
    let mut coefficients = vec![vec![0.0; p]; folds];
    for k in 0..folds {
        let n_train = (data.len() - size[k]) as f64;
        let mut a: Vec<f64> = total_g.iter().zip(&gram[k]).map(|(t, g)| t - g).collect();
        for j in 1..p {
            a[j * p + j] += alpha * n_train;
        }
        let b: Vec<f64> = total_b.iter().zip(&xty[k]).map(|(t, x)| t - x).collect();
        coefficients[k] = solve_spd(&mut a, b, p).ok_or_else(|| {
            PluginError::InvalidParameters(format!(
                "the ridge system of fold {k} is singular at {LOG10_ALPHA} = {}",
                h.log10_alpha
            ))
        })?;
    }
    let sse: f64 = fold_of
        .iter()
        .enumerate()
        .map(|(i, fold)| {
            let x = &rows[i * p..(i + 1) * p];
            let prediction: f64 = x.iter().zip(&coefficients[*fold]).map(|(a, b)| a * b).sum();
            (prediction.clamp(QUALITY_LOW, QUALITY_HIGH) - data.quality[i]).powi(2)
        })
        .sum();
    Ok(-sse / data.len() as f64)
}

/// Solves `A x = b` for a symmetric positive definite `A` given by its upper triangle
/// (row-major `p x p`, overwritten) by Cholesky decomposition; `None` if `A` is not
/// positive definite.
pub(super) fn solve_spd(a: &mut [f64], mut b: Vec<f64>, p: usize) -> Option<Vec<f64>> {
    // A = U'U with U upper triangular, stored in place.
    for i in 0..p {
        let mut d = a[i * p + i];
        for k in 0..i {
            d -= a[k * p + i] * a[k * p + i];
        }
        if d.is_nan() || d <= 0.0 {
            return None;
        }
        let d = d.sqrt();
        a[i * p + i] = d;
        for j in i + 1..p {
            let mut s = a[i * p + j];
            for k in 0..i {
                s -= a[k * p + i] * a[k * p + j];
            }
            a[i * p + j] = s / d;
        }
    }
    // U'y = b, then U x = y.
    for i in 0..p {
        let mut s = b[i];
        for k in 0..i {
            s -= a[k * p + i] * b[k];
        }
        b[i] = s / a[i * p + i];
    }
    for i in (0..p).rev() {
        let mut s = b[i];
        for k in i + 1..p {
            s -= a[i * p + k] * b[k];
        }
        b[i] = s / a[i * p + i];
    }
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wine::dataset::wine_data;
    use doin_primitives::map;

    fn folds_mod(n: usize, k: usize) -> Vec<usize> {
        (0..n).map(|i| i % k).collect()
    }

    #[test]
    fn cholesky_solves_a_small_system() {
        // A = [[4, 2], [2, 3]], b = [2, 1] -> x = [0.5, 0].
        let mut a = vec![4.0, 2.0, 0.0, 3.0];
        let x = solve_spd(&mut a, vec![2.0, 1.0], 2).unwrap();
        assert!((x[0] - 0.5).abs() < 1e-12 && x[1].abs() < 1e-12, "{x:?}");
        let mut singular = vec![1.0, 1.0, 0.0, 1.0];
        assert!(solve_spd(&mut singular, vec![1.0, 1.0], 2).is_none());
    }

    #[test]
    fn a_tuned_model_beats_the_mean_and_an_overshrunk_one() {
        let d = wine_data();
        let folds = folds_mod(d.len(), 5);
        let score = |log10_alpha, degree, clip| {
            let h = Hyperparameters {
                log10_alpha,
                degree,
                clip,
            };
            neg_cv_mse(d, &h, &folds, 5).unwrap()
        };
        let shrunk = score(2.0, 1, 10.0);
        let linear = score(-3.0, 1, 10.0);
        let tuned = score(-1.5, 2, 3.0);
        assert!(shrunk < -0.6, "{shrunk}");
        assert!(linear > -0.45 && linear < -0.40, "{linear}");
        assert!(tuned > linear, "{tuned} vs {linear}");
    }

    #[test]
    fn parameters_round_trip_and_bad_ones_are_refused() {
        let space = SearchSpace::from_config(&Map::new()).unwrap();
        let h = Hyperparameters {
            log10_alpha: -2.5,
            degree: 2,
            clip: 3.0,
        };
        assert_eq!(space.read(&h.to_parameters()).unwrap(), h);
        let rounded = map! { "log10_alpha" => -2.5, "degree" => 1.4, "clip" => 3.0 };
        assert_eq!(space.read(&rounded).unwrap().degree, 1);
        for bad in [
            map! { "log10_alpha" => -2.5, "degree" => 2i64 },
            map! { "log10_alpha" => 5.0, "degree" => 2i64, "clip" => 3.0 },
            map! { "log10_alpha" => "x", "degree" => 2i64, "clip" => 3.0 },
        ] {
            assert!(matches!(
                space.read(&bad),
                Err(PluginError::InvalidParameters(_))
            ));
        }
    }

    #[test]
    fn param_bounds_may_narrow_but_not_widen_the_limits() {
        let narrow = map! { "param_bounds" => map! { "clip" => vec![Value::Float(1.0), Value::Float(4.0)] } };
        let space = SearchSpace::from_config(&narrow).unwrap();
        assert_eq!(
            space.bounds[CLIP],
            ParamBound {
                low: 1.0,
                high: 4.0
            }
        );
        assert_eq!(space.metadata().param_bounds.len(), 3);
        let wide = map! { "param_bounds" => map! { "degree" => vec![Value::Float(1.0), Value::Float(3.0)] } };
        let other =
            map! { "param_bounds" => map! { "x" => vec![Value::Float(1.0), Value::Float(3.0)] } };
        for cfg in [wide, other] {
            assert!(matches!(
                SearchSpace::from_config(&cfg),
                Err(PluginError::Config { .. })
            ));
        }
    }

    #[test]
    fn folds_must_cover_every_wine_and_be_non_empty() {
        let d = wine_data();
        let h = Hyperparameters {
            log10_alpha: -2.0,
            degree: 1,
            clip: 5.0,
        };
        assert!(neg_cv_mse(d, &h, &folds_mod(d.len() - 1, 5), 5).is_err());
        assert!(neg_cv_mse(d, &h, &folds_mod(d.len(), 5), 4).is_err());
        assert!(neg_cv_mse(d, &h, &folds_mod(d.len(), 5), 6).is_err());
    }
}
