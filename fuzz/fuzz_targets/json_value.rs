//! DOIN's JSON parser, its writers and the value-level helpers on arbitrary bytes.
#![no_main]

use doin_primitives::{cjson, json, synthetic_hash, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Timestamp::parse_str(text);
    }
    let Ok(v) = json::parse_bytes(data) else {
        return;
    };
    // What we write must read back to the same value.
    let wire = json::to_wire_json(&v);
    let back = json::parse(&wire).expect("wire JSON we wrote parses");
    assert_eq!(json::to_wire_json(&back), wire, "wire JSON round trip");
    let _ = cjson::to_cjson(&v);
    let _ = synthetic_hash::hash_synthetic_data(&v);
    let _ = Timestamp::parse_wire(&v).map(|t| (t.isoformat(), t.wire()));
});
