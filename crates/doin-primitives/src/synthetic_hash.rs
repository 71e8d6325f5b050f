//! The reference's synthetic-data hash: the fingerprint evaluators compare to show that
//! they validated on the same seeded data.
//!
//! The reference (`hash_synthetic_data`) walks a Python value and feeds bytes to one
//! SHA-256:
//! * dict: for each key in sorted order, the key's UTF-8, then the value;
//! * numpy array: its raw little-endian bytes, then `str(shape)`, then `str(dtype)`;
//! * list or tuple: `a = numpy.array(value)`, then `a.tobytes()` and `str(a.shape)` (no
//!   dtype): numpy infers `int64` for all-int lists (bools count as ints when mixed),
//!   `float64` when any float is present or the list is empty, `bool` for all-bool lists,
//!   and `<U{n}` (UCS-4, padded to the longest string) for string lists;
//! * int, float, bool: `repr()` (`3`, `3.0`, `True`); a numpy `float64` scalar is a float,
//!   so its repr `np.float64(1.5)` is fed; other numpy scalars fall back to `str()`;
//! * str: UTF-8; None: `None`.
//!
//! Values arrive here as JSON with portable encodings for what JSON lacks:
//! `{"$ndarray": {"dtype", "shape", "data"}}` (C order), `{"$tuple": [...]}` and
//! `{"$np_scalar": {"dtype", "value"}}`. Inputs whose numpy form holds memory addresses
//! (lists with `None`, dicts or integers beyond 64 bits, ragged lists, strings mixed with
//! numbers) have no reproducible hash in the reference and are refused.

use sha2::{Digest, Sha256};

use crate::float_repr::{write_py_repr, write_py_repr_f32};
use crate::value::{Map, Value};

/// Why a value has no reproducible synthetic-data hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("synthetic data cannot be hashed as the reference does: {0}")]
pub struct SyntheticHashError(pub String);

fn unsupported<T>(reason: impl Into<String>) -> Result<T, SyntheticHashError> {
    Err(SyntheticHashError(reason.into()))
}

/// The reference's `hash_synthetic_data(data)`: lowercase hex SHA-256 of the fed stream.
pub fn hash_synthetic_data(data: &Value) -> Result<String, SyntheticHashError> {
    let mut h = Sha256::new();
    feed(data, &mut |b: &[u8]| h.update(b))?;
    Ok(hex::encode(h.finalize()))
}

/// The exact byte stream the reference feeds to SHA-256 for `data`.
pub fn synthetic_data_stream(data: &Value) -> Result<Vec<u8>, SyntheticHashError> {
    let mut out = Vec::new();
    feed(data, &mut |b: &[u8]| out.extend_from_slice(b))?;
    Ok(out)
}

type Sink<'a> = dyn FnMut(&[u8]) + 'a;

fn feed(v: &Value, sink: &mut Sink<'_>) -> Result<(), SyntheticHashError> {
    match v {
        Value::Object(m) => {
            if let Some(enc) = encoded(m) {
                return feed_encoded(enc, sink);
            }
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            for k in keys {
                sink(k.as_bytes());
                feed(&m[k.as_str()], sink)?;
            }
            Ok(())
        }
        Value::Array(items) => feed_sequence(items, sink),
        Value::Null => {
            sink(b"None");
            Ok(())
        }
        other => {
            let mut s = String::new();
            write_scalar(other, &mut s);
            sink(s.as_bytes());
            Ok(())
        }
    }
}

/// Python's `repr` of a JSON scalar (`str` is its own text).
fn write_scalar(v: &Value, out: &mut String) {
    match v {
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
        Value::BigInt(t) => out.push_str(t),
        Value::Float(f) => write_py_repr(*f, out),
        Value::Str(s) => out.push_str(s),
        Value::Null => out.push_str("None"),
        Value::Array(_) | Value::Object(_) => {}
    }
}

