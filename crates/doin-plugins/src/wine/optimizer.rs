//! The wine domain's optimizer: a (1+1) evolution strategy with the 1/5 success rule over
//! the hyperparameter box, scoring each trial by cross-validation on its own folds.

use doin_primitives::{Map, Value};

use super::dataset::wine_data;
use super::dataset::N_FEATURES;
use super::model::{weight_name, SearchSpace, CLIP, DEGREE, LOG10_ALPHA};
use super::synthetic::{configured_folds, fold_assignment};
use crate::config::{optional_f64, optional_u64};
use crate::error::PluginError;
use crate::plugin::{Candidate, DomainMetadata, Optimizer};
use crate::seeded::SeededStream;

/// `step_size` when not configured: σ as a fraction of each parameter's range.
pub const DEFAULT_STEP_SIZE: f64 = 0.2;
/// Trials per [`Optimizer::step`] (each is one cross-validated fit).
pub const TRIALS_PER_STEP: usize = 2;
/// σ grows by this factor after a success and shrinks by its fourth root after a failure.
const SUCCESS_FACTOR: f64 = 1.5;
/// The parameters in the order of the search vector.
const ORDER: [&str; 3] = [LOG10_ALPHA, DEGREE, CLIP];
/// Where [`DEGREE`] sits in the search vector.
const DEGREE_INDEX: usize = 1;
/// The share of trials that switch the degree (1 ↔ 2) on top of the Gaussian step.
pub const DEGREE_SWITCH: f64 = 0.2;

/// Searches the box of [`SearchSpace`] in coordinates scaled to `[0, 1]`.
///
/// Each trial draws `u' = clamp(u + σ·N(0, I), 0, 1)` around the best point, switches the
/// degree in a share [`DEGREE_SWITCH`] of trials, and keeps `u'` when it scores better; σ starts at `step_size` and adapts by the 1/5 success rule
/// between 10^-4 and 1. It scores on the folds of [`fold_assignment`] for the config's
/// `seed` (default 0), the same for every node, and draws from
/// `SeededStream("doin/wine_quality/optimizer/{seed}/{rng_seed}")`.
#[derive(Debug, Clone)]
pub struct WineOptimizer {
    search: SearchBox,
    rng: SeededStream,
    sigma: f64,
    best: Option<(Vec<f64>, f64)>,
}

/// The search space in coordinates scaled to `[0, 1]`, and the folds an optimizer scores
/// on: what every wine optimizer shares.
#[derive(Debug, Clone)]
pub(super) struct SearchBox {
    space: SearchSpace,
    /// The parameters in the order of the search vector: [`ORDER`], then with
    /// feature selection the weights.
    order: Vec<String>,
    folds: usize,
    fold_of: Vec<usize>,
}

impl SearchBox {
    /// The box of the config's `param_bounds`, `feature_selection` and `folds`, scored on
    /// the folds of [`fold_assignment`] for the config's `seed` (default 0), the same for
    /// every node.
    pub(super) fn new(config: &Map) -> Result<Self, PluginError> {
        let space = SearchSpace::from_config(config)?;
        let folds = configured_folds(config)?;
        let seed = optional_u64(config, "seed")?.unwrap_or(0);
        let mut order: Vec<String> = ORDER.iter().map(|n| (*n).to_owned()).collect();
        if space.feature_selection {
            order.extend((0..N_FEATURES).map(weight_name));
        }
        Ok(SearchBox {
            order,
            fold_of: fold_assignment(seed, wine_data().len(), folds),
            space,
            folds,
        })
    }

    /// Dimensions of the search vector.
    pub(super) fn dims(&self) -> usize {
        self.order.len()
    }

    /// The domain's metadata.
    pub(super) fn metadata(&self) -> DomainMetadata {
        self.space.metadata()
    }

    /// The parameters at scaled point `u`.
    pub(super) fn parameters(&self, u: &[f64]) -> Result<Map, PluginError> {
        let mut m = Map::new();
        for (name, ui) in self.order.iter().zip(u) {
            let b = self.space.bounds[name];
            m.insert(name.clone(), (b.low + (b.high - b.low) * ui).into());
        }
        self.space.normalized(&m)
    }

