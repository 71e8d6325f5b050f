//! Differential evolution on the wine domain, selected by `"optimizer":
//! "differential_evolution"` in the domain's `optimization_config`: a population that
//! keeps several basins of the hyperparameter box in play where the (1+1) strategy of
//! [`super::WineOptimizer`] settles in the first local optimum it finds.

use doin_primitives::Map;

use super::optimizer::{SearchBox, TRIALS_PER_STEP};
use crate::config::optional_u64;
use crate::differential_evolution::{trial, DeDefaults, DeSettings};
use crate::error::PluginError;
use crate::plugin::{Candidate, DomainMetadata, Optimizer};
use crate::seeded::SeededStream;

pub use crate::differential_evolution::DIFFERENTIAL_EVOLUTION;
/// `population_size` when not configured.
pub const DEFAULT_POPULATION: usize = 20;
/// `differential_weight` (F) when not configured.
pub const DEFAULT_WEIGHT: f64 = 0.6;
/// `crossover_rate` (CR) when not configured.
pub const DEFAULT_CROSSOVER: f64 = 0.5;

/// Steady-state DE/rand/1/bin over the box of [`SearchBox`] scaled to `[0, 1]`.
///
/// The population starts uniform in the box (its members scored in the first step). Each
/// [`Optimizer::step`] then makes [`TRIALS_PER_STEP`] trials, as many fits as a step of
/// the (1+1) strategy: for the next member `x_i` in turn, a mutant `a + F (b - c)` of three
/// other distinct members is crossed with `x_i` coordinate-wise with probability CR (one
/// coordinate always from the mutant), clamped into the box, and replaces `x_i` when it
/// scores at least as well. The discrete degree is a coordinate like the others (below
/// one half is degree 1). A `current_best` from elsewhere (the chain's best, or another
/// node's reveal) is re-measured on this optimizer's folds and replaces the worst member
/// when it beats it. Keys: `population_size` (4 to 1,000, default 20),
/// `differential_weight` F in (0, 2] (default 0.6), `crossover_rate` CR in [0, 1] (default
/// 0.5), `seed` (the folds, as for the (1+1) strategy). The random stream is
/// `SeededStream("doin/wine_quality/differential_evolution/{seed}/{rng_seed}")`.
#[derive(Debug, Clone)]
pub struct WineDifferentialEvolution {
    search: SearchBox,
    rng: SeededStream,
    settings: DeSettings,
    /// Members and their scores; empty until the first step.
    population: Vec<(Vec<f64>, f64)>,
    /// The member the next trial targets.
    next: usize,
}

/// This optimizer's defaults for the shared keys.
const DEFAULTS: DeDefaults = DeDefaults {
    population_size: DEFAULT_POPULATION,
    max_population: 1_000,
    weight: DEFAULT_WEIGHT,
    crossover: DEFAULT_CROSSOVER,
};

impl WineDifferentialEvolution {
    /// Builds the optimizer from the domain's `optimization_config` and a node-specific
    /// `rng_seed`.
    pub fn new(config: &Map, rng_seed: u64) -> Result<Self, PluginError> {
        let search = SearchBox::new(config)?;
        let settings = DeSettings::from_config(config, &DEFAULTS)?;
        let seed = optional_u64(config, "seed")?.unwrap_or(0);
        Ok(WineDifferentialEvolution {
            search,
            rng: SeededStream::new(format!(
                "doin/wine_quality/{DIFFERENTIAL_EVOLUTION}/{seed}/{rng_seed}"
            )),
            settings,
            population: Vec::new(),
            next: 0,
        })
    }

    /// One trial against member `i`.
    fn trial(&mut self, i: usize) -> Result<(), PluginError> {
        let u = trial(&mut self.rng, &self.settings, &self.population, i, |v| {
            v.clamp(0.0, 1.0)
        });
        let perf = self.search.score(&u)?;
        if perf >= self.population[i].1 {
            self.population[i] = (u, perf);
        }
        Ok(())
    }

