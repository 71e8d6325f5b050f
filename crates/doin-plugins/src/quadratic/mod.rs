//! The built-in quadratic domain, registered as [`NAME`] (`simple_quadratic`).
//!
//! The reference's `simple_quadratic`, made into one problem that every node shares.
//!
//! * **Parameters**: `{"x": [x_0, …, x_{n-1}]}`, `n = n_params`; every `x_i` lies in
//!   `param_bounds.x` (default `[-20, 20]`).
//! * **Metric**: `neg_mse`, higher is better: `-Σ (x_i - t_i)^2` (a sum, as the reference
//!   computes it, despite the name). 0 is perfect.
//! * **Target** `t`: the config's `target` array when present; otherwise derived from
//!   `target_seed`, else `seed`, else 0, by [`derive_target`]: SHA-256 counter draws mapped
//!   onto the middle half of the bounds (`[-10, 10)` by default). The reference drew a
//!   random target per process, so its nodes never optimized the same problem.
//! * **Synthetic data** for seed `s`: per-coordinate weights
//!   `w_i = 1 + weight_noise * (2u_i - 1)` ([`derive_weights`], `weight_noise` default
//!   0.01), and the evaluator scores `-Σ w_i (x_i - t_i)^2`. The optimizer reports its own
//!   score with `w_i = 1`. Every weight is within `1 ± ε`, so any two honest evaluations of
//!   the same parameters differ by a relative `(1+ε)/(1-ε) - 1` at most (2.02 % at ε = 0.01)
//!   and each differs from the honest report by at most ε, at every distance from the
//!   target: within a 5 % quorum tolerance. A report inflated by a fraction `f` diverges
//!   from any honest evaluation by at least `1 - (1-f)/(1-ε)` (19.2 % for f = 20 %).
//!   The reference instead added noise to the target, whose effect dominates near the
//!   optimum.
//! * **Optimizer**: a (1+1) evolution strategy with the 1/5 success rule, see
//!   [`QuadraticOptimizer`]; or, with `"optimizer": "differential_evolution"` in the
//!   config, [`DifferentialEvolution`] (see [`quadratic_optimizer`]).

mod differential_evolution;
mod evaluator;
mod optimizer;
mod problem;
mod synthetic;

pub use differential_evolution::{
    quadratic_optimizer, DifferentialEvolution, DEFAULT_CROSSOVER, DEFAULT_POPULATION,
    DEFAULT_WEIGHT, DIFFERENTIAL_EVOLUTION,
};
pub use evaluator::QuadraticEvaluator;
pub use optimizer::{QuadraticOptimizer, DEFAULT_STEP_SIZE, MAX_TRIALS_PER_STEP, TRIALS_PER_STEP};
pub use problem::{
    derive_target, QuadraticProblem, DEFAULT_BOUND, DEFAULT_N_PARAMS, DEFAULT_TARGET_SEED,
    DEFAULT_WEIGHT_NOISE, MAX_N_PARAMS, MAX_WEIGHT_NOISE, METRIC, PARAM,
};
pub use synthetic::{derive_weights, QuadraticSyntheticData, GENERATOR};

/// The name domain configs use for the quadratic plugins.
pub const NAME: &str = "simple_quadratic";
