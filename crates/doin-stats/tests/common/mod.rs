//! Shared test fixtures: experiments, and blocks of a solo chain built with the consensus
//! crate's own test helpers.
#![allow(dead_code, unreachable_pub)]

#[path = "../../../doin-consensus/tests/common/mod.rs"]
pub mod chain;

use doin_primitives::{map, Timestamp, Value};
use doin_stats::ExperimentInfo;

pub fn experiment(id: &str, domain: &str) -> ExperimentInfo {
    ExperimentInfo {
        experiment_id: id.into(),
        domain_id: domain.into(),
        node_id: "node-1".into(),
        hostname: "test-host".into(),
        optimizer_plugin: "simple_quadratic".into(),
        performance_metric: "fitness".into(),
        metric_schema: String::new(),
        higher_is_better: true,
        optimization_config: r#"{"n_params": 2}"#.into(),
        param_bounds: r#"{"x": [-20.0, 20.0]}"#.into(),
        target_performance: Some(-1.0),
        started_at: Timestamp::now_utc(),
        doin_version: "0.1.0".into(),
    }
}

pub fn params(k: u64) -> doin_primitives::Map {
    map! { "x" => vec![Value::Float(k as f64), Value::Float(-1.5)] }
}