enum Encoded<'a> {
    NdArray(&'a Value),
    Tuple(&'a Value),
    NpScalar(&'a Value),
}

fn encoded(m: &Map) -> Option<Encoded<'_>> {
    if m.len() != 1 {
        return None;
    }
    let (k, v) = m.iter().next()?;
    match k.as_str() {
        "$ndarray" => Some(Encoded::NdArray(v)),
        "$tuple" => Some(Encoded::Tuple(v)),
        "$np_scalar" => Some(Encoded::NpScalar(v)),
        _ => None,
    }
}

fn feed_encoded(enc: Encoded<'_>, sink: &mut Sink<'_>) -> Result<(), SyntheticHashError> {
    match enc {
        Encoded::Tuple(Value::Array(items)) => feed_sequence(items, sink),
        Encoded::Tuple(_) => unsupported("$tuple must hold an array"),
        Encoded::NdArray(spec) => {
            let (dtype, shape, leaves) = ndarray_spec(spec)?;
            let mut bytes = Vec::with_capacity(leaves.len() * dtype.size());
            for leaf in &leaves {
                dtype.write(leaf, &mut bytes)?;
            }
            sink(&bytes);
            sink(shape_text(&shape).as_bytes());
            sink(dtype.name().as_bytes());
            Ok(())
        }
        Encoded::NpScalar(spec) => {
            let f = spec
                .as_object()
                .ok_or_else(|| SyntheticHashError("$np_scalar must be an object".into()))?;
            let dtype = f
                .get("dtype")
                .and_then(Value::as_str)
                .and_then(Dtype::parse)
                .ok_or_else(|| SyntheticHashError("$np_scalar: unknown dtype".into()))?;
            let value = f
                .get("value")
                .ok_or_else(|| SyntheticHashError("$np_scalar: no value".into()))?;
            let mut s = String::new();
            dtype.write_scalar_text(value, &mut s)?;
            sink(s.as_bytes());
            Ok(())
        }
    }
}

/// Feeds a list or tuple as `numpy.array(value)`: bytes, then `str(shape)`.
fn feed_sequence(items: &[Value], sink: &mut Sink<'_>) -> Result<(), SyntheticHashError> {
    let mut shape = Vec::new();
    let mut leaves = Vec::new();
    flatten(items, 0, &mut shape, &mut leaves)?;
    let kind = infer_kind(&leaves)?;
    let mut bytes = Vec::with_capacity(leaves.len() * 8);
    match kind {
        Inferred::Bool => {
            for l in &leaves {
                bytes.push(u8::from(matches!(l, Value::Bool(true))));
            }
        }
        Inferred::Int64 => {
            for l in &leaves {
                bytes.extend_from_slice(&leaf_i64(l).to_le_bytes());
            }
        }
        Inferred::Float64 => {
            for l in &leaves {
                bytes.extend_from_slice(&leaf_f64(l).to_le_bytes());
            }
        }
        Inferred::Unicode(width) => {
            for l in &leaves {
                let s = l.as_str().unwrap_or_default();
                let mut n = 0;
                for c in s.chars() {
                    bytes.extend_from_slice(&u32::from(c).to_le_bytes());
                    n += 1;
                }
                for _ in n..width {
                    bytes.extend_from_slice(&[0; 4]);
                }
            }
        }
    }
    sink(&bytes);
    sink(shape_text(&shape).as_bytes());
    Ok(())
}

/// Collects the leaves of a nested (rectangular) sequence in C order and its shape.
fn flatten<'a>(
    items: &'a [Value],
    depth: usize,
    shape: &mut Vec<usize>,
    leaves: &mut Vec<&'a Value>,
) -> Result<(), SyntheticHashError> {
    if shape.len() == depth {
        shape.push(items.len());
    } else if shape[depth] != items.len() {
        return unsupported("ragged nested list (numpy makes an object array)");
    }
    let nested = items.iter().map(as_sequence).collect::<Vec<_>>();
    let n_nested = nested.iter().filter(|s| s.is_some()).count();
    if n_nested == 0 {
        // Leaves must all sit at the deepest level: no deeper list seen before, and (checked
        // below) none after.
        if shape.len() > depth + 1 {
            return unsupported("ragged nested list (numpy makes an object array)");
        }
        leaves.extend(items.iter());
        return Ok(());
    }
    if shape.len() == depth + 1 && !leaves.is_empty() {
        return unsupported("ragged nested list (numpy makes an object array)");
    }
    if n_nested != items.len() {
        return unsupported("list mixing sequences and scalars");
    }
    for inner in nested.into_iter().flatten() {
        flatten(inner, depth + 1, shape, leaves)?;
    }
    Ok(())
}

fn as_sequence(v: &Value) -> Option<&[Value]> {
    match v {
        Value::Array(a) => Some(a),
        Value::Object(m) => match encoded(m) {
            Some(Encoded::Tuple(Value::Array(a))) => Some(a),
            _ => None,
        },
        _ => None,
    }
}

enum Inferred {
    Bool,
    Int64,
    Float64,
    Unicode(usize),
}

