//! Inference: a domain's best model applied to a client's input.
//!
//! An inference request names a domain and carries an optional JSON `input`; the node
//! takes the parameters of the domain's best optimae on chain and calls
//! [`crate::Evaluator::infer`]`(parameters, input)`. What the built-in domains answer:
//!
//! * `wine_quality` — the ridge model with the best hyperparameters, trained on all 1,599
//!   wines, predicts the quality of the client's wines. Input: `{"wine": W}` or
//!   `{"wines": [W, …]}` (at most [`crate::wine::MAX_WINES`]), where a wine `W` is either an
//!   object with the 11 measurements by name ([`crate::wine::FEATURE_NAMES`], in the data
//!   set's units; a space may stand for an underscore) or an array of the 11 numbers in
//!   that order. Output: `{"predictions": [q, …], "model": {hyperparameters,
//!   "trained_on": 1599}}`, each `q` within the data set's range of scores (3 to 8). The
//!   fitted model is kept until the best hyperparameters change.
//! * `simple_quadratic` — the "model" is the best point itself. Without input the answer is
//!   that point and the objective there; with `{"x": [...]}` it is the objective
//!   `-Σ (x_i - t_i)^2` at the client's point (unweighted, as an optimizer measures it):
//!   `{"x": [...], "value": f, "best_x": [...], "best_value": f}`.
//! * External plugins — method `infer` of the line protocol ([`crate::external`]); the SDK
//!   calls the plugin's `infer(parameters, input_data)`, or, as the reference does, its
//!   `evaluate(parameters, data=input_data)`.
//!
//! Both directions are checked like peer input: the input must be finite and at most
//! [`MAX_INPUT_BYTES`] of canonical JSON ([`check_input`]); the output must be finite and
//! at most [`MAX_OUTPUT_BYTES`] ([`check_output`]). A plugin's time limit is the domain's
//! (`resource_limits.max_training_seconds`, enforced on external plugins by their process
//! limits).

use doin_primitives::cjson::to_cjson;
use doin_primitives::Value;

use crate::error::PluginError;

/// The largest inference input accepted, in bytes of canonical JSON.
pub const MAX_INPUT_BYTES: usize = 64 * 1024;
/// The largest inference result accepted from a plugin, in bytes of canonical JSON.
pub const MAX_OUTPUT_BYTES: usize = 256 * 1024;

/// `input` if it is finite and at most [`MAX_INPUT_BYTES`]; the error says which.
pub fn check_input(input: &Value) -> Result<(), PluginError> {
    if let Some(f) = input.find_non_finite() {
        return Err(PluginError::InvalidInput(format!(
            "contains the non-finite number {f}"
        )));
    }
    let size = to_cjson(input).len();
    if size > MAX_INPUT_BYTES {
        return Err(PluginError::InvalidInput(format!(
            "{size} bytes of JSON, more than the limit of {MAX_INPUT_BYTES}"
        )));
    }
    Ok(())
}

/// `output` if it is finite and at most [`MAX_OUTPUT_BYTES`]: a plugin's result is
/// served to clients and recorded, so it is held to the rules of peer input.
pub fn check_output(output: Value) -> Result<Value, PluginError> {
    if let Some(f) = output.find_non_finite() {
        return Err(PluginError::InvalidOutput(format!(
            "contains the non-finite number {f}"
        )));
    }
    let size = to_cjson(&output).len();
    if size > MAX_OUTPUT_BYTES {
        return Err(PluginError::InvalidOutput(format!(
            "{size} bytes of JSON, more than the limit of {MAX_OUTPUT_BYTES}"
        )));
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_or_oversized_input_and_output_are_refused() {
        assert!(check_input(&Value::Array(vec![Value::Float(1.0)])).is_ok());
        let nan = Value::Array(vec![Value::Float(f64::NAN)]);
        assert!(matches!(
            check_input(&nan),
            Err(PluginError::InvalidInput(r)) if r.contains("non-finite")
        ));
        assert!(matches!(
            check_output(nan),
            Err(PluginError::InvalidOutput(_))
        ));
        let big = Value::Str("a".repeat(MAX_INPUT_BYTES));
        assert!(matches!(
            check_input(&big),
            Err(PluginError::InvalidInput(r)) if r.contains("limit")
        ));
        assert!(check_output(big).is_ok());
        let huge = Value::Str("a".repeat(MAX_OUTPUT_BYTES));
        assert!(matches!(
            check_output(huge),
            Err(PluginError::InvalidOutput(r)) if r.contains("limit")
        ));
    }
}
