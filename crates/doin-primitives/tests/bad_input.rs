//! Bad input never panics: random bytes, truncated and mutated wire JSON fed to every
//! parser give a typed error or a value, and the specific refusals the protocol needs
//! (NaN/Infinity, wrong types, unknown enum values, oversized numbers) are typed errors.

#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;

use doin_primitives::json::{self, JsonError};
use doin_primitives::models::{
    Block, CoinbaseTransaction, Domain, DomainConfig, Message, MessageType, Optimae, Payload,
    PaymentUpdate, Task, Transaction, TransferTransaction, WireModel,
};
use doin_primitives::synthetic_hash::hash_synthetic_data;
use doin_primitives::{Map, ModelError, Timestamp, Value};
use proptest::prelude::*;

const TX: &str = r#"{"id":"","tx_type":"optimae_accepted","domain_id":"d1","peer_id":"p1","payload":{"increment":0.6,"optimae_id":"x","performance":0.9},"timestamp":"2026-01-01T00:05:00Z"}"#;
const BLOCK: &str = r#"{"header":{"index":1,"previous_hash":"4e19257e8941caec2ec6a4d581a981a533ab5728c11e58c3d13040049e3cd6d5","timestamp":"2026-01-01T00:10:00Z","merkle_root":"0","generator_id":"node-1","weighted_performance_sum":0.6,"threshold":0.5},"transactions":[],"hash":""}"#;

/// Every parser of wire input, applied to the same bytes.
fn feed_all(bytes: &[u8]) {
    let parsed = json::parse_bytes(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = Timestamp::parse_str(text);
        let _ = Transaction::from_wire_json(text);
        let _ = Block::from_wire_json(text);
        let _ = Optimae::from_wire_json(text);
        let _ = Task::from_wire_json(text);
        let _ = Domain::from_wire_json(text);
        let _ = DomainConfig::from_wire_json(text);
        let _ = CoinbaseTransaction::from_wire_json(text);
        let _ = TransferTransaction::from_wire_json(text);
        let _ = PaymentUpdate::from_wire_json(text);
        if let Ok(doin_primitives::models::InboundBody::Message(m)) = Message::from_http_body(text)
        {
            let _ = m.typed_payload();
            let _ = m.dedupe_id();
        }
    }
    if let Ok(v) = parsed {
        feed_value(&v);
    }
}

/// Every model reader and the synthetic hash, applied to one parsed value.
fn feed_value(v: &Value) {
    let _ = Transaction::from_value(v);
    let _ = Block::from_value(v);
    let _ = Optimae::from_value(v);
    let _ = Task::from_value(v);
    let _ = Domain::from_value(v);
    let _ = Message::from_value(v).map(|m| (m.typed_payload(), m.dedupe_id()));
    let _ = CoinbaseTransaction::from_value(v);
    let _ = TransferTransaction::from_value(v);
    let _ = PaymentUpdate::from_value(v);
    if let Some(m) = v.as_object() {
        for t in MessageType::ALL {
            let _ = Payload::parse(t, m).map(|p| p.to_map());
        }
    }
    let _ = hash_synthetic_data(v);
}

/// Well-formed wire objects of every model, from the reference's vectors and samples.
fn bases() -> &'static [Value] {
    static BASES: OnceLock<Vec<Value>> = OnceLock::new();
    BASES.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/reference");
        let text = std::fs::read_to_string(format!("{dir}/test-vectors.json")).unwrap();
        let all = json::parse(&text).unwrap();
        let mut out = Vec::new();
        for (cat, key) in [
            ("transaction_id", "wire"),
            ("optimae_id", "wire"),
            ("task_id", "wire"),
            ("block_hash", "wire"),
            ("message_dedupe_id", "wire"),
            ("coinbase_id", "wire"),
            ("transfer_id", "wire"),
            ("payment_state_hash", "fields"),
            ("synthetic_data_hash", "data"),
        ] {
            let entries = all
                .as_object()
                .and_then(|m| m.get(cat))
                .and_then(Value::as_array);
            for e in entries.into_iter().flatten().take(12) {
                if let Some(v) = e.as_object().and_then(|m| m.get(key)) {
                    out.push(v.clone());
                }
            }
        }
        out
    })
}

