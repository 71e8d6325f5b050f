//! The built-in wine quality domain, registered as [`NAME`] (`wine_quality`): tuning a
//! regression model of red wine quality, the kind of search people run on real data.
//!
//! * **Data**: the red wine quality set (1,599 wines x 11 measurements, quality 3 to 8)
//!   shipped in the `linfa-datasets` crate, z-scored once ([`dataset`]).
//! * **Parameters** (hyperparameters of ridge regression, see [`model`]):
//!   `{"log10_alpha": [-4, 2], "degree": 1 | 2, "clip": [0.5, 6]}`; a config's
//!   `param_bounds` may narrow the ranges. Opt-in larger space: with
//!   `"feature_selection": true` in the configs, also one weight `w_<measurement>` in
//!   `[0, 1]` per measurement ([`weight_name`]), multiplying its z-score before clipping
//!   (0 drops it): 14 parameters instead of 3. Without the key nothing changes.
//! * **Metric**: `neg_cv_mse`, higher is better: minus the mean squared error of `k`-fold
//!   cross-validated predictions of every wine's quality (`folds`, default 10). Predicting
//!   the mean scores about -0.65; tuned models reach about -0.41. Improvements are small
//!   in absolute terms (0.25 in all), so a chain running this domain needs a small
//!   `initial_threshold` (0.001), or blocks stop once the difficulty has risen.
//! * **Synthetic data** for seed `s`: the fold of every wine, from a seeded shuffle
//!   ([`fold_assignment`]). Each evaluator retrains the model on its own folds. Because
//!   every wine is validated exactly once and ten folds leave little to chance, honest
//!   evaluations with different seeds differ by about 1 % (standard deviation under 1 %
//!   everywhere in the box; `tests/wine_quorum.rs` pins 3 %), while a report inflated by
//!   10 % or more lies outside a 5 % tolerance of the honest median.
//! * **Inference**: the ridge model with the best hyperparameters, trained on every wine,
//!   predicts the quality of a client's wines ([`RidgeModel`], [`read_wines`]).
//! * **Optimizers** (`"optimizer"` in the config, [`wine_optimizer`]): by default a (1+1)
//!   evolution strategy over the scaled box that also switches the discrete degree now and
//!   then ([`WineOptimizer`]), which settles in the first local optimum it finds; or
//!   `"differential_evolution"`, a steady-state population search making as many fits per
//!   step ([`WineDifferentialEvolution`]).

mod dataset;
mod differential_evolution;
mod evaluator;
mod inference;
mod model;
mod optimizer;
mod synthetic;

pub use dataset::{wine_data, WineData, DATASET, FEATURE_NAMES, N_FEATURES, N_SAMPLES};
pub use differential_evolution::{
    wine_optimizer, WineDifferentialEvolution, DEFAULT_CROSSOVER, DEFAULT_POPULATION,
    DEFAULT_WEIGHT, DIFFERENTIAL_EVOLUTION,
};
pub use evaluator::WineEvaluator;
pub use inference::{read_wines, RidgeModel, MAX_WINES};
pub use model::{
    n_features, neg_cv_mse, weight_name, Hyperparameters, SearchSpace, CLIP, DEGREE,
    FEATURE_SELECTION, LIMITS, LOG10_ALPHA, METRIC,
};
pub use optimizer::{WineOptimizer, DEFAULT_STEP_SIZE, DEGREE_SWITCH, TRIALS_PER_STEP};
pub use synthetic::{
    configured_folds, fold_assignment, folds_data, WineFolds, DEFAULT_FOLDS, GENERATOR,
};

/// The name domain configs use for the wine quality plugins.
pub const NAME: &str = "wine_quality";
