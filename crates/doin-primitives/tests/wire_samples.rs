//! Every file in `testdata/reference/wire-samples/` (real bytes the reference served or
//! sent) parses with the model it is, and every id or hash it carries recomputes.

#![allow(clippy::unwrap_used)]

mod common;

use common::REFERENCE;
use doin_primitives::cjson::to_cjson;
use doin_primitives::hash::sha256_hex;
use doin_primitives::json;
use doin_primitives::models::payload::{BlockResponse, ChainStatus};
use doin_primitives::models::{Block, InboundBody, Message, Payload, Task, WireModel};
use doin_primitives::{ModelError, Value};

fn sample(name: &str) -> String {
    std::fs::read_to_string(format!("{REFERENCE}/wire-samples/{name}")).unwrap()
}

/// A block as served: content, merkle root and hash recompute.
fn check_block(b: &Block, what: &str) {
    b.validate_content()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
}

/// A chain segment as served by `GET /chain/blocks`: each block valid and linked.
fn check_blocks(name: &str) -> usize {
    let r = BlockResponse::from_wire_json(&sample(name)).unwrap();
    let blocks = r.parse_blocks().unwrap();
    for (i, b) in blocks.iter().enumerate() {
        check_block(b, &format!("{name} #{i}"));
        if i > 0 {
            assert_eq!(
                b.header.previous_hash,
                blocks[i - 1].hash,
                "{name} #{i} link"
            );
            assert_eq!(b.header.index, blocks[i - 1].header.index + 1);
        }
    }
    blocks.len()
}

/// A `POST /message` body: parses (bare or GossipSub-wrapped), reads as its typed payload,
/// and whatever the payload lets a receiver recompute does recompute.
fn check_message(name: &str) {
    let m = match Message::from_http_body(&sample(name)) {
        Ok(InboundBody::Message(m)) => m,
        other => panic!("{name}: {other:?}"),
    };
    assert!(
        name.contains(m.msg_type.as_str()),
        "{name}: {:?}",
        m.msg_type
    );
    assert_eq!(m.dedupe_id().len(), 64);
    // The transport keys are outside the dedupe id and inside the gossip id.
    if m.payload.contains_key("_sender_port") {
        assert_ne!(m.dedupe_id(), m.gossip_id(), "{name}");
    }
    let p = m
        .typed_payload()
        .unwrap_or_else(|e| panic!("{name}: typed payload: {e}"));
    match &p {
        Payload::OptimaeReveal(r) => {
            // The commitment opens: sha256_hex(CJSON(parameters) + ":" + nonce).
            let opened = format!(
                "{}:{}",
                to_cjson(&Value::Object(r.parameters.clone())),
                r.nonce
            );
            assert_eq!(sha256_hex(opened), r.commitment_hash, "{name}");
        }
        Payload::BlockAnnouncement(a) => {
            assert_eq!(a.block_hash.len(), 64);
            assert!(a.threshold > 0.0);
        }
        Payload::OptimaeCommit(c) => assert_eq!(c.commitment_hash.len(), 64),
        _ => {}
    }
    // Transport keys survive as extra keys of the typed payload.
    for key in doin_primitives::models::message::TRANSPORT_KEYS {
        assert_eq!(
            m.payload.contains_key(key),
            p.to_map().contains_key(key),
            "{name}: {key}"
        );
    }
}

#[test]
fn every_sample_parses_with_its_model() {
    let dir = format!("{REFERENCE}/wire-samples");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "README.md")
        .collect();
    names.sort();
    assert_eq!(names.len(), 41);
    for name in &names {
        let n = name.as_str();
        match n {
            "api_chain_block_0.json" => {
                let b = Block::from_wire_json(&sample(n)).unwrap();
                check_block(&b, n);
                assert_eq!(b, Block::genesis());
            }
            "api_chain_block_3.json" => {
                let b = Block::from_wire_json(&sample(n)).unwrap();
                assert_eq!(b.header.index, 3);
                check_block(&b, n);
            }
            "api_chain_blocks_from_0_to_5.json"
            | "api_chain_blocks_from_0_to_5_candidates.json" => {
                assert_eq!(check_blocks(n), 6);
            }
            "api_chain_blocks_empty_range.json" => {
                assert_eq!(check_blocks(n), 0);
                assert!(BlockResponse::from_wire_json(&sample(n)).unwrap().has_more);
            }
            "api_chain_status.json" => {
                let s = ChainStatus::from_wire_json(&sample(n)).unwrap();
                assert_eq!(s.chain_height, s.tip_index + 1);
                assert!(s.extra.contains_key("component_versions"));
                assert_eq!(
                    s.to_wire_json(),
                    json::to_wire_json(&json::parse(&sample(n)).unwrap())
                );
            }
            "api_tasks_pending.json" | "api_tasks_pending_empty.json" => {
                let v = json::parse(&sample(n)).unwrap();
                let tasks = v
                    .as_object()
                    .and_then(|m| m.get("tasks"))
                    .and_then(Value::as_array)
                    .unwrap();
                let tasks: Vec<Task> = tasks.iter().map(|t| Task::from_value(t).unwrap()).collect();
                // Tasks a node created itself recompute. Replicas made from `task_created`
                // messages do not: that payload has no `created_at`, so the receiver
                // stamps its own clock and keeps the sender's id. The quorum sample holds
                // 5 of each (one original and one replica per optimae, ~5 ms apart).
                let valid = tasks.iter().filter(|t| t.id_is_valid()).count();
                if n == "api_tasks_pending.json" {
                    assert_eq!((tasks.len(), valid), (10, 5));
                    for t in tasks.iter().filter(|t| !t.id_is_valid()) {
                        assert!(tasks.iter().any(|o| o.id_is_valid()
                            && o.optimae_id == t.optimae_id
                            && o.parameters == t.parameters));
                    }
                } else {
                    assert!(tasks.is_empty());
                }
            }
            _ if n.starts_with("message_reply_") || n == "api_chain_block_not_found.json" => {
                // Status replies: JSON, and not a message.
                assert!(matches!(
                    Message::from_wire_json(&sample(n)),
                    Err(ModelError::Missing { .. })
                ));
            }
            _ if n.starts_with("message_") || n.starts_with("gossip_") => check_message(n),
            "api_stats_chain_metrics_error.txt" => {
                // The reference answers this route with a plain-text 500.
                assert!(json::parse(&sample(n)).is_err());
            }
            // Node status, stats, fee and peer answers: HTTP API bodies with no protocol
            // model; they must at least be JSON objects our parser reads.
            "api_dashboard_node.json"
            | "api_dashboard_peers.json"
            | "api_fees_disabled.json"
            | "api_fees_enabled.json"
            | "api_health.json"
            | "api_peers.json"
            | "api_stats.json"
            | "api_stats_experiments.json"
            | "api_stats_rounds.json"
            | "api_stats_rounds_no_experiment.json"
            | "api_status.json"
            | "api_status_gossipsub.json"
            | "api_status_two_nodes.json" => {
                assert!(
                    json::parse(&sample(n)).unwrap().as_object().is_some(),
                    "{n}"
                );
            }
            other => panic!("unclassified wire sample {other}: add it to this test"),
        }
    }
}
