//! Shared helpers for the tests that read the reference's vectors and wire samples.

#![allow(dead_code, clippy::unwrap_used)]

use doin_primitives::json;
use doin_primitives::models::WireModel;
use doin_primitives::value::{Map, Value};

/// The reference test data directory.
pub(crate) const REFERENCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/reference");

/// Every vector category, read with this crate's parser (ints and floats kept apart).
pub(crate) fn vectors() -> Map {
    let text = std::fs::read_to_string(format!("{REFERENCE}/test-vectors.json")).unwrap();
    match json::parse(&text).unwrap() {
        Value::Object(m) => m,
        other => panic!("test-vectors.json is a {}", other.type_name()),
    }
}

/// One category's entries.
pub(crate) fn category<'a>(all: &'a Map, name: &str) -> &'a [Value] {
    all.get(name)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("category {name} missing"))
}

/// A field of an entry, if present.
pub(crate) fn opt<'a>(entry: &'a Value, key: &str) -> Option<&'a Value> {
    entry.as_object().and_then(|m| m.get(key))
}

/// A string field of an entry.
pub(crate) fn text<'a>(entry: &'a Value, key: &str) -> &'a str {
    opt(entry, key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("entry lacks string {key}"))
}

/// Wire JSON → model → wire JSON → model: the id is kept, and the second pass writes the
/// same text as the first.
pub(crate) fn round_trip<M: WireModel>(
    what: &str,
    wire_json: &str,
    id: impl Fn(&M) -> String,
) -> M {
    let first = M::from_wire_json(wire_json).unwrap_or_else(|e| panic!("{what}: {e}"));
    let text1 = first.to_wire_json();
    let second = M::from_wire_json(&text1).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(id(&second), id(&first), "{what}: id after round trip");
    assert_eq!(
        second.to_wire_json(),
        text1,
        "{what}: wire text of the second pass"
    );
    first
}
