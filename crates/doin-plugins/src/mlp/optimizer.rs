//! The neural-network domain's optimizer: a (1+1) evolution strategy with the 1/5 success
//! rule over the hyperparameter box, scoring each trial by training the network on its
//! own folds.

use doin_primitives::{Map, Value};

use super::model::{SearchSpace, HIDDEN, LOG10_LEARNING_RATE, LOG10_WEIGHT_DECAY, STEPS};
use super::network::neg_cv_mse;
use super::synthetic::configured_folds;
use crate::config::{optional_f64, optional_u64};
use crate::error::PluginError;
use crate::plugin::{Candidate, DomainMetadata, Optimizer};
use crate::seeded::SeededStream;
use crate::wine::{fold_assignment, wine_data};

/// `step_size` when not configured: σ as a fraction of each parameter's range.
pub const DEFAULT_STEP_SIZE: f64 = 0.2;
/// σ grows by this factor after a success and shrinks by its fourth root after a failure.
const SUCCESS_FACTOR: f64 = 1.5;
/// The parameters in the order of the search vector.
const ORDER: [&str; 4] = [HIDDEN, LOG10_LEARNING_RATE, LOG10_WEIGHT_DECAY, STEPS];

/// Searches the box of [`SearchSpace`] in coordinates scaled to `[0, 1]`, one trial (one
/// cross-validated training of `folds` networks) per [`Optimizer::step`].
///
/// Each trial draws `u' = clamp(u + σ·N(0, I), 0, 1)` around the best point and keeps it
/// when it scores better; σ starts at `step_size` and adapts by the 1/5 success rule
/// between 10^-3 and 1. It scores on the folds of [`fold_assignment`] for the config's
/// `seed` (default 0) with networks initialised from that seed, the same for every node,
/// and draws its steps from `SeededStream("doin/wine_mlp/optimizer/{seed}/{rng_seed}")`.
#[derive(Debug, Clone)]
pub struct MlpOptimizer {
    space: SearchSpace,
    folds: usize,
    fold_of: Vec<usize>,
    seed: u64,
    rng: SeededStream,
    sigma: f64,
    best: Option<(Vec<f64>, f64)>,
    /// The parameters of the last `current_best` re-measured, so that a champion that
    /// stays the same is trained once, not in every step.
    measured: Option<Map>,
}

impl MlpOptimizer {
    /// Builds the optimizer from the domain's `optimization_config` (`param_bounds`,
    /// `folds`, `seed`, `step_size`) and a node-specific `rng_seed`.
    pub fn new(config: &Map, rng_seed: u64) -> Result<Self, PluginError> {
        let space = SearchSpace::from_config(config)?;
        let folds = configured_folds(config)?;
        let seed = optional_u64(config, "seed")?.unwrap_or(0);
        let sigma = optional_f64(config, "step_size")?.unwrap_or(DEFAULT_STEP_SIZE);
        if !(sigma > 0.0 && sigma <= 1.0) {
            return Err(PluginError::config(
                "step_size",
                format!("expected a fraction of the range in (0, 1], got {sigma}"),
            ));
        }
        Ok(MlpOptimizer {
            space,
            folds,
            fold_of: fold_assignment(seed, wine_data().len(), folds),
            seed,
            rng: SeededStream::new(format!("doin/wine_mlp/optimizer/{seed}/{rng_seed}")),
            sigma,
            best: None,
            measured: None,
        })
    }

    /// The parameters at scaled point `u`.
    fn parameters(&self, u: &[f64]) -> Result<Map, PluginError> {
        let mut m = Map::new();
        for (name, ui) in ORDER.iter().zip(u) {
            let b = self.space.bounds[*name];
            m.insert((*name).to_owned(), (b.low + (b.high - b.low) * ui).into());
        }
        self.space.normalized(&m)
    }

