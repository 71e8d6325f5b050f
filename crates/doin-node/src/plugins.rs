//! The plugins each configured domain runs on this node, built from the registry.

use doin_plugins::{Evaluator, Optimizer, PluginError, PluginRegistry, SyntheticDataGenerator};
use doin_primitives::value::{Map, Value};

use crate::config::DomainRole;

/// A plugin config as the plugins read it: the domain's config object, with the domain's
/// `param_bounds` added when the config has none (as the reference does).
pub fn plugin_config(
    role: &DomainRole,
    section: &serde_json::Map<String, serde_json::Value>,
) -> Result<Map, PluginError> {
    let mut text_map = section.clone();
    if !text_map.contains_key("param_bounds") && !role.param_bounds.is_empty() {
        let bounds: serde_json::Map<String, serde_json::Value> = role
            .param_bounds
            .iter()
            .map(|(k, (lo, hi))| (k.clone(), serde_json::json!([lo, hi])))
            .collect();
        text_map.insert("param_bounds".into(), serde_json::Value::Object(bounds));
    }
    let text = serde_json::Value::Object(text_map).to_string();
    match doin_primitives::json::parse(&text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(PluginError::config(
            "optimization_config",
            "must be a JSON object",
        )),
        Err(e) => Err(PluginError::config("optimization_config", e.to_string())),
    }
}

/// `config` with the domain's `resource_limits` as the limits of an external plugin
/// process (`plugin_timeout_seconds`, `plugin_memory_mb`) where it sets none; built-in
/// plugins ignore both keys.
fn with_process_limits(role: &DomainRole, mut config: Map) -> Map {
    let limits = &role.resource_limits;
    config
        .entry("plugin_timeout_seconds".to_owned())
        .or_insert(Value::Float(limits.max_training_seconds));
    config
        .entry("plugin_memory_mb".to_owned())
        .or_insert(Value::from(limits.max_memory_mb.max(0.0).ceil() as u64));
    config
}

/// The evaluator side of a domain: synthetic data and the evaluator.
pub struct EvaluatorPlugins {
    /// Generates seeded synthetic data.
    pub generator: Box<dyn SyntheticDataGenerator>,
    /// Evaluates parameters on it.
    pub evaluator: Box<dyn Evaluator>,
}

/// Builds a domain's evaluator plugins (`inference_config` / `synthetic_data_config`, each
/// falling back to `optimization_config` as in the reference).
pub fn evaluator_plugins(
    registry: &PluginRegistry,
    role: &DomainRole,
) -> Result<EvaluatorPlugins, PluginError> {
    let pick = |m: &serde_json::Map<String, serde_json::Value>| {
        if m.is_empty() {
            role.optimization_config.clone()
        } else {
            m.clone()
        }
    };
    let eval_cfg = with_process_limits(role, plugin_config(role, &pick(&role.inference_config))?);
    let synth_cfg = with_process_limits(
        role,
        plugin_config(role, &pick(&role.synthetic_data_config))?,
    );
    let or_optimizer = |name: &str| {
        if name.is_empty() {
            role.optimization_plugin.clone()
        } else {
            name.to_owned()
        }
    };
    Ok(EvaluatorPlugins {
        generator: registry.generator(&or_optimizer(&role.synthetic_data_plugin), &synth_cfg)?,
        evaluator: registry.evaluator(&or_optimizer(&role.inference_plugin), &eval_cfg)?,
    })
}

/// Builds a domain's inference plugin alone (`inference_config` as for
/// [`evaluator_plugins`]), for the inference worker.
pub fn inference_plugin(
    registry: &PluginRegistry,
    role: &DomainRole,
) -> Result<Box<dyn Evaluator>, PluginError> {
    let section = if role.inference_config.is_empty() {
        &role.optimization_config
    } else {
        &role.inference_config
    };
    let cfg = with_process_limits(role, plugin_config(role, section)?);
    registry.evaluator(inference_plugin_name(role), &cfg)
}

/// The name of a domain's inference plugin (`inference_plugin`, else the optimizer's).
pub fn inference_plugin_name(role: &DomainRole) -> &str {
    if role.inference_plugin.is_empty() {
        &role.optimization_plugin
    } else {
        &role.inference_plugin
    }
}

/// Builds a domain's optimizer with a node-specific RNG seed.
pub fn optimizer_plugin(
    registry: &PluginRegistry,
    role: &DomainRole,
    rng_seed: u64,
) -> Result<Box<dyn Optimizer>, PluginError> {
    let cfg = with_process_limits(role, plugin_config(role, &role.optimization_config)?);
    registry.optimizer(&role.optimization_plugin, &cfg, rng_seed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NodeConfig;

    #[test]
    fn the_wine_quality_example_config_runs_its_domain() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/configs/wine_quality_node.json");
        let config = NodeConfig::load(&path).expect("config").config;
        let role = &config.domains[0];
        let registry = PluginRegistry::with_builtins();
        let mut optimizer = optimizer_plugin(&registry, role, 1).expect("optimizer");
        let mut plugins = evaluator_plugins(&registry, role).expect("evaluator plugins");
        let candidate = optimizer.step(None).expect("a round");
        let data = plugins.generator.generate(9).expect("folds");
        let verified = plugins
            .evaluator
            .evaluate(&candidate.parameters, &data)
            .expect("evaluation");
        assert_eq!(
            optimizer.metadata().performance_metric,
            doin_plugins::wine::METRIC
        );
        assert!((verified - candidate.performance).abs() <= 0.05 * verified.abs());
    }
}