/// Values that break typed fields: wrong types, non-finite text, huge numbers.
fn replacement(k: u8) -> Value {
    match k % 14 {
        0 => Value::Null,
        1 => Value::Bool(true),
        2 => Value::Int(-1),
        3 => Value::Int(i64::MAX),
        4 => Value::BigInt("-123456789012345678901234567890".into()),
        5 => Value::Float(1.5),
        6 => Value::Float(-0.0),
        7 => Value::from("NaN"),
        8 => Value::from("Infinity"),
        9 => Value::from("optimae_minted"),
        10 => Value::Array(vec![Value::Null, Value::from("x"), Value::Array(vec![])]),
        11 => Value::Object(Map::new()),
        12 => Value::from("2026-02-30T25:61:00Z"),
        _ => Value::from(""),
    }
}

/// Replaces (or removes) the `n`-th value in a depth-first walk of `v`.
fn mutate_value(v: &mut Value, n: &mut usize, k: u8, remove: bool) -> bool {
    match v {
        Value::Object(m) => {
            let keys: Vec<String> = m.keys().cloned().collect();
            for key in keys {
                if *n == 0 {
                    if remove {
                        m.shift_remove(&key);
                    } else {
                        m.insert(key, replacement(k));
                    }
                    return true;
                }
                *n -= 1;
                if let Some(child) = m.get_mut(&key) {
                    if mutate_value(child, n, k, remove) {
                        return true;
                    }
                }
            }
            false
        }
        Value::Array(a) => {
            for child in a.iter_mut() {
                if *n == 0 {
                    *child = replacement(k);
                    return true;
                }
                *n -= 1;
                if mutate_value(child, n, k, remove) {
                    return true;
                }
            }
            false
        }
        _ => false,
    }
}

fn mutate(base: &str, pos: usize, byte: u8, cut: bool) -> Vec<u8> {
    let mut b = base.as_bytes().to_vec();
    let pos = pos % b.len();
    if cut {
        b.truncate(pos);
    } else {
        b[pos] = byte;
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        feed_all(&bytes);
    }

    #[test]
    fn mutated_wire_json_never_panics(pos in any::<usize>(), byte in any::<u8>(), cut in any::<bool>()) {
        feed_all(&mutate(TX, pos, byte, cut));
        feed_all(&mutate(BLOCK, pos, byte, cut));
    }

    #[test]
    fn mutated_model_objects_never_panic(base in any::<usize>(), at in 0usize..64, k in any::<u8>(), remove in any::<bool>()) {
        let bases = bases();
        let mut v = bases[base % bases.len()].clone();
        let mut n = at;
        mutate_value(&mut v, &mut n, k, remove);
        feed_value(&v);
        feed_all(json::to_wire_json(&v).as_bytes());
    }

    #[test]
    fn mutated_reference_bytes_never_panic(base in any::<usize>(), pos in any::<usize>(), byte in any::<u8>(), cut in any::<bool>()) {
        let bases = bases();
        let text = json::to_wire_json(&bases[base % bases.len()]);
        feed_all(&mutate(&text, pos, byte, cut));
    }

    #[test]
    fn random_json_text_never_panics(s in "[\\[\\]{}\",:0-9eE.+\\-a-z\\\\ ]{0,64}") {
        feed_all(s.as_bytes());
    }
}

#[test]
fn specific_refusals_are_typed() {
    // Non-finite numbers.
    for bad in ["NaN", "Infinity", "-Infinity", "1e400"] {
        let text = TX.replace("0.6", bad);
        match Transaction::from_wire_json(&text) {
            Err(ModelError::Json(JsonError::NonFinite { .. })) => {}
            other => panic!("{bad}: {other:?}"),
        }
    }
    // Wrong type for a typed field names the field.
    let text = BLOCK.replace("\"index\":1", "\"index\":\"one\"");
    match Block::from_wire_json(&text) {
        Err(ModelError::Invalid { field: "index", .. }) => {}
        other => panic!("{other:?}"),
    }
    // Oversized integer in an int field.
    let text = BLOCK.replace("\"index\":1", "\"index\":123456789012345678901234567890");
    assert!(matches!(
        Block::from_wire_json(&text),
        Err(ModelError::Invalid { field: "index", .. })
    ));
    // Unknown enum value.
    let text = TX.replace("optimae_accepted", "optimae_minted");
    assert!(matches!(
        Transaction::from_wire_json(&text),
        Err(ModelError::Invalid {
            field: "tx_type",
            ..
        })
    ));
    // Missing required field.
    let text = TX.replace("\"peer_id\":\"p1\",", "");
    assert!(matches!(
        Transaction::from_wire_json(&text),
        Err(ModelError::Missing {
            field: "peer_id",
            ..
        })
    ));
    // Malformed JSON.
    assert!(matches!(
        Transaction::from_wire_json("{\"id\":"),
        Err(ModelError::Json(_))
    ));
    // And the well-formed inputs parse.
    assert!(Transaction::from_wire_json(TX).is_ok());
    assert!(Block::from_wire_json(BLOCK).is_ok());
}

