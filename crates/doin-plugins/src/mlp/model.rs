//! The hyperparameters the domain optimizes, their bounds and how parameters are read.

use std::collections::BTreeMap;

use doin_primitives::{Map, Value};

use crate::config::optional_bounds;
use crate::error::PluginError;
use crate::plugin::{DomainMetadata, ParamBound};

/// The metric: minus the mean squared error of the cross-validated predictions of every
/// wine's quality (higher is better; predicting the mean scores about -0.65).
pub const METRIC: &str = "neg_cv_mse";
/// Width of the hidden layer (rounded to the nearest integer).
pub const HIDDEN: &str = "hidden";
/// Adam's learning rate is `10^log10_learning_rate`.
pub const LOG10_LEARNING_RATE: &str = "log10_learning_rate";
/// AdamW's decoupled weight decay is `10^log10_weight_decay`.
pub const LOG10_WEIGHT_DECAY: &str = "log10_weight_decay";
/// Full-batch training steps (rounded to the nearest integer).
pub const STEPS: &str = "steps";

/// The widest bounds of each hyperparameter; a config's `param_bounds` may narrow them.
/// They also bound the work one evaluation may ask for: at most 32 hidden units trained
/// for 200 steps on each fold.
pub const LIMITS: [(&str, ParamBound); 4] = [
    (
        HIDDEN,
        ParamBound {
            low: 2.0,
            high: 32.0,
        },
    ),
    (
        LOG10_LEARNING_RATE,
        ParamBound {
            low: -4.0,
            high: -0.5,
        },
    ),
    (
        LOG10_WEIGHT_DECAY,
        ParamBound {
            low: -6.0,
            high: 0.0,
        },
    ),
    (
        STEPS,
        ParamBound {
            low: 10.0,
            high: 200.0,
        },
    ),
];

/// One point of the search space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hyperparameters {
    /// Hidden units.
    pub hidden: usize,
    /// `log10` of the learning rate.
    pub log10_learning_rate: f64,
    /// `log10` of the weight decay.
    pub log10_weight_decay: f64,
    /// Training steps.
    pub steps: usize,
}

impl Hyperparameters {
    /// The parameters object: `{"hidden": n, "log10_learning_rate": f,
    /// "log10_weight_decay": f, "steps": n}`.
    pub fn to_parameters(self) -> Map {
        let mut m = Map::new();
        m.insert(HIDDEN.into(), Value::Int(self.hidden as i64));
        m.insert(
            LOG10_LEARNING_RATE.into(),
            Value::Float(self.log10_learning_rate),
        );
        m.insert(
            LOG10_WEIGHT_DECAY.into(),
            Value::Float(self.log10_weight_decay),
        );
        m.insert(STEPS.into(), Value::Int(self.steps as i64));
        m
    }
}

/// The search space a domain config describes: each hyperparameter's bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchSpace {
    /// Bounds by parameter name (every name of [`LIMITS`]).
    pub bounds: BTreeMap<String, ParamBound>,
}

impl SearchSpace {
    /// Reads `param_bounds` (optional; each given range must lie inside [`LIMITS`]).
    pub fn from_config(config: &Map) -> Result<Self, PluginError> {
        let mut bounds: BTreeMap<String, ParamBound> =
            LIMITS.iter().map(|(k, b)| ((*k).to_owned(), *b)).collect();
        for (name, b) in optional_bounds(config, "param_bounds")?.unwrap_or_default() {
            let limit = bounds.get(&name).copied().ok_or_else(|| {
                PluginError::config(
                    format!("param_bounds.{name}"),
                    format!(
                        "the neural-network domain has only {HIDDEN}, {LOG10_LEARNING_RATE}, \
                         {LOG10_WEIGHT_DECAY} and {STEPS}"
                    ),
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
        Ok(SearchSpace { bounds })
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
    /// bounds (the counts rounded to the nearest integer). Other keys are ignored.
    pub fn read(&self, parameters: &Map) -> Result<Hyperparameters, PluginError> {
        let get = |name: &str| self.get(parameters, name);
        Ok(Hyperparameters {
            hidden: get(HIDDEN)?.round() as usize,
            log10_learning_rate: get(LOG10_LEARNING_RATE)?,
            log10_weight_decay: get(LOG10_WEIGHT_DECAY)?,
            steps: get(STEPS)?.round() as usize,
        })
    }

    /// `parameters` as this domain writes them: the counts as integers.
    pub fn normalized(&self, parameters: &Map) -> Result<Map, PluginError> {
        Ok(self.read(parameters)?.to_parameters())
    }

    fn get(&self, parameters: &Map, name: &str) -> Result<f64, PluginError> {
        let v = parameters
            .get(name)
            .and_then(Value::as_f64)
            .filter(|f| f.is_finite())
            .ok_or_else(|| {
                PluginError::InvalidParameters(format!("`{name}` must be a finite number"))
            })?;
        let b = self.bounds[name];
        if !b.contains(v) {
            return Err(PluginError::InvalidParameters(format!(
                "`{name}` = {v} leaves [{}, {}]",
                b.low, b.high
            )));
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::map;

    #[test]
    fn parameters_round_trip_and_are_checked_against_the_bounds() {
        let space = SearchSpace::from_config(&Map::new()).unwrap();
        let h = Hyperparameters {
            hidden: 12,
            log10_learning_rate: -2.0,
            log10_weight_decay: -4.0,
            steps: 150,
        };
        assert_eq!(space.read(&h.to_parameters()).unwrap(), h);
        let mut p = h.to_parameters();
        p.insert(HIDDEN.into(), Value::Float(11.6));
        assert_eq!(space.read(&p).unwrap().hidden, 12);
        p.insert(STEPS.into(), Value::Int(201));
        assert!(matches!(
            space.read(&p),
            Err(PluginError::InvalidParameters(r)) if r.contains("steps")
        ));
        p.shift_remove(STEPS);
        assert!(space.read(&p).is_err());
    }

    #[test]
    fn param_bounds_may_narrow_but_not_widen_the_limits() {
        let narrow =
            map! { "param_bounds" => map! { HIDDEN => vec![Value::Int(4), Value::Int(8)] } };
        let space = SearchSpace::from_config(&narrow).unwrap();
        assert_eq!(space.bounds[HIDDEN].high, 8.0);
        let wide =
            map! { "param_bounds" => map! { STEPS => vec![Value::Int(1), Value::Int(1000)] } };
        assert!(SearchSpace::from_config(&wide).is_err());
        let unknown =
            map! { "param_bounds" => map! { "depth" => vec![Value::Int(1), Value::Int(2)] } };
        assert!(SearchSpace::from_config(&unknown).is_err());
    }
}
