//! The reference's coin vectors: every `coinbase_id`, `transfer_id` and `payment_state_hash`
//! entry of `testdata/reference/test-vectors.json`.
//!
//! The file is read with this crate's own parser so that `1` and `1.0` stay apart and
//! floats are parsed exactly.

use doin_primitives::json;
use doin_primitives::models::{
    CoinbaseTransaction, PaymentUpdate, PyNumber, TransferTransaction, WireModel,
};
use doin_primitives::value::{Map, Value};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/reference/test-vectors.json"
);

fn vectors() -> Map {
    let text = std::fs::read_to_string(VECTORS).expect("read test-vectors.json");
    match json::parse(&text).expect("parse test-vectors.json") {
        Value::Object(m) => m,
        other => panic!("test-vectors.json is a {}", other.type_name()),
    }
}

fn category<'a>(all: &'a Map, name: &str) -> &'a [Value] {
    all.get(name)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("category {name} missing"))
}

fn field<'a>(entry: &'a Value, key: &str) -> &'a Value {
    entry
        .as_object()
        .and_then(|m| m.get(key))
        .unwrap_or_else(|| panic!("entry lacks {key}"))
}

fn text<'a>(entry: &'a Value, key: &str) -> &'a str {
    field(entry, key)
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string"))
}

/// Checks one wire model entry: id from `wire_json` and from `wire`, the preimage bytes,
/// and a wire round trip that keeps the id.
fn check_wire_entry<M: WireModel>(
    i: usize,
    entry: &Value,
    id: impl Fn(&M) -> String,
    preimage: impl Fn(&M) -> String,
) {
    let wire_json = text(entry, "wire_json");
    let want_id = text(entry, "id");
    let want_pre = text(entry, "preimage");

    let m = M::from_wire_json(wire_json).unwrap_or_else(|e| panic!("#{i}: {e}"));
    assert_eq!(preimage(&m), want_pre, "#{i}: preimage");
    assert_eq!(id(&m), want_id, "#{i}: id");

    let from_parsed = M::from_value(field(entry, "wire")).unwrap_or_else(|e| panic!("#{i}: {e}"));
    assert_eq!(id(&from_parsed), want_id, "#{i}: id from parsed wire");

    // Our wire output reads back as the same object, with the same id.
    let again = M::from_wire_json(&m.to_wire_json()).unwrap_or_else(|e| panic!("#{i}: {e}"));
    assert_eq!(id(&again), want_id, "#{i}: id after round trip");
    assert_eq!(
        json::parse(&again.to_wire_json()).ok(),
        json::parse(wire_json).ok(),
        "#{i}: wire values after round trip"
    );
    // Byte-identical to pydantic's text, except that the shared wire writer spells a
    // positive float exponent `1e16` where pydantic writes `1e+16` (the same number).
    if !wire_json.contains("e+") {
        assert_eq!(m.to_wire_json(), wire_json, "#{i}: exact wire text");
    }
    // Same keys in the same (declaration) order as the reference's wire text.
    let keys = |v: &Value| -> Vec<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    assert_eq!(
        keys(&m.to_value()),
        keys(&json::parse(wire_json).unwrap_or(Value::Null)),
        "#{i}: key order"
    );
}

#[test]
fn coinbase_ids() {
    let all = vectors();
    let entries = category(&all, "coinbase_id");
    assert_eq!(entries.len(), 40);
    for (i, e) in entries.iter().enumerate() {
        check_wire_entry::<CoinbaseTransaction>(
            i,
            e,
            CoinbaseTransaction::compute_id,
            CoinbaseTransaction::id_preimage,
        );
    }
}

#[test]
fn transfer_ids() {
    let all = vectors();
    let entries = category(&all, "transfer_id");
    assert_eq!(entries.len(), 20);
    for (i, e) in entries.iter().enumerate() {
        check_wire_entry::<TransferTransaction>(
            i,
            e,
            TransferTransaction::compute_id,
            TransferTransaction::id_preimage,
        );
    }
}

#[test]
fn payment_state_hashes() {
    let all = vectors();
    let entries = category(&all, "payment_state_hash");
    assert_eq!(entries.len(), 20);
    let mut saw_int_balance = false;
    for (i, e) in entries.iter().enumerate() {
        let fields = field(e, "fields");
        let u = PaymentUpdate::from_value(fields).unwrap_or_else(|err| panic!("#{i}: {err}"));
        assert_eq!(u.state_preimage(), text(e, "preimage"), "#{i}: preimage");
        assert_eq!(u.state_hash(), text(e, "state_hash"), "#{i}: state hash");
        saw_int_balance |= matches!(u.sender_balance, PyNumber::Int(_));

        let again = PaymentUpdate::from_wire_json(&u.to_wire_json())
            .unwrap_or_else(|err| panic!("#{i}: {err}"));
        assert_eq!(again, u, "#{i}: round trip");
        assert_eq!(&u.to_value(), fields, "#{i}: asdict form");
    }
    assert!(saw_int_balance, "the int-balance vector is exercised");
}

#[test]
fn tampering_changes_ids() {
    let all = vectors();
    let e = &category(&all, "transfer_id")[0];
    let mut t = TransferTransaction::from_wire_json(text(e, "wire_json")).expect("parse");
    let id = t.compute_id();
    t.timestamp = doin_primitives::Timestamp::EPOCH;
    assert_eq!(t.compute_id(), id, "timestamp is outside the id");
    t.amount += 1.0;
    assert_ne!(t.compute_id(), id);

    let e = &category(&all, "coinbase_id")[1];
    let mut c = CoinbaseTransaction::from_wire_json(text(e, "wire_json")).expect("parse");
    let id = c.compute_id();
    c.outputs[0].reason = "changed".into();
    c.outputs[0].domain_id = "changed".into();
    assert_eq!(c.compute_id(), id, "reason and domain are outside the id");
    c.outputs[0].recipient.push('x');
    assert_ne!(c.compute_id(), id);
}
