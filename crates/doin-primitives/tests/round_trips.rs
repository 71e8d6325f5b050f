//! Round trips for every model: wire JSON → model → wire JSON → model keeps the id, and the
//! second pass writes the same text as the first. Inputs are the reference's own wire
//! objects from the vectors, plus handcrafted domains. (Transactions, blocks, optimae and
//! tasks round-trip entry by entry in `vectors_models.rs`.)

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;

use common::{category, opt, round_trip, vectors};
use doin_primitives::models::{
    CoinbaseTransaction, Domain, DomainConfig, Message, MessageType, Payload, PaymentUpdate,
    TransferTransaction, WireModel,
};
use doin_primitives::Value;

fn wire_jsons<'a>(all: &'a doin_primitives::Map, cat: &str) -> Vec<&'a str> {
    category(all, cat)
        .iter()
        .filter_map(|e| opt(e, "wire_json").and_then(Value::as_str))
        .collect()
}

#[test]
fn coin_models() {
    let all = vectors();
    for w in wire_jsons(&all, "coinbase_id") {
        round_trip::<CoinbaseTransaction>("coinbase", w, CoinbaseTransaction::compute_id);
    }
    for w in wire_jsons(&all, "transfer_id") {
        round_trip::<TransferTransaction>("transfer", w, TransferTransaction::compute_id);
    }
    for e in category(&all, "payment_state_hash") {
        let w = doin_primitives::json::to_wire_json(opt(e, "fields").unwrap_or(e));
        let p = round_trip::<PaymentUpdate>("payment update", &w, PaymentUpdate::state_hash);
        assert_eq!(
            Some(p.state_hash().as_str()),
            opt(e, "state_hash").and_then(Value::as_str)
        );
    }
}

#[test]
fn domains() {
    let full = r#"{"id":"quadratic","name":"Quadratic","description":"minimise a quadratic","performance_metric":"fitness","higher_is_better":false,"weight":2.5,"config":{"optimization_plugin":"simple_quadratic","inference_plugin":"quadratic_eval","synthetic_data_plugin":"quadratic_synth","plugin_config":{"n_params":10,"step":0.5}},"current_best_performance":-3.25}"#;
    let d = round_trip::<Domain>("domain", full, |d| d.to_wire_json());
    assert_eq!(d.to_wire_json(), full);
    // Defaults fill in, and come back out in declaration order.
    let minimal = r#"{"id":"d","name":"D","performance_metric":"mse","config":{"optimization_plugin":"o","inference_plugin":"i"}}"#;
    let d = round_trip::<Domain>("minimal domain", minimal, |d| d.to_wire_json());
    assert!(d.higher_is_better);
    assert_eq!(d.weight, 1.0);
    assert_eq!(
        d.to_wire_json(),
        r#"{"id":"d","name":"D","description":"","performance_metric":"mse","higher_is_better":true,"weight":1.0,"config":{"optimization_plugin":"o","inference_plugin":"i","synthetic_data_plugin":null,"plugin_config":{}},"current_best_performance":null}"#
    );
    let c = DomainConfig::from_wire_json(r#"{"optimization_plugin":"o","inference_plugin":"i"}"#)
        .unwrap();
    assert_eq!(c.synthetic_data_plugin, None);
}

/// Every message type: the envelope and its typed payload round-trip, and a payload that
/// came with all its declared fields rebuilds a message with the same id.
#[test]
fn messages_and_every_payload_type() {
    let all = vectors();
    let mut seen = HashSet::new();
    for (i, w) in wire_jsons(&all, "message_dedupe_id")
        .into_iter()
        .enumerate()
    {
        let m = round_trip::<Message>(&format!("message #{i}"), w, Message::dedupe_id);
        let Ok(p) = m.typed_payload() else { continue };
        assert_eq!(p.msg_type(), m.msg_type);
        seen.insert(m.msg_type);

        // Typed payload → object → typed payload is the same payload.
        let again = Payload::parse(m.msg_type, &p.to_map()).unwrap();
        assert_eq!(again, p, "#{i}: payload round trip");

        let complete = declared_fields(&p)
            .iter()
            .all(|k| m.payload.contains_key(*k));
        if complete {
            let mut rebuilt = Message::new(m.sender_id.clone(), m.timestamp, &p);
            rebuilt.ttl = m.ttl;
            assert_eq!(rebuilt.dedupe_id(), m.dedupe_id(), "#{i}: rebuilt id");
            assert_eq!(
                rebuilt.gossip_id(),
                m.gossip_id(),
                "#{i}: rebuilt gossip id"
            );
            assert_eq!(
                rebuilt.to_wire_json(),
                m.to_wire_json(),
                "#{i}: rebuilt wire"
            );
        }
    }
    let missing: Vec<_> = MessageType::ALL
        .iter()
        .filter(|t| !seen.contains(t))
        .collect();
    assert!(missing.is_empty(), "no typed sample for {missing:?}");
}

fn declared_fields(p: &Payload) -> &'static [&'static str] {
    use doin_primitives::models::payload::*;
    match p {
        Payload::OptimaeCommit(_) => OptimaeCommit::FIELDS,
        Payload::OptimaeReveal(_) => OptimaeReveal::FIELDS,
        Payload::OptimaeAnnouncement(_) => OptimaeAnnouncement::FIELDS,
        Payload::TaskCreated(_) => TaskCreated::FIELDS,
        Payload::TaskClaimed(_) => TaskClaimed::FIELDS,
        Payload::TaskCompleted(_) => TaskCompleted::FIELDS,
        Payload::BlockAnnouncement(_) => BlockAnnouncement::FIELDS,
        Payload::ChainStatus(_) => ChainStatus::FIELDS,
        Payload::BlockRequest(_) => BlockRequest::FIELDS,
        Payload::BlockResponse(_) => BlockResponse::FIELDS,
        Payload::PeerDiscovery(_) => PeerDiscovery::FIELDS,
        Payload::ChampionRequest(_) => ChampionRequest::FIELDS,
        Payload::ChampionResponse(_) => ChampionResponse::FIELDS,
        Payload::StageComplete(_) => StageComplete::FIELDS,
        // The timestamp is optional and omitted when absent.
        Payload::CandidateEvaluation(_) => &["tx_id", "domain_id", "peer_id", "candidate_data"],
        Payload::EvaluationRequest(_) => EvaluationRequest::FIELDS,
        Payload::EvaluationResponse(_) => EvaluationResponse::FIELDS,
    }
}

/// Each payload model round-trips as a wire object of its own.
#[test]
fn payload_models_as_wire_objects() {
    let all = vectors();
    for w in wire_jsons(&all, "message_dedupe_id") {
        let m = Message::from_wire_json(w).unwrap();
        let Ok(p) = m.typed_payload() else { continue };
        let obj = doin_primitives::json::to_wire_json(&Value::Object(p.to_map()));
        let t = m.msg_type;
        let back = Payload::parse(
            t,
            doin_primitives::json::parse(&obj)
                .unwrap()
                .as_object()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            doin_primitives::json::to_wire_json(&Value::Object(back.to_map())),
            obj,
            "{}",
            t.as_str()
        );
    }
}