fn infer_kind(leaves: &[&Value]) -> Result<Inferred, SyntheticHashError> {
    let (mut bools, mut ints, mut floats, mut strs, mut width) = (0, 0, 0, 0, 1usize);
    for l in leaves {
        match l {
            Value::Bool(_) => bools += 1,
            Value::Int(_) => ints += 1,
            Value::Float(_) => floats += 1,
            Value::Str(s) => {
                strs += 1;
                width = width.max(s.chars().count());
            }
            Value::BigInt(_) => return unsupported("integer beyond 64 bits in a list"),
            Value::Null => return unsupported("None in a list (numpy makes an object array)"),
            _ => return unsupported("dict or encoded value in a list"),
        }
    }
    if strs > 0 {
        if strs != leaves.len() {
            return unsupported("list mixing strings and other values");
        }
        return Ok(Inferred::Unicode(width));
    }
    Ok(if floats > 0 || leaves.is_empty() {
        Inferred::Float64
    } else if ints > 0 {
        Inferred::Int64
    } else if bools > 0 {
        Inferred::Bool
    } else {
        Inferred::Float64
    })
}

fn leaf_i64(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Bool(b) => i64::from(*b),
        _ => 0,
    }
}

fn leaf_f64(v: &Value) -> f64 {
    match v {
        Value::Float(f) => *f,
        Value::Int(i) => *i as f64,
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => 0.0,
    }
}

/// Python's `str(tuple)` of a shape: `(3,)`, `(2, 3)`, `()`.
fn shape_text(shape: &[usize]) -> String {
    let mut s = String::from("(");
    for (i, d) in shape.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(itoa::Buffer::new().format(*d));
    }
    if shape.len() == 1 {
        s.push(',');
    }
    s.push(')');
    s
}

/// The numpy dtypes the portable encodings may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dtype {
    Bool,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64,
}

impl Dtype {
    const ALL: [Dtype; 11] = [
        Dtype::Bool,
        Dtype::I8,
        Dtype::I16,
        Dtype::I32,
        Dtype::I64,
        Dtype::U8,
        Dtype::U16,
        Dtype::U32,
        Dtype::U64,
        Dtype::F32,
        Dtype::F64,
    ];

    fn name(self) -> &'static str {
        match self {
            Dtype::Bool => "bool",
            Dtype::I8 => "int8",
            Dtype::I16 => "int16",
            Dtype::I32 => "int32",
            Dtype::I64 => "int64",
            Dtype::U8 => "uint8",
            Dtype::U16 => "uint16",
            Dtype::U32 => "uint32",
            Dtype::U64 => "uint64",
            Dtype::F32 => "float32",
            Dtype::F64 => "float64",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == s)
    }

    fn size(self) -> usize {
        match self {
            Dtype::Bool | Dtype::I8 | Dtype::U8 => 1,
            Dtype::I16 | Dtype::U16 => 2,
            Dtype::I32 | Dtype::U32 | Dtype::F32 => 4,
            Dtype::I64 | Dtype::U64 | Dtype::F64 => 8,
        }
    }

    /// The value as an integer of this dtype, refusing what numpy would refuse.
    fn int_of(self, v: &Value) -> Result<i128, SyntheticHashError> {
        let i: i128 = match v {
            Value::Int(i) => i128::from(*i),
            Value::BigInt(t) => t
                .parse::<i128>()
                .map_err(|_| SyntheticHashError("integer out of range".into()))?,
            Value::Bool(b) => i128::from(*b),
            // numpy casts floats to ints by truncation.
            Value::Float(f) if f.is_finite() && f.abs() < 1.9e19 => f.trunc() as i128,
            other => {
                return unsupported(format!(
                    "{} cannot hold a {}",
                    self.name(),
                    other.type_name()
                ))
            }
        };
        let (lo, hi): (i128, i128) = match self {
            Dtype::I8 => (i8::MIN.into(), i8::MAX.into()),
            Dtype::I16 => (i16::MIN.into(), i16::MAX.into()),
            Dtype::I32 => (i32::MIN.into(), i32::MAX.into()),
            Dtype::I64 => (i64::MIN.into(), i64::MAX.into()),
            Dtype::U8 => (0, u8::MAX.into()),
            Dtype::U16 => (0, u16::MAX.into()),
            Dtype::U32 => (0, u32::MAX.into()),
            _ => (0, u64::MAX.into()),
        };
        if i < lo || i > hi {
            return unsupported(format!("{i} does not fit {}", self.name()));
        }
        Ok(i)
    }

    fn float_of(v: &Value) -> Result<f64, SyntheticHashError> {
        match v {
            Value::Bool(b) => Ok(f64::from(u8::from(*b))),
            other => other
                .as_f64()
                .ok_or_else(|| SyntheticHashError(format!("not a number: {}", other.type_name()))),
        }
    }

    fn bool_of(v: &Value) -> Result<bool, SyntheticHashError> {
        match v {
            Value::Bool(b) => Ok(*b),
            other => Self::float_of(other).map(|f| f != 0.0),
        }
    }

    /// Appends the element's little-endian bytes.
    fn write(self, v: &Value, out: &mut Vec<u8>) -> Result<(), SyntheticHashError> {
        match self {
            Dtype::Bool => out.push(u8::from(Self::bool_of(v)?)),
            Dtype::F32 => out.extend_from_slice(&(Self::float_of(v)? as f32).to_le_bytes()),
            Dtype::F64 => out.extend_from_slice(&Self::float_of(v)?.to_le_bytes()),
            int => {
                let i = int.int_of(v)?;
                // Two's complement little-endian, truncated to the dtype's width.
                out.extend_from_slice(&i.to_le_bytes()[..int.size()]);
            }
        }
        Ok(())
    }

    /// The text the reference feeds for a numpy scalar of this dtype.
    fn write_scalar_text(self, v: &Value, out: &mut String) -> Result<(), SyntheticHashError> {
        match self {
            // A float64 scalar is a Python float: its repr is fed.
            Dtype::F64 => {
                out.push_str("np.float64(");
                write_py_repr(Self::float_of(v)?, out);
                out.push(')');
            }
            Dtype::F32 => write_py_repr_f32(Self::float_of(v)? as f32, out),
            Dtype::Bool => out.push_str(if Self::bool_of(v)? { "True" } else { "False" }),
            int => out.push_str(&int.int_of(v)?.to_string()),
        }
        Ok(())
    }
}

