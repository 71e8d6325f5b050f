//! The quadratic domain's optimizer: a (1+1) evolution strategy with the 1/5 success rule.

use doin_primitives::Map;

use super::problem::QuadraticProblem;
use crate::config::{optional_count, optional_f64, optional_u64};
use crate::error::PluginError;
use crate::plugin::{Candidate, DomainMetadata, Optimizer};
use crate::seeded::SeededStream;

/// `step_size` when not configured (the reference's default).
pub const DEFAULT_STEP_SIZE: f64 = 0.5;
/// Perturbations tried per [`Optimizer::step`] when `trials_per_step` is not configured.
pub const TRIALS_PER_STEP: usize = 4;
/// The largest `trials_per_step` accepted.
pub const MAX_TRIALS_PER_STEP: usize = 10_000;
/// The step size grows by this factor after a successful trial and shrinks by its fourth
/// root after a failed one, so it settles where one trial in five succeeds.
const SUCCESS_FACTOR: f64 = 1.5;

/// Hill-climbs `-Σ (x_i - t_i)^2` from its best point by Gaussian perturbations.
///
/// Each step makes `trials_per_step` trials (default [`TRIALS_PER_STEP`]; one trial a step
/// makes each round one evaluation, as a round of a real model is, and lets nodes that
/// share their best points search in parallel rather than repeat each other's sequence).
/// Each trial draws `x' = clamp(x + σ·N(0, I))` and keeps `x'` when it scores better; σ starts
/// at `step_size` and adapts by the 1/5 success rule, staying between 10^-12 times the
/// bounds' width and the width. A random start is uniform inside the bounds. The random
/// stream is
/// `SeededStream("doin/simple_quadratic/optimizer/{seed}/{rng_seed}")`, `seed` from the
/// config (default 0) and `rng_seed` from the caller, so a run is reproducible and two
/// nodes with different `rng_seed`s explore differently.
#[derive(Debug, Clone)]
pub struct QuadraticOptimizer {
    problem: QuadraticProblem,
    rng: SeededStream,
    sigma: f64,
    trials: usize,
    best: Option<(Vec<f64>, f64)>,
}

impl QuadraticOptimizer {
    /// Builds the optimizer from the domain's `optimization_config` (the problem's keys,
    /// plus `step_size`, `trials_per_step` and `seed`) and a node-specific `rng_seed`.
    pub fn new(config: &Map, rng_seed: u64) -> Result<Self, PluginError> {
        let problem = QuadraticProblem::from_config(config)?;
        let sigma = optional_f64(config, "step_size")?.unwrap_or(DEFAULT_STEP_SIZE);
        if sigma <= 0.0 {
            return Err(PluginError::config(
                "step_size",
                format!("expected a positive number, got {sigma}"),
            ));
        }
        let trials = optional_count(config, "trials_per_step", 1..=MAX_TRIALS_PER_STEP)?
            .unwrap_or(TRIALS_PER_STEP);
        let seed = optional_u64(config, "seed")?.unwrap_or(0);
        Ok(QuadraticOptimizer {
            problem,
            rng: SeededStream::new(format!("doin/simple_quadratic/optimizer/{seed}/{rng_seed}")),
            sigma,
            trials,
            best: None,
        })
    }

    /// The problem this optimizer works on.
    pub fn problem(&self) -> &QuadraticProblem {
        &self.problem
    }

    /// The current step size σ.
    pub fn step_size(&self) -> f64 {
        self.sigma
    }

    fn consider(&mut self, x: Vec<f64>) -> bool {
        let perf = self.problem.performance(&x, None);
        let better = match &self.best {
            None => true,
            Some((_, best)) => perf > *best,
        };
        if better {
            self.best = Some((x, perf));
        }
        better
    }

    fn random_point(&mut self) -> Vec<f64> {
        let b = self.problem.bound;
        (0..self.problem.n_params())
            .map(|_| self.rng.next_uniform(b.low, b.high))
            .collect()
    }

    fn adapt(&mut self, success: bool) {
        let width = self.problem.bound.high - self.problem.bound.low;
        let factor = if success {
            SUCCESS_FACTOR
        } else {
            SUCCESS_FACTOR.powf(-0.25)
        };
        let max = width.max(f64::MIN_POSITIVE);
        self.sigma = (self.sigma * factor).clamp(1e-12 * max, max);
    }
}

impl Optimizer for QuadraticOptimizer {
    fn metadata(&self) -> DomainMetadata {
        self.problem.metadata()
    }

