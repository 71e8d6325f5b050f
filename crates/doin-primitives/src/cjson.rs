//! Canonical JSON: the exact bytes the reference hashes.
//!
//! CJSON is Python's `json.dumps(obj, sort_keys=True)` with every other option at its
//! default: `", "` and `": "` separators, keys sorted by code point at every depth,
//! `ensure_ascii` escaping (lowercase `\uXXXX`, surrogate pairs above U+FFFF), Python float
//! repr, integers of any size, and `NaN` / `Infinity` / `-Infinity` for non-finite floats
//! (which our parsers never produce; see [`crate::json`]).

use crate::float_repr::write_py_repr;
use crate::value::{Map, Value};

/// The canonical JSON text of `v`.
pub fn to_cjson(v: &Value) -> String {
    let mut out = String::with_capacity(128);
    write_value(v, &mut out);
    out
}

/// Appends the canonical JSON text of `v` to `out`.
pub fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(i) => write_int(*i, out),
        Value::BigInt(t) => out.push_str(t),
        Value::Float(f) => write_float(*f, out),
        Value::Str(s) => write_str(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(m) => write_map(m, out),
    }
}

/// Appends a map with its keys sorted by code point.
pub fn write_map(m: &Map, out: &mut String) {
    let mut entries: Vec<(&String, &Value)> = m.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out.push('{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_str(k, out);
        out.push_str(": ");
        write_value(v, out);
    }
    out.push('}');
}

/// Appends an integer in base 10.
pub fn write_int(i: i64, out: &mut String) {
    let mut b = itoa::Buffer::new();
    out.push_str(b.format(i));
}

/// Appends a float the way `json.dumps` writes it (`float.__repr__`, or the non-standard
/// `NaN` / `Infinity` / `-Infinity` tokens).
pub fn write_float(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        write_py_repr(f, out);
    }
}

/// Appends a string with `ensure_ascii=True` escaping.
pub fn write_str(s: &str, out: &mut String) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            continue;
        }
        if b >= 0x80 {
            // Non-ASCII: handled per char below, once we reach its first byte.
            if (b & 0xC0) == 0x80 {
                continue;
            }
        }
        out.push_str(&s[start..i]);
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            _ if b < 0x80 => push_u16_escape(b as u16, out),
            _ => {
                // `i` is on a char boundary because continuation bytes were skipped.
                let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    push_u16_escape(*unit, out);
                }
                start = i + ch.len_utf8();
                continue;
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

fn push_u16_escape(unit: u16, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[((unit >> shift) & 0xf) as usize] as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map;

    #[test]
    fn sorted_keys_and_separators() {
        let v = Value::Object(map! {"b" => 1i64, "a" => vec![Value::Float(2.5), Value::Null]});
        assert_eq!(to_cjson(&v), r#"{"a": [2.5, null], "b": 1}"#);
    }

    #[test]
    fn escapes() {
        let v = Value::from("é\u{7f}\u{1F600}\"\\/\n\u{1}");
        assert_eq!(to_cjson(&v), r#""\u00e9\u007f\ud83d\ude00\"\\/\n\u0001""#);
    }
}
