//! Inference for the wine domain: the ridge model with the chain's best hyperparameters,
//! trained on every wine of the data set, predicting the quality of a client's wines.

use doin_primitives::{Map, Value};

use super::dataset::{WineData, FEATURE_NAMES, N_FEATURES};
use super::evaluator::WineEvaluator;
use super::model::{features, n_features, solve_spd, Hyperparameters, QUALITY_HIGH, QUALITY_LOW};
use crate::error::PluginError;

/// Most wines one request may ask about.
pub const MAX_WINES: usize = 1000;

/// A ridge model fitted on the whole data set.
#[derive(Debug, Clone, PartialEq)]
pub struct RidgeModel {
    /// The hyperparameters it was fitted with.
    pub hyperparameters: Hyperparameters,
    coefficients: Vec<f64>,
    mean: [f64; N_FEATURES],
    sd: [f64; N_FEATURES],
    trained_on: usize,
}

impl RidgeModel {
    /// Fits the model of `h` on every wine of `data`: the penalty is `alpha * n` on the
    /// squared coefficients, as each fold's fit in cross-validation uses `alpha * n_train`.
    pub fn fit(data: &WineData, h: &Hyperparameters) -> Result<Self, PluginError> {
        let p = n_features(h.degree);
        let mut gram = vec![0.0; p * p];
        let mut xty = vec![0.0; p];
        let mut row = Vec::with_capacity(p);
        for i in 0..data.len() {
            features(data.row(i), h, &mut row);
            for a in 0..p {
                xty[a] += row[a] * data.quality[i];
                for b in a..p {
                    gram[a * p + b] += row[a] * row[b];
                }
            }
        }
        let alpha = 10f64.powf(h.log10_alpha);
        for j in 1..p {
            gram[j * p + j] += alpha * data.len() as f64;
        }
        let coefficients = solve_spd(&mut gram, xty, p)
            .ok_or_else(|| PluginError::InvalidParameters("the ridge system is singular".into()))?;
        Ok(RidgeModel {
            hyperparameters: *h,
            coefficients,
            mean: data.mean,
            sd: data.sd,
            trained_on: data.len(),
        })
    }

    /// The predicted quality of a wine given by its measurements in the data set's units,
    /// clipped to the data set's range of scores.
    pub fn predict(&self, measurements: &[f64; N_FEATURES]) -> f64 {
        let z: Vec<f64> = measurements
            .iter()
            .zip(self.mean.iter().zip(&self.sd))
            .map(|(v, (m, s))| (v - m) / s)
            .collect();
        let mut row = Vec::with_capacity(self.coefficients.len());
        features(&z, &self.hyperparameters, &mut row);
        let q: f64 = row.iter().zip(&self.coefficients).map(|(a, b)| a * b).sum();
        q.clamp(QUALITY_LOW, QUALITY_HIGH)
    }

    /// How many wines it was trained on.
    pub fn trained_on(&self) -> usize {
        self.trained_on
    }
}

/// The wines of an inference input: `{"wine": W}` or `{"wines": [W, …]}`, a wine being an
/// object of the 11 measurements by name or an array of them in [`FEATURE_NAMES`] order.
pub fn read_wines(input: &Value) -> Result<Vec<[f64; N_FEATURES]>, PluginError> {
    let bad = |reason: String| PluginError::InvalidInput(reason);
    let usage = "expected {\"wine\": W} or {\"wines\": [W, ...]}, W an object of the 11 \
                 measurements by name or an array of 11 numbers";
    let Value::Object(m) = input else {
        return Err(bad(usage.to_owned()));
    };
    if let Some(extra) = m.keys().find(|k| *k != "wine" && *k != "wines") {
        return Err(bad(format!("unknown key `{extra}`: {usage}")));
    }
    match (m.get("wine"), m.get("wines")) {
        (Some(w), None) => Ok(vec![read_wine(w, "wine")?]),
        (None, Some(Value::Array(ws))) if !ws.is_empty() && ws.len() <= MAX_WINES => ws
            .iter()
            .enumerate()
            .map(|(i, w)| read_wine(w, &format!("wines[{i}]")))
            .collect(),
        (None, Some(Value::Array(ws))) => Err(bad(format!(
            "`wines` holds {} wines; 1 to {MAX_WINES} allowed",
            ws.len()
        ))),
        _ => Err(bad(usage.to_owned())),
    }
}

