//! # doin-plugins
//!
//! The plugin contract of DOIN domains, the registry that maps plugin names to
//! implementations, and the built-in domains. It knows nothing about the network or the
//! chain: the node feeds it configs, seeds and parameters, and gets plain data back.
//!
//! Bird's eye view:
//! * [`plugin`] — the three traits every domain implements:
//!   [`Optimizer`] (`step(current_best) -> Candidate`, one step per call, built with a
//!   node-specific RNG seed), [`Evaluator`] (`evaluate(parameters, data) -> f64`, the
//!   reference's "inference" plugin) and [`SyntheticDataGenerator`]
//!   (`generate(seed) -> SyntheticData`, data plus the SHA-256 of its canonical JSON), and
//!   the [`DomainMetadata`] each declares (metric, direction, parameter bounds).
//! * [`registry`] — [`PluginRegistry`]: names as configs spell them
//!   (`optimization_plugin`, `inference_plugin`, `synthetic_data_plugin`) to constructors
//!   taking the domain's config. An unknown name is a [`PluginError::UnknownPlugin`] that
//!   lists the known ones.
//! * [`validate`] — plugin output is checked like peer input: every plugin the registry
//!   builds is wrapped so that non-finite performances, non-finite or out-of-bounds
//!   parameters and synthetic data whose hash does not match are errors.
//! * [`quadratic`] — the built-in `simple_quadratic` domain: the shared target rule, the
//!   weighted synthetic data that makes honest evaluators agree, and the optimizer.
//! * [`wine`] — the built-in `wine_quality` domain: ridge regression hyperparameters tuned
//!   by cross-validation on the red wine quality data set, each evaluator on its own
//!   seeded folds.
//! * [`mlp`] — the built-in `wine_mlp` domain: the training hyperparameters of a
//!   multilayer perceptron (candle, CPU) tuned by cross-validation on the same wines, each
//!   evaluator retraining on its own seeded folds from its own seeded initial weights.
//! * [`differential_evolution`] — what both domains' differential evolution optimizers
//!   share: their config keys and the DE/rand/1/bin trial.
//! * [`inference`] — [`Evaluator::infer`]: the domain's best model applied to a client's
//!   input (wine quality predictions, the quadratic's objective at a point), with input and
//!   output checked like peer input (finite, bounded in size).
//! * [`config`] — typed reading of config keys with errors that name the key;
//!   [`seeded`] — the SHA-256 counter stream behind every seeded draw, simple enough for
//!   another implementation to reproduce.
//!
//! * [`external`] — plugins in another process (Python plugins written against the
//!   reference's interface, served by the SDK in `python/doin-plugin-sdk`), named
//!   `python:<module>:<Class>` or `python:<entry point>` in a domain config. A versioned
//!   JSON-lines protocol over the child's stdin/stdout, a wall-time limit per call, a
//!   memory limit, bounded lines, and a restart after a crash, a hang or garbage. Names the
//!   registry does not know but that start with `python:` resolve there.

pub mod config;
pub mod differential_evolution;
pub mod error;
pub mod external;
pub mod inference;
pub mod mlp;
pub mod plugin;
pub mod quadratic;
pub mod registry;
pub mod seeded;
pub mod validate;
pub mod wine;

pub use error::{PluginError, PluginKind};
pub use plugin::{
    Candidate, DomainMetadata, Evaluator, Optimizer, ParamBound, SyntheticData,
    SyntheticDataGenerator,
};
pub use registry::PluginRegistry;