    fn step(&mut self, current_best: Option<&Candidate>) -> Result<Candidate, PluginError> {
        if let Some(c) = current_best {
            // Re-measured here: the performance a peer reports is never trusted.
            let x = self.problem.read_x(&c.parameters)?;
            self.consider(x);
        }
        if self.best.is_none() {
            let start = self.random_point();
            self.consider(start);
        }
        for _ in 0..self.trials {
            let Some((x, _)) = &self.best else { break };
            let b = self.problem.bound;
            let sigma = self.sigma;
            let trial: Vec<f64> = x
                .iter()
                .map(|xi| b.clamp(xi + sigma * self.rng.next_normal()))
                .collect();
            let success = self.consider(trial);
            self.adapt(success);
        }
        let (x, performance) = self
            .best
            .as_ref()
            .ok_or_else(|| PluginError::InvalidParameters("no starting point".into()))?;
        Ok(Candidate {
            parameters: QuadraticProblem::parameters(x),
            performance: *performance,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::{map, Value};

    fn node_default() -> Map {
        map! {
            "n_params" => 10i64,
            "step_size" => 0.5,
            "seed" => 42i64,
            "param_bounds" => map! { "x" => vec![Value::Float(-20.0), Value::Float(20.0)] },
        }
    }

    fn run(config: &Map, rng_seed: u64, steps: usize) -> Vec<Candidate> {
        let mut opt = QuadraticOptimizer::new(config, rng_seed).unwrap();
        (0..steps).map(|_| opt.step(None).unwrap()).collect()
    }

    #[test]
    fn same_seeds_same_steps_other_rng_seed_other_steps() {
        let cfg = node_default();
        assert_eq!(run(&cfg, 1, 30), run(&cfg, 1, 30));
        assert_ne!(run(&cfg, 1, 30), run(&cfg, 2, 30));
    }

    #[test]
    fn performance_never_gets_worse_and_bounds_hold() {
        let cfg = map! {
            "n_params" => 5i64,
            "step_size" => 8.0,
            "param_bounds" => map! { "x" => vec![Value::Float(-1.0), Value::Float(1.0)] },
        };
        let mut opt = QuadraticOptimizer::new(&cfg, 3).unwrap();
        let mut last = f64::NEG_INFINITY;
        for _ in 0..300 {
            let c = opt.step(None).unwrap();
            assert!(c.performance >= last);
            last = c.performance;
            let x = opt.problem().read_x(&c.parameters).unwrap();
            assert!(x.iter().all(|v| (-1.0..=1.0).contains(v)));
        }
    }

    #[test]
    fn converges_to_minus_one_from_a_random_start() {
        // Counting steps, not time: n_params 10, step_size 0.5, bounds [-20, 20].
        for rng_seed in 0..5 {
            let mut opt = QuadraticOptimizer::new(&node_default(), rng_seed).unwrap();
            let first = opt.step(None).unwrap().performance;
            assert!(first < -100.0, "a random start should be far away: {first}");
            let steps = (1..3000)
                .find(|_| opt.step(None).unwrap().performance >= -1.0)
                .unwrap_or_else(|| panic!("rng_seed {rng_seed}: no convergence"));
            assert!(steps < 500, "rng_seed {rng_seed}: {steps} steps");
        }
    }

    #[test]
    fn a_better_migrant_is_adopted_and_re_measured() {
        let mut opt = QuadraticOptimizer::new(&node_default(), 1).unwrap();
        let own = opt.step(None).unwrap();
        let target = opt.problem().target.clone();
        // The claimed performance is a lie; the optimizer measures the true one.
        let migrant = Candidate {
            parameters: QuadraticProblem::parameters(&target),
            performance: -1e9,
        };
        let after = opt.step(Some(&migrant)).unwrap();
        assert!(after.performance > own.performance);
        assert_eq!(after.performance, 0.0);
        // A worse migrant does not replace the optimizer's own best.
        let worse = Candidate {
            parameters: QuadraticProblem::parameters(&[20.0; 10]),
            performance: 0.0,
        };
        assert_eq!(opt.step(Some(&worse)).unwrap().performance, 0.0);
    }

    #[test]
    fn trials_per_step_sets_the_evaluations_of_a_step() {
        let mut cfg = node_default();
        cfg.insert("trials_per_step".into(), Value::Int(1));
        // One trial a step: the same stream makes four steps of one what one step of four
        // makes (the start point is the first draw of both).
        let mut one = QuadraticOptimizer::new(&cfg, 5).unwrap();
        let mut four = QuadraticOptimizer::new(&node_default(), 5).unwrap();
        let by_ones = (0..4).map(|_| one.step(None).unwrap()).last().unwrap();
        assert_eq!(by_ones, four.step(None).unwrap());
        for bad in [0i64, 10_001] {
            let mut cfg = node_default();
            cfg.insert("trials_per_step".into(), Value::Int(bad));
            let err = QuadraticOptimizer::new(&cfg, 1).unwrap_err();
            assert!(
                matches!(&err, PluginError::Config { key, .. } if key == "trials_per_step"),
                "{err}"
            );
        }
    }

    #[test]
    fn bad_step_size_and_bad_migrants_are_errors() {
        for bad in [Value::Float(0.0), Value::Float(-1.0), Value::from("big")] {
            let cfg = map! { "step_size" => bad };
            let err = QuadraticOptimizer::new(&cfg, 0).unwrap_err();
            assert!(matches!(&err, PluginError::Config { key, .. } if key == "step_size"));
        }
        let mut opt = QuadraticOptimizer::new(&node_default(), 0).unwrap();
        let wrong_len = Candidate {
            parameters: QuadraticProblem::parameters(&[0.0; 3]),
            performance: 0.0,
        };
        assert!(matches!(
            opt.step(Some(&wrong_len)),
            Err(PluginError::InvalidParameters(_))
        ));
    }
}
