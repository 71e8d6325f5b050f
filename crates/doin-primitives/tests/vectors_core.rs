//! The reference's vectors for canonical JSON, float repr, isoformat, merkle roots and
//! chain state hashes: every entry must reproduce exactly.

#![allow(clippy::unwrap_used)]

use doin_primitives::cjson::to_cjson;
use doin_primitives::float_repr::py_repr;
use doin_primitives::hash::{chain_state_hash, sha256_hex};
use doin_primitives::json::{self, JsonError};
use doin_primitives::merkle::merkle_root;
use doin_primitives::timestamp::Timestamp;
use doin_primitives::Value;

fn vectors() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/reference/test-vectors.json"
    );
    let text = std::fs::read_to_string(path).expect("test vectors present");
    serde_json::from_str(&text).expect("vectors parse")
}

fn category(name: &str) -> Vec<serde_json::Value> {
    vectors()[name]
        .as_array()
        .expect("category is a list")
        .clone()
}

#[test]
fn cjson_vectors() {
    let cases = category("cjson");
    assert!(cases.len() >= 70);
    let mut refused = 0;
    for case in &cases {
        let input = case["input_json"].as_str().unwrap();
        let expected = case["output"].as_str().unwrap();
        match json::parse(input) {
            Ok(v) => {
                let out = to_cjson(&v);
                assert_eq!(out, expected, "input {input}");
                assert_eq!(sha256_hex(&out), case["sha256"].as_str().unwrap());
            }
            Err(e) => {
                // Only non-finite numbers and lone surrogates may be refused: the protocol
                // never hashes them. The expected text must then contain such a token.
                assert!(
                    matches!(e, JsonError::NonFinite { .. })
                        || expected.contains("NaN")
                        || expected.contains("Infinity")
                        || expected.contains("\\ud8")
                        || expected.contains("\\udc"),
                    "refused {input}: {e}"
                );
                refused += 1;
            }
        }
    }
    assert!(refused <= 5, "{refused} cjson vectors refused");
}

#[test]
fn float_repr_vectors() {
    let cases = category("float_repr");
    assert!(cases.len() > 700);
    for case in &cases {
        let bits = u64::from_str_radix(case["bits"].as_str().unwrap(), 16).unwrap();
        let f = f64::from_bits(bits);
        assert_eq!(
            py_repr(f),
            case["repr"].as_str().unwrap(),
            "bits {bits:016x}"
        );
        assert_eq!(to_cjson(&Value::Float(f)), case["cjson"].as_str().unwrap());
        match case["json"].as_str() {
            Some(text) => {
                let parsed = json::parse(text).unwrap();
                assert_eq!(parsed, Value::Float(f), "{text}");
                if let Value::Float(g) = parsed {
                    assert_eq!(g.to_bits(), bits, "{text}");
                }
            }
            None => assert!(!f.is_finite()),
        }
    }
}

#[test]
fn isoformat_vectors() {
    let cases = category("isoformat");
    for case in &cases {
        let wire_text = serde_json::to_string(&case["wire"]).unwrap();
        let wire = json::parse(&wire_text).unwrap();
        let parsed = Timestamp::parse_wire(&wire);
        match case.get("isoformat") {
            Some(iso) => {
                let t = parsed.unwrap_or_else(|e| panic!("{wire_text}: {e}"));
                assert_eq!(t.isoformat(), iso.as_str().unwrap(), "{wire_text}");
                assert_eq!(
                    t.wire(),
                    case["pydantic_wire"].as_str().unwrap(),
                    "{wire_text}"
                );
                // What we send parses back to the same value.
                assert_eq!(Timestamp::parse_str(&t.wire()).unwrap(), t);
            }
            None => assert!(parsed.is_err(), "{wire_text} must be refused"),
        }
    }
}

#[test]
fn merkle_vectors() {
    for case in &category("merkle_root") {
        let leaves: Vec<String> = case["leaves"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(merkle_root(&leaves), case["root"].as_str().unwrap());
    }
}

#[test]
fn chain_state_hash_vectors() {
    for case in &category("chain_state_hash") {
        let hashes: Vec<String> = case["block_hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(chain_state_hash(&hashes), case["hash"].as_str().unwrap());
    }
}