    fn best(&self) -> Option<&(Vec<f64>, f64)> {
        self.population.iter().max_by(|a, b| a.1.total_cmp(&b.1))
    }
}

impl Optimizer for WineDifferentialEvolution {
    fn metadata(&self) -> DomainMetadata {
        self.search.metadata()
    }

    fn step(&mut self, current_best: Option<&Candidate>) -> Result<Candidate, PluginError> {
        if self.population.is_empty() {
            for _ in 0..self.settings.population_size {
                let u: Vec<f64> = (0..self.search.dims())
                    .map(|_| self.rng.next_unit())
                    .collect();
                let perf = self.search.score(&u)?;
                self.population.push((u, perf));
            }
        }
        if let Some(c) = current_best {
            // Re-measured on this optimizer's folds: a peer's report is never trusted.
            let u = self.search.scaled(&c.parameters)?;
            let perf = self.search.score(&u)?;
            let worst = self
                .population
                .iter_mut()
                .min_by(|a, b| a.1.total_cmp(&b.1));
            if let Some(w) = worst.filter(|w| perf > w.1) {
                *w = (u, perf);
            }
        }
        for _ in 0..TRIALS_PER_STEP {
            let i = self.next % self.population.len();
            self.next = self.next.wrapping_add(1);
            self.trial(i)?;
        }
        let (u, performance) = self
            .best()
            .cloned()
            .ok_or_else(|| PluginError::InvalidParameters("empty population".into()))?;
        Ok(Candidate {
            parameters: self.search.parameters(&u)?,
            performance,
        })
    }
}

/// The wine domain's optimizer the config's `optimizer` key selects: `evolution_strategy`
/// (the default, [`super::WineOptimizer`]) or `differential_evolution`
/// ([`WineDifferentialEvolution`]).
pub fn wine_optimizer(config: &Map, rng_seed: u64) -> Result<Box<dyn Optimizer>, PluginError> {
    crate::differential_evolution::select_optimizer(
        config,
        "evolution_strategy",
        || super::WineOptimizer::new(config, rng_seed),
        || WineDifferentialEvolution::new(config, rng_seed),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wine::model::FEATURE_SELECTION;
    use doin_primitives::{map, Value};

    fn config() -> Map {
        map! { "optimizer" => DIFFERENTIAL_EVOLUTION, FEATURE_SELECTION => true, "seed" => 7i64 }
    }

    #[test]
    fn same_seeds_same_steps_and_the_best_never_drops() {
        let run = |rng_seed| {
            let mut opt = wine_optimizer(&config(), rng_seed).unwrap();
            (0..30).map(|_| opt.step(None).unwrap()).collect::<Vec<_>>()
        };
        let a = run(1);
        assert_eq!(a, run(1));
        assert_ne!(a, run(2));
        assert!(a.windows(2).all(|w| w[1].performance >= w[0].performance));
        assert!(a[29].performance > a[0].performance, "it improves");
        assert_eq!(a[0].parameters.len(), 14);
    }

    #[test]
    fn a_better_migrant_joins_the_population_and_is_re_measured() {
        let cfg = map! { "optimizer" => DIFFERENTIAL_EVOLUTION };
        let mut opt = wine_optimizer(&cfg, 3).unwrap();
        crate::wine::optimizer::tests::adopts_a_better_migrant_re_measured(opt.as_mut());
    }

    #[test]
    fn bad_keys_are_refused() {
        for (key, value) in [
            ("population_size", Value::Int(3)),
            ("differential_weight", Value::Float(0.0)),
            ("crossover_rate", Value::Float(1.5)),
            ("optimizer", Value::from("annealing")),
        ] {
            let mut cfg = map! { "optimizer" => DIFFERENTIAL_EVOLUTION };
            cfg.insert(key.into(), value);
            assert!(
                matches!(wine_optimizer(&cfg, 0), Err(PluginError::Config { .. })),
                "{key}"
            );
        }
        assert!(wine_optimizer(&map! { "optimizer" => "evolution_strategy" }, 0).is_ok());
    }
}
