//! Resource bounds on revealed parameters: what a block may carry and what an evaluator
//! agrees to evaluate.
//!
//! Rule, in this order:
//! 1. the parameters' canonical JSON is at most [`MAX_PARAMETERS_BYTES`] long (a block
//!    carries them, and every evaluator of the quorum evaluates them);
//! 2. no number anywhere in them is NaN or infinite;
//! 3. every key the domain bounds (`param_bounds`) holds a number, or a list of numbers,
//!    each within its inclusive bounds (a string, a bool or a nested object where numbers
//!    are due is refused).
//!
//! Keys without a bound are carried as they are (plugins check their own metadata too).

use doin_primitives::cjson::write_map;
use doin_primitives::value::{Map, Value};

use crate::error::ConsensusError;
use crate::params::DomainParams;

/// Largest canonical JSON size of one optimae's parameters: 1 MiB.
pub const MAX_PARAMETERS_BYTES: usize = 1 << 20;

/// Checks `parameters` against the size limit, finiteness and the domain's bounds (see the
/// module doc for the rule).
pub fn check_parameters(parameters: &Map, domain: &DomainParams) -> Result<(), ConsensusError> {
    let mut text = String::new();
    write_map(parameters, &mut text);
    if text.len() > MAX_PARAMETERS_BYTES {
        return Err(ConsensusError::ParametersTooLarge {
            bytes: text.len(),
            max: MAX_PARAMETERS_BYTES,
        });
    }
    for (key, v) in parameters {
        if let Some(bad) = v.find_non_finite() {
            return Err(ConsensusError::ParameterOutOfBounds {
                key: key.clone(),
                reason: format!("{bad} is not a finite number"),
            });
        }
    }
    for (key, (lo, hi)) in &domain.param_bounds {
        let Some(v) = parameters.get(key) else {
            continue;
        };
        let out = |reason: String| ConsensusError::ParameterOutOfBounds {
            key: key.clone(),
            reason,
        };
        let values: Vec<&Value> = match v {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        for x in values {
            let number = match x {
                Value::Int(_) | Value::BigInt(_) | Value::Float(_) => x.as_f64(),
                _ => None,
            };
            let Some(x) = number else {
                return Err(out(format!("expected a number, got {}", x.type_name())));
            };
            if !(x.is_finite() && *lo <= x && x <= *hi) {
                return Err(out(format!("{x} is outside [{lo}, {hi}]")));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::map;

    #[test]
    fn bounds_apply_to_numbers_and_lists() {
        let d = DomainParams::new("d", true).with_bound("x", -1.0, 1.0);
        assert!(check_parameters(&map! { "x" => 0.5, "y" => "free" }, &d).is_ok());
        assert!(
            check_parameters(&map! { "x" => vec![Value::Int(0), Value::Float(1.0)] }, &d).is_ok()
        );
        assert!(check_parameters(&map! { "x" => 1.5 }, &d).is_err());
        assert!(
            check_parameters(&map! { "x" => vec![Value::Float(0.0), Value::Int(2)] }, &d).is_err()
        );
    }

    #[test]
    fn non_numbers_where_numbers_are_due_and_non_finite_numbers_are_refused() {
        let d = DomainParams::new("d", true).with_bound("x", -1.0, 1.0);
        for bad in [
            Value::Str("0.5".into()),
            Value::Bool(true),
            Value::Null,
            Value::Object(map! { "v" => 0.5 }),
            Value::Array(vec![Value::Array(vec![Value::Float(0.5)])]),
        ] {
            let err = check_parameters(&map! { "x" => bad.clone() }, &d).expect_err("refused");
            assert!(
                err.to_string().contains("expected a number"),
                "{bad:?}: {err}"
            );
        }
        let err = check_parameters(&map! { "z" => vec![Value::Float(f64::NAN)] }, &d)
            .expect_err("NaN refused");
        assert!(err.to_string().contains("not a finite number"), "{err}");
    }

    #[test]
    fn oversized_parameter_sets_are_refused() {
        let d = DomainParams::new("d", true);
        let just = "a".repeat(MAX_PARAMETERS_BYTES - r#"{"k": ""}"#.len());
        assert!(check_parameters(&map! { "k" => just.clone() }, &d).is_ok());
        let over = format!("{just}a");
        assert_eq!(
            check_parameters(&map! { "k" => over }, &d),
            Err(ConsensusError::ParametersTooLarge {
                bytes: MAX_PARAMETERS_BYTES + 1,
                max: MAX_PARAMETERS_BYTES
            })
        );
    }
}