    /// `parameters` (validated) in scaled coordinates.
    fn scaled(&self, parameters: &Map) -> Result<Vec<f64>, PluginError> {
        let p = self.space.normalized(parameters)?;
        Ok(ORDER
            .iter()
            .map(|name| {
                let v = p.get(*name).and_then(Value::as_f64).unwrap_or(0.0);
                let b = self.space.bounds[*name];
                if b.high > b.low {
                    ((v - b.low) / (b.high - b.low)).clamp(0.0, 1.0)
                } else {
                    0.0
                }
            })
            .collect())
    }

    /// Scores `u` and keeps it if it beats the best; whether it did.
    fn consider(&mut self, u: Vec<f64>) -> Result<bool, PluginError> {
        let h = self.space.read(&self.parameters(&u)?)?;
        let perf = neg_cv_mse(wine_data(), &self.fold_of, self.folds, &h, self.seed)?;
        let better = self.best.as_ref().is_none_or(|(_, best)| perf > *best);
        if better {
            self.best = Some((u, perf));
        }
        Ok(better)
    }
}

impl Optimizer for MlpOptimizer {
    fn metadata(&self) -> DomainMetadata {
        self.space.metadata()
    }

    fn step(&mut self, current_best: Option<&Candidate>) -> Result<Candidate, PluginError> {
        if let Some(c) = current_best {
            // Re-measured on this optimizer's folds (a peer's report is never trusted),
            // once per champion.
            let p = self.space.normalized(&c.parameters)?;
            if self.measured.as_ref() != Some(&p) {
                let u = self.scaled(&p)?;
                self.consider(u)?;
                self.measured = Some(p);
            }
        }
        if self.best.is_none() {
            let start = (0..ORDER.len()).map(|_| self.rng.next_unit()).collect();
            self.consider(start)?;
        } else if let Some((u, _)) = &self.best {
            let sigma = self.sigma;
            let trial: Vec<f64> = u
                .clone()
                .into_iter()
                .map(|ui| (ui + sigma * self.rng.next_normal()).clamp(0.0, 1.0))
                .collect();
            let success = self.consider(trial)?;
            let factor = if success {
                SUCCESS_FACTOR
            } else {
                SUCCESS_FACTOR.powf(-0.25)
            };
            self.sigma = (self.sigma * factor).clamp(1e-3, 1.0);
        }
        let (u, performance) = self
            .best
            .clone()
            .ok_or_else(|| PluginError::InvalidParameters("no point was scored".into()))?;
        Ok(Candidate {
            parameters: self.parameters(&u)?,
            performance,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlp::model::Hyperparameters;
    use doin_primitives::map;

    #[test]
    fn steps_climb_and_a_better_champion_is_adopted() {
        let cfg = map! { "seed" => 3i64 };
        let mut opt = MlpOptimizer::new(&cfg, 1).unwrap();
        let first = opt.step(None).unwrap();
        let mut last = first.clone();
        for _ in 0..6 {
            let next = opt.step(None).unwrap();
            assert!(next.performance >= last.performance);
            last = next;
        }
        // Same seeds, same path.
        let mut again = MlpOptimizer::new(&cfg, 1).unwrap();
        assert_eq!(again.step(None).unwrap(), first);
        // A champion from elsewhere is re-measured (its report ignored) and adopted when
        // it is better.
        let champion = Hyperparameters {
            hidden: 16,
            log10_learning_rate: -1.5,
            log10_weight_decay: -3.0,
            steps: 200,
        }
        .to_parameters();
        let mut fresh = MlpOptimizer::new(&cfg, 2).unwrap();
        let claimed = Candidate {
            parameters: champion.clone(),
            performance: 0.0,
        };
        let adopted = fresh.step(Some(&claimed)).unwrap();
        assert!(adopted.performance < 0.0 && adopted.performance > -0.5);
        assert!(MlpOptimizer::new(&map! { "step_size" => 0.0 }, 1).is_err());
    }
}
