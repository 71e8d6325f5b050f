//! Bad input never panics: random bytes, truncated and mutated wire JSON fed to every
//! parser give a typed error or a value, and the specific refusals the protocol needs
//! (NaN/Infinity, wrong types, unknown enum values, oversized numbers) are typed errors.

#![allow(clippy::unwrap_used)]

use doin_primitives::json::{self, JsonError};
use doin_primitives::models::{Block, Transaction, WireModel};
use doin_primitives::{ModelError, Timestamp};
use proptest::prelude::*;

const TX: &str = r#"{"id":"","tx_type":"optimae_accepted","domain_id":"d1","peer_id":"p1","payload":{"increment":0.6,"optimae_id":"x","performance":0.9},"timestamp":"2026-01-01T00:05:00Z"}"#;
const BLOCK: &str = r#"{"header":{"index":1,"previous_hash":"4e19257e8941caec2ec6a4d581a981a533ab5728c11e58c3d13040049e3cd6d5","timestamp":"2026-01-01T00:10:00Z","merkle_root":"0","generator_id":"node-1","weighted_performance_sum":0.6,"threshold":0.5},"transactions":[],"hash":""}"#;

/// Every parser of wire input, applied to the same bytes.
fn feed_all(bytes: &[u8]) {
    let _ = json::parse_bytes(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = Timestamp::parse_str(text);
        let _ = Transaction::from_wire_json(text);
        let _ = Block::from_wire_json(text);
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
