//! The plugin traits served by an external process.

use std::collections::BTreeMap;

use doin_primitives::{Map, Value};

use super::process::PluginProcess;
use super::protocol::{self, Method};
use super::ExternalCommand;
use crate::config::optional_bounds;
use crate::error::{PluginError, PluginKind};
use crate::plugin::{
    Candidate, DomainMetadata, Evaluator, Optimizer, SyntheticData, SyntheticDataGenerator,
};
use crate::validate::check_performance;

/// The metric name when neither the plugin nor the config names one.
pub const DEFAULT_METRIC: &str = "performance";

/// An [`Optimizer`] served by an external process.
pub struct ExternalOptimizer {
    process: PluginProcess,
    metadata: DomainMetadata,
}

impl ExternalOptimizer {
    /// Starts the plugin and configures it with `config` and the node-specific `rng_seed`
    /// (sent as `params.rng_seed` of `configure`, folded by [`super::plugin_seed`]).
    pub fn spawn(
        command: ExternalCommand,
        config: &Map,
        rng_seed: u64,
    ) -> Result<Self, PluginError> {
        let mut params = configure_params(config);
        params.insert(
            "rng_seed".into(),
            Value::from(u64::from(super::plugin_seed(rng_seed))),
        );
        let (process, metadata) = start(command, PluginKind::Optimizer, config, params)?;
        Ok(ExternalOptimizer { process, metadata })
    }

    /// How many times its process has been started (1 + restarts).
    pub fn starts(&self) -> u64 {
        self.process.starts()
    }
}

impl Optimizer for ExternalOptimizer {
    fn metadata(&self) -> DomainMetadata {
        self.metadata.clone()
    }

    fn step(&mut self, current_best: Option<&Candidate>) -> Result<Candidate, PluginError> {
        let mut params = Map::new();
        params.insert(
            "current_best_params".into(),
            current_best.map_or(Value::Null, |b| Value::Object(b.parameters.clone())),
        );
        params.insert(
            "current_best_performance".into(),
            current_best.map_or(Value::Null, |b| Value::Float(b.performance)),
        );
        let result = self.process.call(Method::Optimize, params)?;
        let obj = result_object(&self.process, &result, Method::Optimize)?;
        let parameters = match obj.get("params") {
            Some(Value::Object(p)) => p.clone(),
            _ => {
                return Err(malformed(
                    &self.process,
                    Method::Optimize,
                    "needs `params`, a JSON object",
                ))
            }
        };
        let performance = protocol::performance(obj.get("performance"))
            .map_err(|r| malformed(&self.process, Method::Optimize, &r))?;
        Ok(Candidate {
            parameters,
            performance: check_performance(performance)?,
        })
    }
}

/// An [`Evaluator`] (the reference's inference plugin) served by an external process.
pub struct ExternalEvaluator {
    process: PluginProcess,
    metadata: DomainMetadata,
}

impl ExternalEvaluator {
    /// Starts the plugin and configures it with `config`.
    pub fn spawn(command: ExternalCommand, config: &Map) -> Result<Self, PluginError> {
        let params = configure_params(config);
        let (process, metadata) = start(command, PluginKind::Evaluator, config, params)?;
        Ok(ExternalEvaluator { process, metadata })
    }

    /// How many times its process has been started (1 + restarts).
    pub fn starts(&self) -> u64 {
        self.process.starts()
    }
}

impl Evaluator for ExternalEvaluator {
    fn metadata(&self) -> DomainMetadata {
        self.metadata.clone()
    }

    fn evaluate(&mut self, parameters: &Map, data: &SyntheticData) -> Result<f64, PluginError> {
        let mut params = Map::new();
        params.insert("parameters".into(), Value::Object(parameters.clone()));
        params.insert("data".into(), data.data.clone());
        let result = self.process.call(Method::Evaluate, params)?;
        let obj = result_object(&self.process, &result, Method::Evaluate)?;
        let performance = protocol::performance(obj.get("performance"))
            .map_err(|r| malformed(&self.process, Method::Evaluate, &r))?;
        check_performance(performance)
    }

