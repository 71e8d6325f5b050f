//! Lenient reading of model fields from wire JSON, as pydantic's lax mode reads them.
//!
//! Unknown keys are ignored; an int is accepted where a float is due and an integral float
//! where an int is due; a missing field with a default takes the default. Every refusal is
//! a [`ModelError`] naming the field, and every float is checked to be finite.

use crate::timestamp::Timestamp;
use crate::value::{Map, Value};

/// Why a wire object could not become a model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// The input is not JSON.
    #[error(transparent)]
    Json(#[from] crate::json::JsonError),
    /// The value is not a JSON object.
    #[error("{model}: expected a JSON object, got {got}")]
    NotAnObject {
        /// The model being read.
        model: &'static str,
        /// The JSON type received.
        got: &'static str,
    },
    /// A required field is absent.
    #[error("{model}.{field}: field required")]
    Missing {
        /// The model being read.
        model: &'static str,
        /// The field.
        field: &'static str,
    },
    /// A field has the wrong type or an invalid value.
    #[error("{model}.{field}: {reason}")]
    Invalid {
        /// The model being read.
        model: &'static str,
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// A typed view of one wire object, for one model.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    model: &'static str,
    map: &'a Map,
}

impl<'a> Fields<'a> {
    /// Views `v` as the object of `model`.
    pub fn new(model: &'static str, v: &'a Value) -> Result<Self, ModelError> {
        match v {
            Value::Object(map) => Ok(Fields { model, map }),
            other => Err(ModelError::NotAnObject {
                model,
                got: other.type_name(),
            }),
        }
    }

    /// Views an object already known to be one, for `model`.
    pub fn of_map(model: &'static str, map: &'a Map) -> Self {
        Fields { model, map }
    }

    /// The underlying map.
    pub fn map(&self) -> &'a Map {
        self.map
    }

    fn invalid(&self, field: &'static str, reason: impl Into<String>) -> ModelError {
        ModelError::Invalid {
            model: self.model,
            field,
            reason: reason.into(),
        }
    }

    fn missing(&self, field: &'static str) -> ModelError {
        ModelError::Missing {
            model: self.model,
            field,
        }
    }

    /// The raw value of a field, `None` when absent.
    pub fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field)
    }

    /// A required string.
    pub fn str(&self, field: &'static str) -> Result<String, ModelError> {
        match self.map.get(field) {
            None => Err(self.missing(field)),
            Some(v) => self.as_string(field, v),
        }
    }

    /// A string with a default.
    pub fn str_or(&self, field: &'static str, default: &str) -> Result<String, ModelError> {
        match self.map.get(field) {
            None => Ok(default.to_owned()),
            Some(v) => self.as_string(field, v),
        }
    }

    /// An optional string (`null` or absent is `None`).
    pub fn opt_str(&self, field: &'static str) -> Result<Option<String>, ModelError> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => self.as_string(field, v).map(Some),
        }
    }

    fn as_string(&self, field: &'static str, v: &Value) -> Result<String, ModelError> {
        match v {
            Value::Str(s) => Ok(s.clone()),
            other => Err(self.invalid(
                field,
                format!("expected a string, got {}", other.type_name()),
            )),
        }
    }

    /// A required float (ints coerced).
    pub fn f64(&self, field: &'static str) -> Result<f64, ModelError> {
        match self.map.get(field) {
            None => Err(self.missing(field)),
            Some(v) => self.as_f64(field, v),
        }
    }

    /// A float with a default.
    pub fn f64_or(&self, field: &'static str, default: f64) -> Result<f64, ModelError> {
        match self.map.get(field) {
            None => Ok(default),
            Some(v) => self.as_f64(field, v),
        }
    }

    /// An optional float (`null` or absent is `None`).
    pub fn opt_f64(&self, field: &'static str) -> Result<Option<f64>, ModelError> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => self.as_f64(field, v).map(Some),
        }
    }

    fn as_f64(&self, field: &'static str, v: &Value) -> Result<f64, ModelError> {
        let f = match v {
            Value::Float(f) => *f,
            Value::Int(i) => *i as f64,
            Value::BigInt(t) => t.parse::<f64>().unwrap_or(f64::INFINITY),
            Value::Str(s) => s
                .trim()
                .parse::<f64>()
                .map_err(|_| self.invalid(field, format!("expected a number, got string {s:?}")))?,
            other => {
                return Err(self.invalid(
                    field,
                    format!("expected a number, got {}", other.type_name()),
                ))
            }
        };
        if f.is_finite() {
            Ok(f)
        } else {
            Err(self.invalid(field, "number is not finite (NaN and Infinity are refused)"))
        }
    }

    /// A required integer (integral floats coerced).
    pub fn i64(&self, field: &'static str) -> Result<i64, ModelError> {
        match self.map.get(field) {
            None => Err(self.missing(field)),
            Some(v) => self.as_i64(field, v),
        }
    }

    /// An integer with a default.
    pub fn i64_or(&self, field: &'static str, default: i64) -> Result<i64, ModelError> {
        match self.map.get(field) {
            None => Ok(default),
            Some(v) => self.as_i64(field, v),
        }
    }

    fn as_i64(&self, field: &'static str, v: &Value) -> Result<i64, ModelError> {
        match v {
            Value::Int(i) => Ok(*i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(*f as i64),
            Value::Float(_) => {
                Err(self.invalid(field, "expected an integer, got a fractional number"))
            }
            Value::BigInt(_) => Err(self.invalid(field, "integer out of the 64-bit range")),
            Value::Str(s) => s
                .trim()
                .parse::<i64>()
                .map_err(|_| self.invalid(field, format!("expected an integer, got string {s:?}"))),
            other => Err(self.invalid(
                field,
                format!("expected an integer, got {}", other.type_name()),
            )),
        }
    }

    /// A boolean with a default.
    pub fn bool_or(&self, field: &'static str, default: bool) -> Result<bool, ModelError> {
        match self.map.get(field) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::Int(0)) => Ok(false),
            Some(Value::Int(1)) => Ok(true),
            Some(other) => Err(self.invalid(
                field,
                format!("expected a boolean, got {}", other.type_name()),
            )),
        }
    }

    /// A free-form object with a default of `{}`; non-finite floats inside are refused.
    pub fn map_or_empty(&self, field: &'static str) -> Result<Map, ModelError> {
        match self.map.get(field) {
            None => Ok(Map::new()),
            Some(v) => self.as_map(field, v),
        }
    }

    /// A required free-form object.
    pub fn map_req(&self, field: &'static str) -> Result<Map, ModelError> {
        match self.map.get(field) {
            None => Err(self.missing(field)),
            Some(v) => self.as_map(field, v),
        }
    }

    /// An optional free-form object (`null` or absent is `None`).
    pub fn opt_map(&self, field: &'static str) -> Result<Option<Map>, ModelError> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => self.as_map(field, v).map(Some),
        }
    }

    fn as_map(&self, field: &'static str, v: &Value) -> Result<Map, ModelError> {
        match v {
            Value::Object(m) => {
                if v.find_non_finite().is_some() {
                    return Err(self.invalid(field, "contains a non-finite number"));
                }
                Ok(m.clone())
            }
            other => Err(self.invalid(
                field,
                format!("expected an object, got {}", other.type_name()),
            )),
        }
    }

    /// A required datetime.
    pub fn timestamp(&self, field: &'static str) -> Result<Timestamp, ModelError> {
        match self.map.get(field) {
            None => Err(self.missing(field)),
            Some(v) => Timestamp::parse_wire(v).map_err(|e| self.invalid(field, e.to_string())),
        }
    }

    /// A datetime with a default.
    pub fn timestamp_or(
        &self,
        field: &'static str,
        default: Timestamp,
    ) -> Result<Timestamp, ModelError> {
        match self.map.get(field) {
            None => Ok(default),
            Some(v) => Timestamp::parse_wire(v).map_err(|e| self.invalid(field, e.to_string())),
        }
    }

    /// An optional datetime.
    pub fn opt_timestamp(&self, field: &'static str) -> Result<Option<Timestamp>, ModelError> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => Timestamp::parse_wire(v)
                .map(Some)
                .map_err(|e| self.invalid(field, e.to_string())),
        }
    }

    /// A string enum: the text must be one of `parse`'s accepted values.
    pub fn enum_of<T>(
        &self,
        field: &'static str,
        parse: fn(&str) -> Option<T>,
    ) -> Result<T, ModelError> {
        let s = self.str(field)?;
        parse(&s).ok_or_else(|| self.invalid(field, format!("unknown value {s:?}")))
    }

    /// A list of strings with a default of `[]`.
    pub fn str_list_or_empty(&self, field: &'static str) -> Result<Vec<String>, ModelError> {
        match self.map.get(field) {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => a.iter().map(|v| self.as_string(field, v)).collect(),
            Some(other) => Err(self.invalid(
                field,
                format!("expected an array, got {}", other.type_name()),
            )),
        }
    }

    /// A list of objects with a default of `[]`.
    pub fn list_or_empty(&self, field: &'static str) -> Result<Vec<Value>, ModelError> {
        match self.map.get(field) {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => {
                if a.iter().any(|v| v.find_non_finite().is_some()) {
                    return Err(self.invalid(field, "contains a non-finite number"));
                }
                Ok(a.clone())
            }
            Some(other) => Err(self.invalid(
                field,
                format!("expected an array, got {}", other.type_name()),
            )),
        }
    }
}