/// Reads an `$ndarray` spec: dtype, shape, and the data's leaves in C order.
fn ndarray_spec(spec: &Value) -> Result<(Dtype, Vec<usize>, Vec<&Value>), SyntheticHashError> {
    let m = spec
        .as_object()
        .ok_or_else(|| SyntheticHashError("$ndarray must be an object".into()))?;
    let dtype_name = m.get("dtype").and_then(Value::as_str).unwrap_or("float64");
    let dtype = Dtype::parse(dtype_name)
        .ok_or_else(|| SyntheticHashError(format!("unsupported dtype {dtype_name:?}")))?;
    let shape = match m.get("shape") {
        Some(Value::Array(dims)) => dims
            .iter()
            .map(|d| {
                d.as_i64()
                    .and_then(|d| usize::try_from(d).ok())
                    .ok_or_else(|| SyntheticHashError("shape must hold non-negative ints".into()))
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return unsupported("$ndarray needs a shape list"),
    };
    let mut leaves = Vec::new();
    match m.get("data") {
        Some(Value::Array(items)) => {
            let mut data_shape = Vec::new();
            flatten(items, 0, &mut data_shape, &mut leaves)?;
        }
        Some(scalar) => leaves.push(scalar),
        None => return unsupported("$ndarray needs data"),
    }
    let count = shape
        .iter()
        .try_fold(1usize, |acc, d| acc.checked_mul(*d))
        .ok_or_else(|| SyntheticHashError("shape too large".into()))?;
    if count != leaves.len() {
        return unsupported(format!(
            "shape {shape:?} needs {count} elements, data has {}",
            leaves.len()
        ));
    }
    Ok((dtype, shape, leaves))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example() {
        let v = crate::json::parse(r#"{"x":[1.0,2.0,3.0]}"#).unwrap_or(Value::Null);
        assert_eq!(
            hash_synthetic_data(&v).as_deref(),
            Ok("131ea74ce0eab6d5029fbc7f5d5c164660d76f6f6e99d3619ebc4faaa5c72bf6")
        );
    }

    #[test]
    fn object_arrays_are_refused() {
        for text in [
            r#"[1, null]"#,
            r#"[[1], [1, 2]]"#,
            r#"[[1], [[2]]]"#,
            r#"[[[1]], [2]]"#,
            r#"[1, "a"]"#,
            r#"[{"a": 1}]"#,
        ] {
            let v = crate::json::parse(text).unwrap_or(Value::Null);
            assert!(hash_synthetic_data(&v).is_err(), "{text}");
        }
    }
}
