//! Typed reading of plugin config keys, with errors that name the key.
//!
//! A key set to `null` counts as absent, as the reference's `config.get(key)` treats it.
//! Keys a plugin does not read are ignored: the node adds its own (`metric_type`, …).

use std::collections::BTreeMap;

use doin_primitives::{Map, Value};

use crate::error::PluginError;
use crate::plugin::ParamBound;

fn present<'a>(config: &'a Map, key: &str) -> Option<&'a Value> {
    config.get(key).filter(|v| !v.is_null())
}

/// An optional non-negative integer that fits in `u64`.
pub fn optional_u64(config: &Map, key: &str) -> Result<Option<u64>, PluginError> {
    let Some(v) = present(config, key) else {
        return Ok(None);
    };
    let parsed = match v {
        Value::Int(i) => u64::try_from(*i).ok(),
        Value::BigInt(text) => text.parse::<u64>().ok(),
        _ => None,
    };
    parsed.map(Some).ok_or_else(|| {
        PluginError::config(
            key,
            format!(
                "expected a non-negative integer below 2^64, got {}",
                describe(v)
            ),
        )
    })
}

/// An optional count within `range`; anything else is refused naming the range.
pub fn optional_count(
    config: &Map,
    key: &str,
    range: std::ops::RangeInclusive<usize>,
) -> Result<Option<usize>, PluginError> {
    let Some(n) = optional_u64(config, key)? else {
        return Ok(None);
    };
    usize::try_from(n)
        .ok()
        .filter(|n| range.contains(n))
        .map(Some)
        .ok_or_else(|| {
            PluginError::config(
                key,
                format!("expected {} to {}, got {n}", range.start(), range.end()),
            )
        })
}

/// An optional finite number (integer or float).
pub fn optional_f64(config: &Map, key: &str) -> Result<Option<f64>, PluginError> {
    present(config, key)
        .map(|v| number(v, key, "expected a finite number"))
        .transpose()
}

/// An optional array of finite numbers.
pub fn optional_f64_array(config: &Map, key: &str) -> Result<Option<Vec<f64>>, PluginError> {
    let Some(v) = present(config, key) else {
        return Ok(None);
    };
    let Some(items) = v.as_array() else {
        return Err(PluginError::config(
            key,
            format!("expected an array of numbers, got {}", describe(v)),
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| number(item, &format!("{key}[{i}]"), "expected a finite number"))
        .collect::<Result<Vec<f64>, _>>()
        .map(Some)
}

/// Optional bounds `{name: [low, high]}` with finite `low <= high`.
pub fn optional_bounds(
    config: &Map,
    key: &str,
) -> Result<Option<BTreeMap<String, ParamBound>>, PluginError> {
    let Some(v) = present(config, key) else {
        return Ok(None);
    };
    let Some(entries) = v.as_object() else {
        return Err(PluginError::config(
            key,
            format!(
                "expected an object {{name: [low, high]}}, got {}",
                describe(v)
            ),
        ));
    };
    let mut bounds = BTreeMap::new();
    for (name, range) in entries {
        let path = format!("{key}.{name}");
        let pair = range.as_array().filter(|a| a.len() == 2).ok_or_else(|| {
            PluginError::config(
                &path,
                format!("expected [low, high], got {}", describe(range)),
            )
        })?;
        let low = number(&pair[0], &path, "expected a finite low bound")?;
        let high = number(&pair[1], &path, "expected a finite high bound")?;
        if low > high {
            return Err(PluginError::config(
                &path,
                format!("low bound {low} is above high bound {high}"),
            ));
        }
        bounds.insert(name.clone(), ParamBound { low, high });
    }
    Ok(Some(bounds))
}

fn number(v: &Value, key: &str, expected: &str) -> Result<f64, PluginError> {
    match v {
        Value::Int(_) | Value::Float(_) | Value::BigInt(_) => v
            .as_f64()
            .filter(|f| f.is_finite())
            .ok_or_else(|| PluginError::config(key, format!("{expected}, got {}", describe(v)))),
        _ => Err(PluginError::config(
            key,
            format!("{expected}, got {}", describe(v)),
        )),
    }
}

/// A short description of a value for error messages: its type, and the value when short.
fn describe(v: &Value) -> String {
    match v {
        Value::Int(i) => format!("integer {i}"),
        Value::BigInt(t) => format!("integer {t}"),
        Value::Float(f) => format!("float {f}"),
        Value::Bool(b) => format!("boolean {b}"),
        other => other.type_name().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::map;

    #[test]
    fn null_counts_as_absent() {
        let cfg = map! { "seed" => Value::Null };
        assert_eq!(optional_u64(&cfg, "seed"), Ok(None));
        assert_eq!(optional_u64(&cfg, "other"), Ok(None));
    }

    #[test]
    fn u64_refuses_negatives_floats_and_strings_naming_the_key() {
        for bad in [Value::Int(-1), Value::Float(3.0), Value::from("7")] {
            let cfg = map! { "seed" => bad };
            let err = optional_u64(&cfg, "seed").unwrap_err();
            assert!(matches!(&err, PluginError::Config { key, .. } if key == "seed"));
            assert!(err.to_string().contains("`seed`"), "{err}");
        }
        let big = map! { "seed" => u64::MAX };
        assert_eq!(optional_u64(&big, "seed"), Ok(Some(u64::MAX)));
    }

    #[test]
    fn arrays_name_the_bad_element() {
        let cfg = map! { "target" => vec![Value::Float(1.0), Value::from("two")] };
        let err = optional_f64_array(&cfg, "target").unwrap_err();
        assert!(matches!(&err, PluginError::Config { key, .. } if key == "target[1]"));
    }

    #[test]
    fn bounds_are_checked() {
        let ok =
            map! { "param_bounds" => map! { "x" => vec![Value::Int(-20), Value::Float(20.0)] } };
        let b = optional_bounds(&ok, "param_bounds").unwrap().unwrap();
        assert_eq!(
            b["x"],
            ParamBound {
                low: -20.0,
                high: 20.0
            }
        );
        let inverted =
            map! { "param_bounds" => map! { "x" => vec![Value::Int(1), Value::Int(0)] } };
        let err = optional_bounds(&inverted, "param_bounds").unwrap_err();
        assert!(matches!(&err, PluginError::Config { key, .. } if key == "param_bounds.x"));
        let short = map! { "param_bounds" => map! { "x" => vec![Value::Int(1)] } };
        assert!(optional_bounds(&short, "param_bounds").is_err());
    }
}
