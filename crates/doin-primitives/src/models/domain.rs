//! Domain and DomainConfig: an optimization problem, its metric and its plugins.
//!
//! The reference hashes nothing here; a domain is identified by its `id` string.

use crate::fields::{Fields, ModelError};
use crate::models::WireModel;
use crate::value::{Map, Value};

/// Which plugins serve a domain.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainConfig {
    /// The optimizer plugin's name.
    pub optimization_plugin: String,
    /// The inference (evaluator) plugin's name.
    pub inference_plugin: String,
    /// The synthetic-data plugin's name, if any.
    pub synthetic_data_plugin: Option<String>,
    /// Free-form plugin settings.
    pub plugin_config: Map,
}

impl WireModel for DomainConfig {
    fn from_value(v: &Value) -> Result<Self, ModelError> {
        let f = Fields::new("DomainConfig", v)?;
        Ok(DomainConfig {
            optimization_plugin: f.str("optimization_plugin")?,
            inference_plugin: f.str("inference_plugin")?,
            synthetic_data_plugin: f.opt_str("synthetic_data_plugin")?,
            plugin_config: f.map_or_empty("plugin_config")?,
        })
    }

    fn to_value(&self) -> Value {
        Value::Object(crate::map! {
            "optimization_plugin" => self.optimization_plugin.clone(),
            "inference_plugin" => self.inference_plugin.clone(),
            "synthetic_data_plugin" => self.synthetic_data_plugin.clone(),
            "plugin_config" => self.plugin_config.clone(),
        })
    }
}

/// An optimization problem nodes compete on.
#[derive(Debug, Clone, PartialEq)]
pub struct Domain {
    /// The domain's id (also its gossip topic).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// What the domain is about.
    pub description: String,
    /// The metric's name (e.g. `"mse"`).
    pub performance_metric: String,
    /// Whether a larger metric is better.
    pub higher_is_better: bool,
    /// The static weight of the domain's increments toward a block.
    pub weight: f64,
    /// The plugins.
    pub config: DomainConfig,
    /// The best verified performance so far.
    pub current_best_performance: Option<f64>,
}

impl WireModel for Domain {
    fn from_value(v: &Value) -> Result<Self, ModelError> {
        let f = Fields::new("Domain", v)?;
        let config = match f.get("config") {
            Some(c) => DomainConfig::from_value(c)?,
            None => {
                return Err(ModelError::Missing {
                    model: "Domain",
                    field: "config",
                })
            }
        };
        Ok(Domain {
            id: f.str("id")?,
            name: f.str("name")?,
            description: f.str_or("description", "")?,
            performance_metric: f.str("performance_metric")?,
            higher_is_better: f.bool_or("higher_is_better", true)?,
            weight: f.f64_or("weight", 1.0)?,
            config,
            current_best_performance: f.opt_f64("current_best_performance")?,
        })
    }

    fn to_value(&self) -> Value {
        Value::Object(crate::map! {
            "id" => self.id.clone(),
            "name" => self.name.clone(),
            "description" => self.description.clone(),
            "performance_metric" => self.performance_metric.clone(),
            "higher_is_better" => self.higher_is_better,
            "weight" => self.weight,
            "config" => self.config.to_value(),
            "current_best_performance" => self.current_best_performance,
        })
    }
}
