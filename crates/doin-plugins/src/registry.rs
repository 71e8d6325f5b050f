//! Plugin names, as domain configs spell them, mapped to constructors.

use std::collections::BTreeMap;

use doin_primitives::Map;

use crate::error::{PluginError, PluginKind};
use crate::external;
use crate::mlp;
use crate::plugin::{Evaluator, Optimizer, SyntheticDataGenerator};
use crate::quadratic;
use crate::validate::{CheckedEvaluator, CheckedGenerator, CheckedOptimizer};
use crate::wine;

/// Builds an optimizer from the domain's `optimization_config` and a node-specific RNG seed.
pub type OptimizerConstructor =
    Box<dyn Fn(&Map, u64) -> Result<Box<dyn Optimizer>, PluginError> + Send + Sync>;
/// Builds an evaluator from the domain's `inference_config`.
pub type EvaluatorConstructor =
    Box<dyn Fn(&Map) -> Result<Box<dyn Evaluator>, PluginError> + Send + Sync>;
/// Builds a synthetic-data generator from the domain's `synthetic_data_config`.
pub type GeneratorConstructor =
    Box<dyn Fn(&Map) -> Result<Box<dyn SyntheticDataGenerator>, PluginError> + Send + Sync>;

/// The plugins a node can run, by name.
///
/// Every plugin it builds comes wrapped in the checks of [`crate::validate`].
pub struct PluginRegistry {
    optimizers: BTreeMap<String, OptimizerConstructor>,
    evaluators: BTreeMap<String, EvaluatorConstructor>,
    generators: BTreeMap<String, GeneratorConstructor>,
}

impl Default for PluginRegistry {
    fn default() -> Self {
        Self::with_builtins()
    }
}