    /// `parameters` (validated) in the scaled coordinates of the search vector.
    pub(super) fn scaled(&self, parameters: &Map) -> Result<Vec<f64>, PluginError> {
        let p = self.space.normalized(parameters)?;
        Ok(self
            .order
            .iter()
            .map(|name| {
                let v = p.get(name).and_then(Value::as_f64).unwrap_or(0.0);
                let b = self.space.bounds[name];
                if b.high > b.low {
                    ((v - b.low) / (b.high - b.low)).clamp(0.0, 1.0)
                } else {
                    0.0
                }
            })
            .collect())
    }

    /// The score of scaled point `u` on this box's folds.
    pub(super) fn score(&self, u: &[f64]) -> Result<f64, PluginError> {
        let p = self.parameters(u)?;
        self.space.score(wine_data(), &p, &self.fold_of, self.folds)
    }
}

impl WineOptimizer {
    /// Builds the optimizer from the domain's `optimization_config` (`param_bounds`,
    /// `folds`, `seed`, `step_size`) and a node-specific `rng_seed`.
    pub fn new(config: &Map, rng_seed: u64) -> Result<Self, PluginError> {
        let search = SearchBox::new(config)?;
        let sigma = optional_f64(config, "step_size")?.unwrap_or(DEFAULT_STEP_SIZE);
        if !(sigma > 0.0 && sigma <= 1.0) {
            return Err(PluginError::config(
                "step_size",
                format!("expected a fraction of the range in (0, 1], got {sigma}"),
            ));
        }
        let seed = optional_u64(config, "seed")?.unwrap_or(0);
        Ok(WineOptimizer {
            search,
            rng: SeededStream::new(format!("doin/wine_quality/optimizer/{seed}/{rng_seed}")),
            sigma,
            best: None,
        })
    }

    fn consider(&mut self, u: Vec<f64>) -> Result<bool, PluginError> {
        let perf = self.search.score(&u)?;
        let better = self.best.as_ref().is_none_or(|(_, best)| perf > *best);
        if better {
            self.best = Some((u, perf));
        }
        Ok(better)
    }
}

impl Optimizer for WineOptimizer {
    fn metadata(&self) -> DomainMetadata {
        self.search.metadata()
    }

