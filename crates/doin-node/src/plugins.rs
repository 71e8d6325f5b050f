//! The plugins each configured domain runs on this node, built from the registry.

use doin_plugins::external::PROCESS_KEYS;
use doin_plugins::{Evaluator, Optimizer, PluginError, PluginRegistry, SyntheticDataGenerator};
use doin_primitives::value::{Map, Value};

use crate::config::DomainRole;

/// A plugin config as the plugins read it: the domain's config object, with the domain's
/// `param_bounds` added when the config has none (as the reference does), and the
/// settings of an external plugin's process shared as [`with_shared_process`] says.
pub fn plugin_config(
    role: &DomainRole,
    section: &serde_json::Map<String, serde_json::Value>,
) -> Result<Map, PluginError> {
    let mut text_map = with_shared_process(role, section);
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

/// `section` with the process settings ([`PROCESS_KEYS`]: `plugin_command`, `plugin_env`,
/// …) a domain sets once for all its plugins. Each key comes from the section itself, else
/// from the domain (`plugin_command`, `plugin_env` beside `optimization_plugin`), else from
/// `optimization_config`, so that a synthetic-data or inference plugin with a config of its
/// own still runs under the optimizer's interpreter; `plugin_env` objects merge name by
/// name, the nearer one winning.
fn with_shared_process(
    role: &DomainRole,
    section: &serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut domain = serde_json::Map::new();
    if let Some(command) = &role.plugin_command {
        domain.insert("plugin_command".into(), command.clone());
    }
    if !role.plugin_env.is_empty() {
        domain.insert(
            "plugin_env".into(),
            serde_json::Value::Object(role.plugin_env.clone()),
        );
    }
    let layers = [&role.optimization_config, &domain, section];
    let mut out = section.clone();
    for key in PROCESS_KEYS {
        let values: Vec<&serde_json::Value> = layers.iter().filter_map(|l| l.get(key)).collect();
        let Some(nearest) = values.last() else {
            continue;
        };
        let value = match key {
            "plugin_env" if values.iter().all(|v| v.is_object()) => serde_json::Value::Object(
                values
                    .iter()
                    .filter_map(|v| v.as_object())
                    .flat_map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())))
                    .collect(),
            ),
            // A malformed value is left for the plugin's own config check to name.
            _ => (*nearest).clone(),
        };
        out.insert(key.to_owned(), value);
    }
    out
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

    fn object(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_domains_plugin_command_and_environment_reach_every_plugin() {
        let role = DomainRole {
            plugin_command: Some(serde_json::json!(["python3", "-X", "utf8"])),
            plugin_env: object(serde_json::json!({"PYTHONPATH": "/sdk", "A": "domain"})),
            optimization_config: object(serde_json::json!({"n_params": 3})),
            synthetic_data_config: object(serde_json::json!({
                "noise_std": 0.1,
                "plugin_env": {"A": "synthetic", "B": "own"}
            })),
            inference_config: object(serde_json::json!({"plugin_command": "python3.12"})),
            ..DomainRole::default()
        };
        let synthetic = with_shared_process(&role, &role.synthetic_data_config);
        assert_eq!(
            synthetic["plugin_command"],
            serde_json::json!(["python3", "-X", "utf8"])
        );
        assert_eq!(
            synthetic["plugin_env"],
            serde_json::json!({"PYTHONPATH": "/sdk", "A": "synthetic", "B": "own"})
        );
        assert_eq!(synthetic["noise_std"], 0.1);
        let inference = with_shared_process(&role, &role.inference_config);
        assert_eq!(inference["plugin_command"], "python3.12");
        assert_eq!(
            inference["plugin_env"],
            serde_json::json!({"PYTHONPATH": "/sdk", "A": "domain"})
        );
        assert!(
            with_shared_process(&role, &role.optimization_config).contains_key("plugin_command")
        );
        // Nothing set anywhere: nothing added (built-in plugins see their config as is).
        let plain = DomainRole::default();
        assert_eq!(
            with_shared_process(&plain, &role.optimization_config),
            role.optimization_config
        );
    }

    #[test]
    fn an_optimizers_process_settings_reach_plugins_with_configs_of_their_own() {
        let role = DomainRole {
            optimization_config: object(serde_json::json!({
                "plugin_command": "python3",
                "plugin_env": {"PYTHONPATH": "/sdk"},
                "plugin_timeout_seconds": 5,
                "step_size": 0.5
            })),
            synthetic_data_config: object(serde_json::json!({"noise_std": 0.1})),
            ..DomainRole::default()
        };
        let synthetic = with_shared_process(&role, &role.synthetic_data_config);
        assert_eq!(
            synthetic["plugin_env"],
            serde_json::json!({"PYTHONPATH": "/sdk"})
        );
        assert_eq!(synthetic["plugin_timeout_seconds"], 5);
        assert!(
            !synthetic.contains_key("step_size"),
            "only process settings are shared"
        );
    }

    /// Loads the example config `file`, runs one optimizer round of its first domain and
    /// has the domain's evaluator re-score the candidate on seeded data: the metric is
    /// `metric` and the two scores agree within the config's quorum tolerance.
    fn example_config_runs_its_domain(file: &str, metric: &str) -> NodeConfig {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/configs")
            .join(file);
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
        assert_eq!(optimizer.metadata().performance_metric, metric);
        assert!(
            (verified - candidate.performance).abs() <= config.quorum_tolerance * verified.abs(),
            "{file}: claimed {}, verified {verified}",
            candidate.performance
        );
        config
    }

    #[test]
    fn the_wine_quality_example_config_runs_its_domain() {
        example_config_runs_its_domain("wine_quality_node.json", doin_plugins::wine::METRIC);
    }

    #[test]
    fn the_wine_mlp_example_config_runs_its_domain() {
        let config =
            example_config_runs_its_domain("wine_mlp_node.json", doin_plugins::mlp::METRIC);
        assert_eq!(config.quorum_tolerance, doin_plugins::mlp::QUORUM_TOLERANCE);
    }
}
