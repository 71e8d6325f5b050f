//! `POST /message` bodies: messages, gossip envelopes, typed payloads (control frames are
//! acknowledged unread).
#![no_main]

use doin_primitives::models::{InboundBody, Message, MessageType, Payload, WireModel};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Message::from_http_body(text) {
        Ok(InboundBody::Message(m)) => {
            if let Ok(p) = m.typed_payload() {
                let _ = p.to_map();
                if let Payload::BlockResponse(r) = &p {
                    let _ = r.parse_blocks();
                }
            }
            let _ = (m.dedupe_id(), m.gossip_id(), m.verify_seal());
            let _ = Message::from_wire_json(&m.to_wire_json());
        }
        Ok(InboundBody::Control(_)) | Err(_) => {}
    }
    if let Ok(v) = doin_primitives::json::parse(text) {
        if let Some(m) = v.as_object() {
            for t in MessageType::ALL {
                let _ = Payload::parse(t, m).map(|p| p.to_map());
            }
        }
    }
});