    fn infer(&mut self, parameters: &Map, input: &Value) -> Result<Value, PluginError> {
        let mut params = Map::new();
        params.insert("parameters".into(), Value::Object(parameters.clone()));
        params.insert("input".into(), input.clone());
        let result = self.process.call(Method::Infer, params)?;
        let obj = result_object(&self.process, &result, Method::Infer)?;
        obj.get("output")
            .cloned()
            .ok_or_else(|| malformed(&self.process, Method::Infer, "needs `output`"))
    }
}

/// A [`SyntheticDataGenerator`] served by an external process.
pub struct ExternalGenerator {
    process: PluginProcess,
}

impl ExternalGenerator {
    /// Starts the plugin and configures it with `config`.
    pub fn spawn(command: ExternalCommand, config: &Map) -> Result<Self, PluginError> {
        let params = configure_params(config);
        let (process, _) = start(command, PluginKind::SyntheticData, config, params)?;
        Ok(ExternalGenerator { process })
    }

    /// How many times its process has been started (1 + restarts).
    pub fn starts(&self) -> u64 {
        self.process.starts()
    }
}

impl SyntheticDataGenerator for ExternalGenerator {
    fn generate(&mut self, seed: u64) -> Result<SyntheticData, PluginError> {
        let mut params = Map::new();
        params.insert(
            "seed".into(),
            Value::from(u64::from(super::plugin_seed(seed))),
        );
        let result = self.process.call(Method::Generate, params)?;
        let obj = result_object(&self.process, &result, Method::Generate)?;
        let data = obj
            .get("data")
            .cloned()
            .ok_or_else(|| malformed(&self.process, Method::Generate, "needs `data`"))?;
        SyntheticData::new(data)
    }
}

/// The `configure` params: `{"config": {…}}` without the keys that steer the process.
fn configure_params(config: &Map) -> Map {
    let plugin_config: Map = config
        .iter()
        .filter(|(k, _)| !super::PROCESS_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut params = Map::new();
    params.insert("config".into(), Value::Object(plugin_config));
    params
}

/// Starts the process eagerly, so that a wrong module or class name fails when the node
/// builds the domain rather than on its first round, and reads the domain metadata.
fn start(
    command: ExternalCommand,
    kind: PluginKind,
    config: &Map,
    params: Map,
) -> Result<(PluginProcess, DomainMetadata), PluginError> {
    let mut process = PluginProcess::new(command, kind, params);
    let configured = process.ensure_started()?.unwrap_or(Value::Null);
    let metadata = metadata(&configured, config)?;
    Ok((process, metadata))
}

/// The domain metadata: metric and direction from the plugin's `get_domain_metadata()` (the
/// `metadata` of the configure result) when it has one, else the config's
/// `performance_metric` / `metric_type` and `higher_is_better` (default `true`, as the
/// reference's quadratic); bounds from the config's `param_bounds`.
fn metadata(configured: &Value, config: &Map) -> Result<DomainMetadata, PluginError> {
    let declared = configured
        .as_object()
        .and_then(|m| m.get("metadata"))
        .and_then(Value::as_object);
    let pick = |key: &str| {
        declared
            .and_then(|m| m.get(key))
            .or_else(|| config.get(key))
    };
    let performance_metric = pick("performance_metric")
        .or_else(|| config.get("metric_type"))
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_METRIC)
        .to_owned();
    let higher_is_better = match pick("higher_is_better") {
        Some(Value::Bool(b)) => *b,
        None | Some(Value::Null) => true,
        Some(other) => {
            return Err(PluginError::config(
                "higher_is_better",
                format!("expected a boolean, got {}", other.type_name()),
            ))
        }
    };
    Ok(DomainMetadata {
        performance_metric,
        higher_is_better,
        param_bounds: optional_bounds(config, "param_bounds")?.unwrap_or_else(BTreeMap::new),
    })
}

fn result_object<'a>(
    process: &PluginProcess,
    result: &'a Value,
    method: Method,
) -> Result<&'a Map, PluginError> {
    result
        .as_object()
        .ok_or_else(|| malformed(process, method, "must be a JSON object"))
}

fn malformed(process: &PluginProcess, method: Method, reason: &str) -> PluginError {
    PluginError::Protocol {
        plugin: process.label().to_owned(),
        reason: format!("the result of `{}` {reason}", method.as_str()),
    }
}
