//! Cross-checks canonical JSON against the machine's `python3`: thousands of random JSON
//! values (floats of every magnitude, big ints, unicode strings, nesting) are written in
//! our wire form, and Python's `json.dumps(json.loads(line), sort_keys=True)` must equal
//! our CJSON byte for byte.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use doin_primitives::cjson::to_cjson;
use doin_primitives::json::{parse, to_wire_json};
use doin_primitives::{Map, Value};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

const CASES: usize = 4000;

fn any_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        // Every bit pattern that is finite: all magnitudes, subnormals, -0.0.
        any::<u64>()
            .prop_map(f64::from_bits)
            .prop_filter("finite", |f| f.is_finite()),
        (-1e6f64..1e6),
        (-20i32..20, 1u32..1000).prop_map(|(e, m)| m as f64 * 10f64.powi(e)),
        Just(0.1 + 0.2),
        Just(1e16),
        Just(1e-5),
        Just(-0.0),
    ]
}

fn any_string() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,12}",
        proptest::collection::vec(any::<char>(), 0..8).prop_map(|v| v.into_iter().collect()),
        "[\\x00-\\x1f\"\\\\/\\x7f]{0,6}",
    ]
}

fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        "-?[1-9][0-9]{19,40}".prop_map(|t| Value::BigInt(t.into())),
        any_float().prop_map(Value::Float),
        any_string().prop_map(Value::Str),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((any_string(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map>())),
        ]
    })
}

#[test]
fn cjson_matches_python_json_dumps() {
    let mut runner = TestRunner::deterministic();
    let strategy = any_value();
    let values: Vec<Value> = (0..CASES)
        .map(|_| strategy.new_tree(&mut runner).expect("strategy").current())
        .collect();
    let mut input = String::new();
    for v in &values {
        let wire = to_wire_json(v);
        // Our own parser must read our wire output back to the same value.
        assert_eq!(parse(&wire).as_ref(), Ok(v), "wire round trip of {wire}");
        input.push_str(&wire);
        input.push('\n');
    }
    let script = "import sys, json\nfor line in sys.stdin:\n    sys.stdout.write(json.dumps(json.loads(line), sort_keys=True) + '\\n')\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 must be installed to cross-check canonical JSON");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("python3 output");
    writer.join().expect("writer").expect("write to python3");
    assert!(out.status.success(), "python3 failed");
    let text = String::from_utf8(out.stdout).expect("python output is ASCII");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), values.len());
    for (v, py) in values.iter().zip(lines) {
        assert_eq!(to_cjson(v), py, "value {v:?}");
    }
}
