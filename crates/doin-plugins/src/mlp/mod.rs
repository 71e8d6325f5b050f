//! The built-in neural-network domain, registered as [`NAME`] (`wine_mlp`): tuning the
//! training of a multilayer perceptron that predicts red wine quality, trained on the CPU
//! with candle.
//!
//! * **Data**: the red wine quality set (1,599 wines x 11 measurements, quality 3 to 8)
//!   that the `wine_quality` domain embeds ([`crate::wine::wine_data`]), z-scored.
//! * **Model** ([`network`]): `Linear(11, hidden) -> ReLU -> Linear(hidden, 1)` in `f64`,
//!   trained with AdamW on the full batch for `steps` steps, its initial weights drawn
//!   from a labelled seeded stream ([`Mlp`]).
//! * **Parameters** (training hyperparameters, [`model`]): `{"hidden": 2..32,
//!   "log10_learning_rate": [-4, -0.5], "log10_weight_decay": [-6, 0], "steps": 10..200}`;
//!   a config's `param_bounds` may narrow the ranges. The limits bound the work one
//!   evaluation may ask for.
//! * **Metric**: `neg_cv_mse`, higher is better: minus the mean squared error of `k`-fold
//!   cross-validated predictions of every wine's quality (`folds`, default 5: each
//!   evaluation trains five networks). Predicting the mean scores about -0.65; tuned
//!   networks reach about -0.41. As in the wine quality domain, improvements are small in
//!   absolute terms, so a chain running it needs a small `initial_threshold` (0.001).
//! * **Synthetic data** for seed `s` ([`MlpFolds`]): the fold of every wine from the
//!   wine quality domain's seeded shuffle, and `s` itself, from which the evaluator
//!   initialises fold `k`'s network (`SeededStream("doin/wine_mlp/init/{s}/{k}")`). Each
//!   evaluator retrains on its own folds from its own initial weights ([`MlpEvaluator`]).
//! * **Inference**: the network of the best hyperparameters, trained on every wine from
//!   the fixed stream [`SERVED_INIT`], predicts the quality of a client's wines (the same
//!   input as the wine quality domain, [`crate::wine::read_wines`]).
//! * **Optimizer** ([`MlpOptimizer`]): a (1+1) evolution strategy over the scaled box, one
//!   cross-validated training per step, on the folds and initial weights of the config's
//!   `seed`.
//!
//! **Why honest evaluators agree.** An evaluation is a pure function of the parameters and
//! the synthetic data: the folds and the initial weights come from the SHA-256 stream of
//! [`crate::seeded`], training is full-batch (no sampling), and candle's CPU ops are
//! deterministic for a given build and CPU — matrix products split work across threads by
//! blocks of the output, never along a sum, so the thread count does not change a result;
//! the same parameters and seed give the same score bit for bit (tested). Different
//! evaluators use different seeds, hence different folds and initial weights. Every wine
//! is still validated exactly once in each evaluation, but five folds of a network leave
//! more to chance than ten folds of a ridge regression: over eight seeds, honest scores of
//! one point have a standard deviation of about 3 % and lie up to about 5 % from their
//! median (printed by `evaluator::tests::honest_evaluators_agree_within_the_tolerance`,
//! which pins the largest divergence under [`QUORUM_TOLERANCE`]). Most of that comes from
//! the folds, not the initial weights (fixed folds and eight initialisations spread by
//! about 1 %). A chain running this domain therefore sets `quorum_tolerance` to 0.1, twice
//! the default: honest votes agree, and so does an optimizer's report, which its own
//! folds flatter a little (it keeps the points they score best); a report or vote off by
//! 20 % or more (a liar's 30 % in the network tests) lies outside. Machines whose CPUs take
//! other SIMD paths in gemm round differently in the last bits; through at most two hundred
//! steps of a stable training that moves a score by far less than the spread between
//! seeds.

mod evaluator;
mod inference;
mod model;
mod network;
mod optimizer;
mod synthetic;

pub use evaluator::MlpEvaluator;
pub use inference::{ServedModel, SERVED_INIT};
pub use model::{
    Hyperparameters, SearchSpace, HIDDEN, LIMITS, LOG10_LEARNING_RATE, LOG10_WEIGHT_DECAY, METRIC,
    STEPS,
};
pub use network::{neg_cv_mse, Mlp};
pub use optimizer::{MlpOptimizer, DEFAULT_STEP_SIZE};
pub use synthetic::{configured_folds, MlpFolds, DEFAULT_FOLDS, GENERATOR};

/// The `quorum_tolerance` a chain running this domain needs: honest evaluations of one
/// point on different seeds lie up to about 5 % from their median (see the module doc).
pub const QUORUM_TOLERANCE: f64 = 0.1;

/// The name domain configs use for the neural-network plugins.
pub const NAME: &str = "wine_mlp";