fn read_wine(w: &Value, path: &str) -> Result<[f64; N_FEATURES], PluginError> {
    let bad = |reason: String| PluginError::InvalidInput(format!("{path}: {reason}"));
    let number = |v: &Value, name: &str| match v.as_f64() {
        Some(f) if f.is_finite() => Ok(f),
        _ => Err(bad(format!("`{name}` must be a finite number"))),
    };
    let mut out = [0.0; N_FEATURES];
    match w {
        Value::Array(items) if items.len() == N_FEATURES => {
            for (j, v) in items.iter().enumerate() {
                out[j] = number(v, FEATURE_NAMES[j])?;
            }
        }
        Value::Array(items) => {
            return Err(bad(format!(
                "{} numbers; a wine has {N_FEATURES} ({})",
                items.len(),
                FEATURE_NAMES.join(", ")
            )))
        }
        Value::Object(named) => {
            let mut seen = [false; N_FEATURES];
            for (key, v) in named {
                let name = key.replace(' ', "_");
                let j = FEATURE_NAMES
                    .iter()
                    .position(|f| *f == name)
                    .ok_or_else(|| {
                        bad(format!(
                            "unknown measurement `{key}`; the measurements are {}",
                            FEATURE_NAMES.join(", ")
                        ))
                    })?;
                if seen[j] {
                    return Err(bad(format!("`{name}` is given twice")));
                }
                seen[j] = true;
                out[j] = number(v, &name)?;
            }
            let missing: Vec<&str> = (0..N_FEATURES)
                .filter(|j| !seen[*j])
                .map(|j| FEATURE_NAMES[j])
                .collect();
            if !missing.is_empty() {
                return Err(bad(format!("missing {}", missing.join(", "))));
            }
        }
        other => {
            return Err(bad(format!(
                "a wine is an object or an array of {N_FEATURES} numbers, got {}",
                other.type_name()
            )))
        }
    }
    Ok(out)
}

