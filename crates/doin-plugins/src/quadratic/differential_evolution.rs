//! Differential evolution (DE/rand/1/bin) on the quadratic domain, selected by
//! `"optimizer": "differential_evolution"` in the domain's `optimization_config`.

use doin_primitives::Map;

use super::problem::QuadraticProblem;
use crate::config::optional_u64;
use crate::differential_evolution::{trial, DeDefaults, DeSettings};
use crate::error::PluginError;
use crate::plugin::{Candidate, DomainMetadata, Optimizer};
use crate::seeded::SeededStream;

pub use crate::differential_evolution::DIFFERENTIAL_EVOLUTION;
/// `population_size` when not configured.
pub const DEFAULT_POPULATION: usize = 20;
/// `differential_weight` (F) when not configured.
pub const DEFAULT_WEIGHT: f64 = 0.7;
/// `crossover_rate` (CR) when not configured.
pub const DEFAULT_CROSSOVER: f64 = 0.9;

/// One generation of DE/rand/1/bin per [`Optimizer::step`].
///
/// For each member `x_i`, a mutant `a + F (b - c)` of three other distinct members is
/// crossed with `x_i` coordinate-wise with probability CR (one coordinate always from the
/// mutant), clamped into the bounds, and replaces `x_i` when it scores at least as well.
/// The population starts uniform inside the bounds. A `current_best` from elsewhere (the
/// chain's champion) is re-measured and replaces the worst member when it beats it, so
/// nodes share progress. Keys: `population_size` (≥ 4, default 20),
/// `differential_weight` F in (0, 2] (default 0.7), `crossover_rate` CR in [0, 1] (default
/// 0.9), `seed`. The random stream is
/// `SeededStream("doin/simple_quadratic/differential_evolution/{seed}/{rng_seed}")`.
#[derive(Debug, Clone)]
pub struct DifferentialEvolution {
    problem: QuadraticProblem,
    rng: SeededStream,
    settings: DeSettings,
    /// Members and their performances; empty until the first step.
    population: Vec<(Vec<f64>, f64)>,
}

/// This optimizer's defaults for the shared keys.
const DEFAULTS: DeDefaults = DeDefaults {
    population_size: DEFAULT_POPULATION,
    max_population: 10_000,
    weight: DEFAULT_WEIGHT,
    crossover: DEFAULT_CROSSOVER,
};

impl DifferentialEvolution {
    /// Builds the optimizer from the domain's `optimization_config` and a node-specific
    /// `rng_seed`.
    pub fn new(config: &Map, rng_seed: u64) -> Result<Self, PluginError> {
        let problem = QuadraticProblem::from_config(config)?;
        let settings = DeSettings::from_config(config, &DEFAULTS)?;
        let seed = optional_u64(config, "seed")?.unwrap_or(0);
        Ok(DifferentialEvolution {
            problem,
            rng: SeededStream::new(format!(
                "doin/simple_quadratic/{DIFFERENTIAL_EVOLUTION}/{seed}/{rng_seed}"
            )),
            settings,
            population: Vec::new(),
        })
    }

    fn generation(&mut self) {
        let bound = self.problem.bound;
        for i in 0..self.population.len() {
            let trial = trial(&mut self.rng, &self.settings, &self.population, i, |v| {
                bound.clamp(v)
            });
            let perf = self.problem.performance(&trial, None);
            if perf >= self.population[i].1 {
                self.population[i] = (trial, perf);
            }
        }
    }

    fn best(&self) -> Option<&(Vec<f64>, f64)> {
        self.population.iter().max_by(|a, b| a.1.total_cmp(&b.1))
    }
}

impl Optimizer for DifferentialEvolution {
    fn metadata(&self) -> DomainMetadata {
        self.problem.metadata()
    }