#[test]
fn non_finite_numbers_in_typed_float_fields_are_refused() {
    let optimae = r#"{"id":"","domain_id":"d1","optimizer_id":"p1","parameters":{"x":1},"reported_performance":0.5,"timestamp":"2026-01-01T00:00:00Z"}"#;
    assert!(Optimae::from_wire_json(optimae).is_ok());
    for bad in [
        "\"NaN\"",
        "\"nan\"",
        "\"Infinity\"",
        "\"-inf\"",
        "1e400",
        "NaN",
        "-Infinity",
    ] {
        let text = optimae.replace("0.5", bad);
        let err = Optimae::from_wire_json(&text).unwrap_err();
        assert!(
            matches!(
                err,
                ModelError::Json(JsonError::NonFinite { .. })
                    | ModelError::Json(JsonError::Syntax { .. })
                    | ModelError::Invalid {
                        field: "reported_performance",
                        ..
                    }
            ),
            "{bad}: {err}"
        );
    }
    let msg = r#"{"msg_type":"block_announcement","sender_id":"s","timestamp":"2026-01-01T00:00:00Z","payload":{"block_index":1,"block_hash":"h","previous_hash":"p","generator_id":"g","transaction_count":0,"weighted_performance_sum":1.0,"threshold":2.0}}"#;
    assert!(Message::from_wire_json(msg)
        .unwrap()
        .typed_payload()
        .is_ok());
    let m = Message::from_wire_json(&msg.replace("2.0", "\"Infinity\"")).unwrap();
    let err = m.typed_payload().unwrap_err();
    assert!(err.to_string().contains("not finite"), "{err}");
    let task = r#"{"task_type":"optimae_verification","domain_id":"d","requester_id":"r","reported_performance":"NaN","created_at":"2026-01-01T00:00:00Z"}"#;
    assert!(matches!(
        Task::from_wire_json(task),
        Err(ModelError::Invalid {
            field: "reported_performance",
            ..
        })
    ));
}

#[test]
fn unknown_enum_values_are_refused_with_a_clear_message() {
    let msg = r#"{"msg_type":"optimae_minted","sender_id":"s","timestamp":"2026-01-01T00:00:00Z","payload":{}}"#;
    let err = Message::from_wire_json(msg).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Message.msg_type: unknown value \"optimae_minted\""
    );
    let task = r#"{"task_type":"mining","domain_id":"d","requester_id":"r","created_at":"2026-01-01T00:00:00Z"}"#;
    let err = Task::from_wire_json(task).unwrap_err();
    assert_eq!(err.to_string(), "Task.task_type: unknown value \"mining\"");
    let task = task
        .replace("mining", "inference_request")
        .replace("\"domain_id\"", "\"status\":\"lost\",\"domain_id\"");
    let err = Task::from_wire_json(&task).unwrap_err();
    assert_eq!(err.to_string(), "Task.status: unknown value \"lost\"");
    // A payload that is not an object, and a gossip wrapper without data.
    let err = Message::from_wire_json(
        &msg.replace("optimae_minted", "task_claimed")
            .replace("{}", "[]"),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            ModelError::Invalid {
                field: "payload",
                ..
            }
        ),
        "{err}"
    );
    assert!(matches!(
        Message::from_http_body(r#"{"type":"message"}"#),
        Err(ModelError::Missing { field: "data", .. })
    ));
}