impl WineEvaluator {
    /// The inference answer: `{"predictions": [...], "model": {...}}` (see
    /// [`crate::inference`]), from the model of `h` trained on `data` (the data set, or
    /// with feature selection its weighted z-scores); `described` is the answer's `model`.
    pub(super) fn predict(
        &mut self,
        data: &WineData,
        h: &Hyperparameters,
        mut described: Map,
        input: &Value,
    ) -> Result<Value, PluginError> {
        let wines = read_wines(input)?;
        let model = match self.model.take() {
            Some(m) if m.hyperparameters == *h && m.sd == data.sd => m,
            _ => RidgeModel::fit(data, h)?,
        };
        let model = self.model.insert(model);
        let predictions = wines
            .iter()
            .map(|w| Value::Float(model.predict(w)))
            .collect();
        described.insert("trained_on".into(), Value::Int(model.trained_on() as i64));
        let mut out = Map::new();
        out.insert("predictions".into(), Value::Array(predictions));
        out.insert("model".into(), Value::Object(described));
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wine::dataset::wine_data;
    use doin_primitives::map;

    fn tuned() -> Hyperparameters {
        Hyperparameters {
            log10_alpha: -1.5,
            degree: 2,
            clip: 3.0,
        }
    }

    /// Wine `i`'s measurements in the data set's units.
    fn raw(i: usize) -> [f64; N_FEATURES] {
        let d = wine_data();
        let mut out = [0.0; N_FEATURES];
        for (j, o) in out.iter_mut().enumerate() {
            *o = d.row(i)[j] * d.sd[j] + d.mean[j];
        }
        out
    }

    #[test]
    fn the_fitted_model_predicts_the_data_set_better_than_its_mean() {
        let d = wine_data();
        let model = RidgeModel::fit(d, &tuned()).unwrap();
        let mean = d.quality.iter().sum::<f64>() / d.len() as f64;
        let (mut sse, mut sst) = (0.0, 0.0);
        for i in 0..d.len() {
            let q = model.predict(&raw(i));
            assert!((3.0..=8.0).contains(&q));
            sse += (q - d.quality[i]).powi(2);
            sst += (mean - d.quality[i]).powi(2);
        }
        // Training error is below the cross-validated error of a tuned model (~0.41).
        assert!(sse / (d.len() as f64) < 0.41, "{}", sse / d.len() as f64);
        assert!(sse < 0.7 * sst);
        // A heavier penalty moves predictions toward the mean.
        let shrunk = RidgeModel::fit(
            d,
            &Hyperparameters {
                log10_alpha: 2.0,
                ..tuned()
            },
        )
        .unwrap();
        assert!((shrunk.predict(&raw(0)) - mean).abs() < (model.predict(&raw(0)) - mean).abs());
    }

    #[test]
    fn the_kept_model_answers_as_a_fresh_fit_and_follows_a_new_best() {
        use crate::Evaluator;
        let input = Value::Object(
            map! { "wine" => raw(5).iter().map(|f| Value::Float(*f)).collect::<Vec<_>>() },
        );
        let shrunk = Hyperparameters {
            log10_alpha: 1.0,
            ..tuned()
        };
        let fresh = |h: &Hyperparameters| {
            WineEvaluator::new(&Map::new())
                .unwrap()
                .infer(&h.to_parameters(), &input)
                .unwrap()
        };
        let mut ev = WineEvaluator::new(&Map::new()).unwrap();
        for h in [tuned(), tuned(), shrunk, tuned()] {
            assert_eq!(ev.infer(&h.to_parameters(), &input).unwrap(), fresh(&h));
        }
        assert_ne!(fresh(&tuned()), fresh(&shrunk));
    }

    #[test]
    fn wines_by_name_or_by_array_are_the_same_wine() {
        let w = raw(3);
        let by_array = Value::Array(w.iter().map(|f| Value::Float(*f)).collect());
        let mut named = Map::new();
        for (j, name) in FEATURE_NAMES.iter().enumerate() {
            // The data set's own spelling, with spaces, is accepted too.
            named.insert(name.replace('_', " "), Value::Float(w[j]));
        }
        let input = Value::Object(map! { "wines" => vec![by_array, Value::Object(named)] });
        let wines = read_wines(&input).unwrap();
        assert_eq!(wines, vec![w, w]);
    }

    #[test]
    fn missing_extra_and_non_finite_measurements_are_refused_with_the_reason() {
        let w = raw(0);
        let full: Map = FEATURE_NAMES
            .iter()
            .zip(w)
            .map(|(n, f)| ((*n).to_owned(), Value::Float(f)))
            .collect();
        let refuse = |input: Value, needle: &str| match read_wines(&input) {
            Err(PluginError::InvalidInput(reason)) => {
                assert!(reason.contains(needle), "{reason} lacks {needle}")
            }
            other => panic!("{input:?}: {other:?}"),
        };
        let mut missing = full.clone();
        missing.shift_remove("alcohol");
        refuse(map! { "wine" => missing }.into(), "missing alcohol");
        let mut extra = full.clone();
        extra.insert("colour".into(), Value::Float(1.0));
        refuse(
            map! { "wine" => extra }.into(),
            "unknown measurement `colour`",
        );
        let mut nan = full.clone();
        nan.insert("pH".into(), Value::Float(f64::NAN));
        refuse(
            map! { "wine" => nan }.into(),
            "`pH` must be a finite number",
        );
        refuse(
            map! { "wine" => vec![Value::Float(1.0)] }.into(),
            "a wine has 11",
        );
        refuse(map! { "wines" => Vec::<Value>::new() }.into(), "1 to 1000");
        refuse(map! { "bottle" => 1i64 }.into(), "unknown key `bottle`");
        refuse(Value::Null, "expected");
        assert_eq!(
            read_wines(&map! { "wine" => full }.into()).unwrap(),
            vec![w]
        );
    }
}