    fn step(&mut self, current_best: Option<&Candidate>) -> Result<Candidate, PluginError> {
        if self.population.is_empty() {
            let b = self.problem.bound;
            for _ in 0..self.settings.population_size {
                let x: Vec<f64> = (0..self.problem.n_params())
                    .map(|_| self.rng.next_uniform(b.low, b.high))
                    .collect();
                let perf = self.problem.performance(&x, None);
                self.population.push((x, perf));
            }
        }
        if let Some(c) = current_best {
            // Re-measured here: the performance a peer reports is never trusted.
            let x = self.problem.read_x(&c.parameters)?;
            let perf = self.problem.performance(&x, None);
            let worst = self
                .population
                .iter_mut()
                .min_by(|a, b| a.1.total_cmp(&b.1));
            if let Some(w) = worst.filter(|w| perf > w.1) {
                *w = (x, perf);
            }
        }
        self.generation();
        let (x, performance) = self
            .best()
            .ok_or_else(|| PluginError::InvalidParameters("empty population".into()))?;
        Ok(Candidate {
            parameters: QuadraticProblem::parameters(x),
            performance: *performance,
        })
    }
}

/// The quadratic domain's optimizer the config's `optimizer` key selects:
/// `hill_climbing` (the default, [`super::QuadraticOptimizer`]) or
/// `differential_evolution` ([`DifferentialEvolution`]).
pub fn quadratic_optimizer(config: &Map, rng_seed: u64) -> Result<Box<dyn Optimizer>, PluginError> {
    crate::differential_evolution::select_optimizer(
        config,
        "hill_climbing",
        || super::QuadraticOptimizer::new(config, rng_seed),
        || DifferentialEvolution::new(config, rng_seed),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::{map, Value};

    fn config() -> Map {
        map! {
            "n_params" => 10i64,
            "seed" => 42i64,
            "optimizer" => DIFFERENTIAL_EVOLUTION,
            "param_bounds" => map! { "x" => vec![Value::Float(-20.0), Value::Float(20.0)] },
        }
    }

    fn run(rng_seed: u64, steps: usize) -> Vec<f64> {
        let mut opt = quadratic_optimizer(&config(), rng_seed).unwrap();
        let mut best = None;
        (0..steps)
            .map(|_| {
                let c = opt.step(best.as_ref()).unwrap();
                let p = c.performance;
                best = Some(c);
                p
            })
            .collect()
    }

    #[test]
    fn converges_on_the_quadratic() {
        let perf = run(1, 400);
        assert!(perf.windows(2).all(|w| w[1] >= w[0]), "never gets worse");
        assert!(perf[0] < -50.0, "starts far: {}", perf[0]);
        assert!(perf[399] > -1e-6, "converged: {}", perf[399]);
    }

    #[test]
    fn is_reproducible_per_seed_and_differs_across_seeds() {
        assert_eq!(run(3, 30), run(3, 30));
        assert_ne!(run(3, 30), run(4, 30));
    }

    #[test]
    fn a_better_champion_from_elsewhere_joins_the_population() {
        let mut opt = DifferentialEvolution::new(&config(), 1).unwrap();
        opt.step(None).unwrap();
        let target = opt.problem.target.clone();
        let champion = Candidate {
            parameters: QuadraticProblem::parameters(&target),
            // A lie, ignored: it is re-measured.
            performance: -1e9,
        };
        assert_eq!(opt.step(Some(&champion)).unwrap().performance, 0.0);
    }

    #[test]
    fn unknown_optimizers_and_bad_settings_are_config_errors() {
        for (key, v) in [
            ("optimizer", Value::from("cma")),
            ("population_size", Value::Int(3)),
            ("differential_weight", Value::Float(0.0)),
            ("crossover_rate", Value::Float(1.5)),
        ] {
            let mut cfg = config();
            cfg.insert(key.into(), v);
            let err = quadratic_optimizer(&cfg, 1).err().unwrap();
            assert!(
                matches!(&err, PluginError::Config { key: k, .. } if k == key),
                "{err}"
            );
        }
        let mut hill = config();
        hill.insert("optimizer".into(), Value::from("hill_climbing"));
        assert!(quadratic_optimizer(&hill, 1).is_ok());
    }
}
