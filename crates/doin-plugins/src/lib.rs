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
//! * [`config`] — typed reading of config keys with errors that name the key;
//!   [`seeded`] — the SHA-256 counter stream behind every seeded draw, simple enough for
//!   another implementation to reproduce.
//!
//! ## External-process plugins (later)
//!
//! Everything that crosses the traits is owned JSON-able data (`Map` parameters, `f64`
//! performances, `Value` data, `u64` seeds), every method is fallible with a
//! [`PluginError`] that is itself plain data, and no call borrows plugin state beyond its
//! own duration. A plugin in another process therefore fits the same traits: an adapter
//! sends one JSON request per call over the child's stdin, reads one JSON reply from its
//! stdout, and registers itself in the [`PluginRegistry`] under the domain's plugin name.
//! The checks of [`validate`] apply to it unchanged.

pub mod config;
pub mod error;
pub mod plugin;
pub mod quadratic;
pub mod registry;
pub mod seeded;
pub mod validate;

pub use error::{PluginError, PluginKind};
pub use plugin::{
    Candidate, DomainMetadata, Evaluator, Optimizer, ParamBound, SyntheticData,
    SyntheticDataGenerator,
};
pub use registry::PluginRegistry;
