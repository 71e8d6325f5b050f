//! A domain in the node's config: this node's roles in it (optimize, evaluate, relay), its
//! plugins and their settings, the limits of one evaluation and the reward curve.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One domain and this node's roles in it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DomainRole {
    /// The domain's id (required).
    pub domain_id: String,
    /// Run the optimizer.
    pub optimize: bool,
    /// Evaluate others' optimae.
    pub evaluate: bool,
    /// Optimizer plugin name (`simple_quadratic` is the built-in quadratic domain).
    pub optimization_plugin: String,
    /// Evaluator plugin name.
    pub inference_plugin: String,
    /// Synthetic-data plugin name.
    pub synthetic_data_plugin: String,
    /// Optimizer settings.
    pub optimization_config: serde_json::Map<String, serde_json::Value>,
    /// Evaluator settings (falls back to `optimization_config`).
    pub inference_config: serde_json::Map<String, serde_json::Value>,
    /// Synthetic-data settings (falls back to `optimization_config`).
    pub synthetic_data_config: serde_json::Map<String, serde_json::Value>,
    /// `{name: [low, high]}` bounds on parameters.
    pub param_bounds: BTreeMap<String, (f64, f64)>,
    /// Whether the domain has synthetic data.
    pub has_synthetic_data: bool,
    /// `false` = the reference's auto-accept path.
    pub synthetic_data_validation: bool,
    /// Direction of the metric.
    pub higher_is_better: bool,
    /// Metric name injected into plugin configs.
    pub metric_type: String,
    /// Stop optimizing once the best reaches this.
    pub target_performance: Option<f64>,
    /// Limits on an evaluation.
    pub resource_limits: ResourceLimits,
    /// Reward curve settings.
    pub incentive_config: IncentiveConfig,
    /// Price of one inference request for this domain, base units (DOIN extension;
    /// default 0). Reported to clients; collected by the node's payment check.
    pub inference_price: u64,
    /// The interpreter of the domain's external (`python:`) plugins, a program or
    /// `[program, args…]`, set once for all four of them (optimizer, evaluator, synthetic
    /// data, inference); a plugin config's own `plugin_command` overrides it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin_command: Option<serde_json::Value>,
    /// `{NAME: value}` added to the environment of all the domain's external plugins; a
    /// plugin config's own `plugin_env` overrides it name by name.
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub plugin_env: serde_json::Map<String, serde_json::Value>,
}

impl Default for DomainRole {
    fn default() -> Self {
        DomainRole {
            domain_id: String::new(),
            optimize: false,
            evaluate: false,
            optimization_plugin: String::new(),
            inference_plugin: String::new(),
            synthetic_data_plugin: String::new(),
            optimization_config: Default::default(),
            inference_config: Default::default(),
            synthetic_data_config: Default::default(),
            param_bounds: BTreeMap::new(),
            has_synthetic_data: false,
            synthetic_data_validation: true,
            higher_is_better: true,
            metric_type: String::new(),
            target_performance: None,
            resource_limits: ResourceLimits::default(),
            incentive_config: IncentiveConfig::default(),
            inference_price: 0,
            plugin_command: None,
            plugin_env: Default::default(),
        }
    }
}

/// Limits on one evaluation (unknown keys are an error, as in the reference).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ResourceLimits {
    /// Wall-clock seconds an evaluation may take.
    pub max_training_seconds: f64,
    /// Memory an evaluation may use.
    pub max_memory_mb: f64,
    /// Largest `epochs` parameter accepted.
    pub max_epochs: u64,
    /// Largest `batch_size` parameter accepted.
    pub max_batch_size: u64,
}

impl Default for ResourceLimits {
    fn default() -> Self {
        ResourceLimits {
            max_training_seconds: 3600.0,
            max_memory_mb: 8192.0,
            max_epochs: 5000,
            max_batch_size: 512,
        }
    }
}

/// The reward curve of a verified result against its report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct IncentiveConfig {
    /// Direction of the metric.
    pub higher_is_better: bool,
    /// Relative gap still rewarded.
    pub tolerance_margin: f64,
    /// Relative gain earning the full bonus.
    pub bonus_threshold: f64,
    /// Reward fraction at the tolerance edge.
    pub min_reward_fraction: f64,
    /// Largest bonus multiplier.
    pub max_bonus_multiplier: f64,
}

impl Default for IncentiveConfig {
    fn default() -> Self {
        IncentiveConfig {
            higher_is_better: true,
            tolerance_margin: 0.10,
            bonus_threshold: 0.05,
            min_reward_fraction: 0.3,
            max_bonus_multiplier: 1.2,
        }
    }
}
