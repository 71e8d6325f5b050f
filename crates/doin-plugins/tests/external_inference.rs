//! Inference through the Python SDK: a plugin's own `infer`, the reference's fallback to
//! `evaluate(parameters, data=input_data)`, and results that are refused (non-finite, too
//! large, a raised error) while the process keeps serving.

use std::path::{Path, PathBuf};

use doin_plugins::{PluginError, PluginRegistry};
use doin_primitives::{map, Map, Value};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn config() -> Map {
    let path = std::env::join_paths([
        repo().join("python/doin-plugin-sdk/src"),
        repo().join("python/examples"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
    ])
    .expect("paths")
    .to_string_lossy()
    .into_owned();
    map! {
        "n_params" => 3u64,
        "target" => vec![Value::Float(1.0), Value::Float(2.0), Value::Float(3.0)],
        "bias" => 0.5,
        "plugin_env" => map! { "PYTHONPATH" => path },
        "plugin_timeout_seconds" => 20.0,
        "plugin_memory_mb" => 512u64,
    }
}

fn floats(v: &[f64]) -> Value {
    Value::Array(v.iter().map(|f| Value::Float(*f)).collect())
}

#[test]
fn a_plugin_infer_method_answers_and_bad_results_are_refused() {
    let registry = PluginRegistry::empty();
    let mut ev = registry
        .evaluator("python:linear_inference:LinearModel", &config())
        .expect("plugin starts");
    let w = map! { "w" => floats(&[1.0, 2.0]) };
    let out = ev
        .infer(&w, &Value::Object(map! { "x" => floats(&[3.0, 4.0]) }))
        .expect("infer");
    assert_eq!(out, Value::Object(map! { "y" => 11.5 }));

    let err = ev
        .infer(&w, &Value::Object(map! { "mode" => "nan" }))
        .unwrap_err();
    assert!(
        matches!(&err, PluginError::Failed { method, error_type, .. }
            if method == "infer" && error_type == "InvalidResult"),
        "{err}"
    );
    let err = ev
        .infer(&w, &Value::Object(map! { "mode" => "huge" }))
        .unwrap_err();
    assert!(
        matches!(&err, PluginError::InvalidOutput(r) if r.contains("limit")),
        "{err}"
    );
    let err = ev
        .infer(&w, &Value::Object(map! { "mode" => "raise" }))
        .unwrap_err();
    assert!(err.to_string().contains("as many values as w"), "{err}");
    // Input is checked before the plugin sees it.
    let err = ev
        .infer(&w, &Value::Object(map! { "x" => floats(&[f64::NAN]) }))
        .unwrap_err();
    assert!(matches!(err, PluginError::InvalidInput(_)), "{err}");
    // The process stayed up through all of it.
    let again = ev
        .infer(&w, &Value::Object(map! { "x" => floats(&[1.0, 1.0]) }))
        .expect("still serving");
    assert_eq!(again, Value::Object(map! { "y" => 3.5 }));
}

#[test]
fn a_reference_style_plugin_infers_through_evaluate() {
    let registry = PluginRegistry::empty();
    let mut ev = registry
        .evaluator("python:quadratic_plugin:QuadraticInferencer", &config())
        .expect("plugin starts");
    let x = map! { "x" => floats(&[1.0, 2.0, 5.0]) };
    // No `infer`: evaluate(parameters, data=None) scores against the configured target.
    let out = ev.infer(&x, &Value::Null).expect("infer");
    assert_eq!(out.as_f64(), Some(-4.0), "{out:?}");
}
