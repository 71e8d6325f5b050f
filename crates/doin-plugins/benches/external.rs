//! Call overhead of the external plugin protocol: round trips per second to a trivial
//! Python plugin (the example quadratic inferencer on 10 parameters) served by the SDK,
//! next to the same call on the built-in quadratic evaluator.
//!
//! `cargo bench -p doin-plugins --bench external` (needs `python3`).

use std::path::Path;
use std::time::{Duration, Instant};

use doin_plugins::{Evaluator, PluginRegistry, SyntheticData};
use doin_primitives::{map, Map, Value};

fn per_second(
    label: &str,
    ev: &mut dyn Evaluator,
    params: &Map,
    data: &SyntheticData,
    calls: u32,
) -> f64 {
    for _ in 0..50 {
        ev.evaluate(params, data).expect("warm-up call");
    }
    let start = Instant::now();
    for _ in 0..calls {
        ev.evaluate(params, data).expect("call");
    }
    let took = start.elapsed();
    let rate = f64::from(calls) / took.as_secs_f64();
    println!(
        "{label:<42} {calls:>6} calls in {:>8.3} s: {rate:>10.0} round trips/s, {:>8.1} µs per call",
        took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / f64::from(calls)
    );
    rate
}

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python_path = std::env::join_paths([
        repo.join("python/doin-plugin-sdk/src"),
        repo.join("python/examples"),
    ])
    .expect("paths")
    .to_string_lossy()
    .into_owned();
    let config = map! {
        "n_params" => 10u64,
        "plugin_env" => map! { "PYTHONPATH" => python_path },
        "plugin_timeout_seconds" => 30.0,
    };
    let registry = PluginRegistry::with_builtins();
    let params =
        map! { "x" => (0..10).map(|i| Value::Float(f64::from(i) * 0.5)).collect::<Vec<_>>() };

    let started = Instant::now();
    let mut python = registry
        .evaluator("python:quadratic_plugin:QuadraticInferencer", &config)
        .expect("the example plugin starts (is python3 installed?)");
    let start_up: Duration = started.elapsed();
    let mut gen = registry
        .generator("python:quadratic_plugin:QuadraticSyntheticData", &config)
        .expect("generator starts");
    let data = gen.generate(1).expect("data");
    println!(
        "external plugin start-up (spawn, hello, configure): {:.1} ms",
        start_up.as_secs_f64() * 1e3
    );
    let external = per_second(
        "external evaluate (python:quadratic_plugin)",
        python.as_mut(),
        &params,
        &data,
        5_000,
    );

    let mut builtin = registry
        .evaluator("simple_quadratic", &Map::new())
        .expect("built-in");
    let builtin_data = registry
        .generator("simple_quadratic", &Map::new())
        .expect("built-in")
        .generate(1)
        .expect("data");
    let native = per_second(
        "built-in evaluate (simple_quadratic)",
        builtin.as_mut(),
        &params,
        &builtin_data,
        200_000,
    );
    println!(
        "protocol overhead: about {:.0} µs per call ({:.0}x the in-process call)",
        1e6 / external - 1e6 / native,
        native / external
    );
}