impl std::fmt::Debug for PluginRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginRegistry")
            .field("optimizers", &self.optimizers.keys().collect::<Vec<_>>())
            .field("evaluators", &self.evaluators.keys().collect::<Vec<_>>())
            .field("generators", &self.generators.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl PluginRegistry {
    /// A registry with no plugins.
    pub fn empty() -> Self {
        PluginRegistry {
            optimizers: BTreeMap::new(),
            evaluators: BTreeMap::new(),
            generators: BTreeMap::new(),
        }
    }

    /// A registry with the built-in domains: [`quadratic::NAME`] (`simple_quadratic`),
    /// [`wine::NAME`] (`wine_quality`) and [`mlp::NAME`] (`wine_mlp`).
    pub fn with_builtins() -> Self {
        let mut r = Self::empty();
        r.register_optimizer(quadratic::NAME, quadratic::quadratic_optimizer);
        r.register_evaluator(quadratic::NAME, |cfg| {
            Ok(Box::new(quadratic::QuadraticEvaluator::new(cfg)?))
        });
        r.register_generator(quadratic::NAME, |cfg| {
            Ok(Box::new(quadratic::QuadraticSyntheticData::new(cfg)?))
        });
        r.register_optimizer(wine::NAME, wine::wine_optimizer);
        r.register_evaluator(wine::NAME, |cfg| {
            Ok(Box::new(wine::WineEvaluator::new(cfg)?))
        });
        r.register_generator(wine::NAME, |cfg| Ok(Box::new(wine::WineFolds::new(cfg)?)));
        r.register_optimizer(mlp::NAME, |cfg, seed| {
            Ok(Box::new(mlp::MlpOptimizer::new(cfg, seed)?))
        });
        r.register_evaluator(mlp::NAME, |cfg| Ok(Box::new(mlp::MlpEvaluator::new(cfg)?)));
        r.register_generator(mlp::NAME, |cfg| Ok(Box::new(mlp::MlpFolds::new(cfg)?)));
        r
    }

    /// Registers (or replaces) the optimizer called `name`.
    pub fn register_optimizer(
        &mut self,
        name: &str,
        constructor: impl Fn(&Map, u64) -> Result<Box<dyn Optimizer>, PluginError>
            + Send
            + Sync
            + 'static,
    ) {
        self.optimizers
            .insert(name.to_owned(), Box::new(constructor));
    }

    /// Registers (or replaces) the evaluator called `name`.
    pub fn register_evaluator(
        &mut self,
        name: &str,
        constructor: impl Fn(&Map) -> Result<Box<dyn Evaluator>, PluginError> + Send + Sync + 'static,
    ) {
        self.evaluators
            .insert(name.to_owned(), Box::new(constructor));
    }

    /// Registers (or replaces) the synthetic-data generator called `name`.
    pub fn register_generator(
        &mut self,
        name: &str,
        constructor: impl Fn(&Map) -> Result<Box<dyn SyntheticDataGenerator>, PluginError>
            + Send
            + Sync
            + 'static,
    ) {
        self.generators
            .insert(name.to_owned(), Box::new(constructor));
    }

    /// The registered names of one kind, sorted.
    pub fn names(&self, kind: PluginKind) -> Vec<&str> {
        match kind {
            PluginKind::Optimizer => self.optimizers.keys().map(String::as_str).collect(),
            PluginKind::Evaluator => self.evaluators.keys().map(String::as_str).collect(),
            PluginKind::SyntheticData => self.generators.keys().map(String::as_str).collect(),
        }
    }

    /// Builds the optimizer `name` from `config`. `rng_seed` is node-specific, so that two
    /// nodes optimizing the same domain do not take identical steps.
    ///
    /// A registered name wins; an unregistered `python:…` name is an external plugin served
    /// by the Python SDK (see [`crate::external`]).
    pub fn optimizer(
        &self,
        name: &str,
        config: &Map,
        rng_seed: u64,
    ) -> Result<Box<dyn Optimizer>, PluginError> {
        let inner: Box<dyn Optimizer> = match self.optimizers.get(name) {
            Some(make) => make(config, rng_seed)?,
            None if external::is_external_name(name) => {
                Box::new(external::optimizer(name, config, rng_seed)?)
            }
            None => return Err(self.unknown(PluginKind::Optimizer, name)),
        };
        Ok(Box::new(CheckedOptimizer::new(inner)))
    }

    /// Builds the evaluator `name` from `config` (registered, or external as for
    /// [`Self::optimizer`]).
    pub fn evaluator(&self, name: &str, config: &Map) -> Result<Box<dyn Evaluator>, PluginError> {
        let inner: Box<dyn Evaluator> = match self.evaluators.get(name) {
            Some(make) => make(config)?,
            None if external::is_external_name(name) => {
                Box::new(external::evaluator(name, config)?)
            }
            None => return Err(self.unknown(PluginKind::Evaluator, name)),
        };
        Ok(Box::new(CheckedEvaluator::new(inner)))
    }

    /// Builds the synthetic-data generator `name` from `config` (registered, or external
    /// as for [`Self::optimizer`]).
    pub fn generator(
        &self,
        name: &str,
        config: &Map,
    ) -> Result<Box<dyn SyntheticDataGenerator>, PluginError> {
        let inner: Box<dyn SyntheticDataGenerator> = match self.generators.get(name) {
            Some(make) => make(config)?,
            None if external::is_external_name(name) => {
                Box::new(external::generator(name, config)?)
            }
            None => return Err(self.unknown(PluginKind::SyntheticData, name)),
        };
        Ok(Box::new(CheckedGenerator::new(inner)))
    }

    fn unknown(&self, kind: PluginKind, name: &str) -> PluginError {
        let names = self.names(kind);
        PluginError::UnknownPlugin {
            kind,
            name: name.to_owned(),
            known: if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_registered_under_their_names() {
        let r = PluginRegistry::with_builtins();
        for kind in [
            PluginKind::Optimizer,
            PluginKind::Evaluator,
            PluginKind::SyntheticData,
        ] {
            assert_eq!(
                r.names(kind),
                vec!["simple_quadratic", "wine_mlp", "wine_quality"]
            );
        }
        let cfg = Map::new();
        for name in ["simple_quadratic", "wine_mlp", "wine_quality"] {
            assert!(r.optimizer(name, &cfg, 1).is_ok());
            assert!(r.evaluator(name, &cfg).is_ok());
            assert!(r.generator(name, &cfg).is_ok());
        }
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let r = PluginRegistry::with_builtins();
        let err = r.optimizer("quadratic", &Map::new(), 0).err().unwrap();
        assert_eq!(
            err.to_string(),
            "unknown optimization_plugin `quadratic`; known names: simple_quadratic, wine_mlp, wine_quality"
        );
        let err = r.generator("predictor", &Map::new()).err().unwrap();
        assert!(matches!(
            err,
            PluginError::UnknownPlugin {
                kind: PluginKind::SyntheticData,
                ..
            }
        ));
        let err = PluginRegistry::empty()
            .evaluator("x", &Map::new())
            .err()
            .unwrap();
        assert!(err.to_string().ends_with("known names: none"), "{err}");
    }

    #[test]
    fn registered_plugins_come_back_checked() {
        struct Nan;
        impl Evaluator for Nan {
            fn metadata(&self) -> crate::DomainMetadata {
                crate::DomainMetadata {
                    performance_metric: "m".into(),
                    higher_is_better: false,
                    param_bounds: BTreeMap::new(),
                }
            }
            fn evaluate(&mut self, _: &Map, _: &crate::SyntheticData) -> Result<f64, PluginError> {
                Ok(f64::NAN)
            }
        }
        let mut r = PluginRegistry::empty();
        r.register_evaluator("nan", |_| Ok(Box::new(Nan)));
        let mut ev = r.evaluator("nan", &Map::new()).unwrap();
        let data = crate::SyntheticData::new(doin_primitives::Value::Null).unwrap();
        assert!(matches!(
            ev.evaluate(&Map::new(), &data),
            Err(PluginError::NonFinitePerformance(_))
        ));
    }
}