    fn step(&mut self, current_best: Option<&Candidate>) -> Result<Candidate, PluginError> {
        if let Some(c) = current_best {
            // Re-measured on this optimizer's folds: a peer's report is never trusted.
            let u = self.search.scaled(&c.parameters)?;
            self.consider(u)?;
        }
        if self.best.is_none() {
            let start = (0..self.search.dims())
                .map(|_| self.rng.next_unit())
                .collect();
            self.consider(start)?;
        }
        for _ in 0..TRIALS_PER_STEP {
            let Some((u, _)) = &self.best else { break };
            let sigma = self.sigma;
            let mut trial: Vec<f64> = u
                .clone()
                .into_iter()
                .map(|ui| (ui + sigma * self.rng.next_normal()).clamp(0.0, 1.0))
                .collect();
            // The degree is discrete: once σ has shrunk, no Gaussian step crosses to the
            // other degree, so some trials switch it outright.
            if self.rng.next_unit() < DEGREE_SWITCH {
                trial[DEGREE_INDEX] = if trial[DEGREE_INDEX] < 0.5 {
                    0.75
                } else {
                    0.25
                };
            }
            let success = self.consider(trial)?;
            let factor = if success {
                SUCCESS_FACTOR
            } else {
                SUCCESS_FACTOR.powf(-0.25)
            };
            self.sigma = (self.sigma * factor).clamp(1e-4, 1.0);
        }
        let (u, performance) = self
            .best
            .clone()
            .ok_or_else(|| PluginError::InvalidParameters("no starting point".into()))?;
        Ok(Candidate {
            parameters: self.search.parameters(&u)?,
            performance,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wine::model::Hyperparameters;

    #[test]
    fn same_seeds_same_steps_and_performance_never_drops() {
        let run = |rng_seed| {
            let mut opt = WineOptimizer::new(&Map::new(), rng_seed).unwrap();
            (0..4).map(|_| opt.step(None).unwrap()).collect::<Vec<_>>()
        };
        let a = run(1);
        assert_eq!(a, run(1));
        assert_ne!(a, run(2));
        assert!(a.windows(2).all(|w| w[1].performance >= w[0].performance));
    }

    #[test]
    fn tiny_steps_still_reach_the_other_degree() {
        let cfg = doin_primitives::map! { "step_size" => 0.001 };
        let mut opt = WineOptimizer::new(&cfg, 4).unwrap();
        let linear = Hyperparameters {
            log10_alpha: -1.0,
            degree: 1,
            clip: 2.0,
        };
        let migrant = Candidate {
            parameters: linear.to_parameters(),
            performance: -1.0,
        };
        let mut best = opt.step(Some(&migrant)).unwrap();
        for _ in 0..15 {
            best = opt.step(None).unwrap();
        }
        let space = SearchSpace::from_config(&cfg).unwrap();
        assert_eq!(space.read(&best.parameters).unwrap().degree, 2);
    }

    #[test]
    fn a_better_migrant_is_adopted_and_re_measured() {
        adopts_a_better_migrant_re_measured(&mut WineOptimizer::new(&Map::new(), 5).unwrap());
    }

    /// After a step of its own, `opt` steps from a better migrant that claims a perfect
    /// 0.0: it does no worse, and scores the migrant by its own measurement.
    pub(crate) fn adopts_a_better_migrant_re_measured(opt: &mut dyn Optimizer) {
        let own = opt.step(None).unwrap();
        let migrant = Hyperparameters {
            log10_alpha: -1.5,
            degree: 2,
            clip: 3.0,
        };
        let next = opt
            .step(Some(&Candidate {
                parameters: migrant.to_parameters(),
                performance: 0.0,
            }))
            .unwrap();
        assert!(next.performance >= own.performance);
        // The claimed 0.0 was not believed: the score is this optimizer's measurement.
        assert!(next.performance < -0.3, "{}", next.performance);
    }
}

#[cfg(test)]
mod feature_selection_tests {
    use super::*;
    use crate::wine::model::{Hyperparameters, FEATURE_SELECTION};

    #[test]
    fn the_larger_space_adds_a_weight_per_measurement() {
        let off = WineOptimizer::new(&Map::new(), 1)
            .unwrap()
            .step(None)
            .unwrap();
        assert_eq!(off.parameters.len(), 3);
        let cfg = doin_primitives::map! { FEATURE_SELECTION => true, "seed" => 7i64 };
        let run = |rng_seed| {
            let mut opt = WineOptimizer::new(&cfg, rng_seed).unwrap();
            (0..4).map(|_| opt.step(None).unwrap()).collect::<Vec<_>>()
        };
        let a = run(3);
        assert_eq!(a, run(3));
        assert_eq!(a[0].parameters.len(), 3 + N_FEATURES);
        assert!(a.windows(2).all(|w| w[1].performance >= w[0].performance));
        // A migrant is re-measured in the larger space too.
        let mut opt = WineOptimizer::new(&cfg, 4).unwrap();
        let next = opt
            .step(Some(&Candidate {
                parameters: a[3].parameters.clone(),
                performance: 0.0,
            }))
            .unwrap();
        assert!(next.performance >= a[3].performance - 0.02 && next.performance < -0.3);
        // Without its weights a point of the larger space is refused.
        let mut opt = WineOptimizer::new(&cfg, 4).unwrap();
        let h = Hyperparameters {
            log10_alpha: -1.0,
            degree: 1,
            clip: 2.0,
        };
        assert!(opt
            .step(Some(&Candidate {
                parameters: h.to_parameters(),
                performance: 0.0,
            }))
            .is_err());
    }
}
