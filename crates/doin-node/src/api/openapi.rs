//! `/openapi.json`: an OpenAPI 3.0 description of every route the node serves.

use axum::Json;
use serde_json::{json, Value};

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn ok(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn int_query(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "integer"}})
}

fn text(media: &str, description: &str) -> Value {
    json!({"description": description, "content": {media: {"schema": {"type": "string"}}}})
}

fn nodes_query() -> Value {
    json!({"name": "nodes", "in": "query", "required": false, "description": "comma-separated host:port (default: this node and its peers; at most 32)", "schema": {"type": "string"}})
}

/// The document.
pub fn document() -> Value {
    let mut doc = core_document();
    if let (Some(paths), Value::Object(more)) = (
        doc.get_mut("paths").and_then(Value::as_object_mut),
        super::inference::openapi_paths(),
    ) {
        paths.extend(more);
    }
    doc
}

fn core_document() -> Value {
    let obj = json!({"type": "object"});
    let mut doc = json!({
        "openapi": "3.0.3",
        "info": {
            "title": "DOIN node API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A DOIN node's HTTP API: the reference node's paths and JSON shapes. Errors are {\"status\":\"error\",\"detail\":...}."
        },
        "paths": {
            "/message": {"post": {
                "summary": "Peer inbox: a Message envelope (raw or {type: message, data}) or a gossip control frame",
                "requestBody": {"required": true, "content": {"application/json": {"schema": obj.clone()}}},
                "responses": {"200": ok("{status: ok}", obj.clone()), "400": error_response("invalid message: malformed, unsigned, bad seal, replayed or mis-dated"), "403": error_response("the sending address or peer is banned"), "413": error_response("body too large"), "429": error_response("rate limited")}}},
            "/health": {"get": {"summary": "Liveness", "responses": {"200": ok("{status, port}", obj.clone())}}},
            "/status": {"get": {"summary": "Node status: domains, chain, task queue, coin (with payment_channels totals), difficulty", "responses": {"200": ok("status object", obj.clone())}}},
            "/peers": {"get": {"summary": "Known peers, and the addresses charged for bad messages", "responses": {"200": ok("{self, peers, addresses}", obj.clone())}}},
            "/fees": {"get": {"summary": "Fee market: base fee, suggested fees, mempool size, burned and staked totals (DOIN, and base units in *_units keys)", "responses": {"200": ok("{base_fee, mempool_size, mempool_limit, total_burned, staked_optimae, total_staked, suggested_fees, enabled, base_fee_units, total_burned_units, total_staked_units, total_supply_units, suggested_fees_units, payment_channels}", obj.clone())}}},
            "/transfers": {"post": {
                "summary": "Submit a signed transfer {sender, recipient, amount, fee, nonce, timestamp, public_key, signature} (amount and fee in base units; 1 DOIN = 10^8)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": obj.clone()}}},
                "responses": {"200": ok("{status: accepted, transfer_id, mempool_size}", obj.clone()), "400": error_response("the rule the transfer breaks"), "409": error_response("already pending"), "429": error_response("rate limited"), "503": error_response("mempool full")}}},
            "/commitments": {"post": {
                "summary": "Submit an optimizer's sealed commitment {optimizer_id, domain_id, bound_commitment, timestamp, public_key, signature}; blocks carry it before its reveal",
                "requestBody": {"required": true, "content": {"application/json": {"schema": obj.clone()}}},
                "responses": {"200": ok("{status: accepted, bound_commitment}", obj.clone()), "400": error_response("the rule the commitment breaks"), "409": error_response("pending or on chain already"), "429": error_response("too many pending for its optimizer"), "503": error_response("commitment pool full")}}},
            "/commitments/{optimizer_id}/{bound}": {"get": {
                "summary": "Where an optimizer's bound commitment is on chain: {bound_commitment, height, block_hash, optimizer_id, domain_id}",
                "parameters": [{"name": "optimizer_id", "in": "path", "required": true, "schema": {"type": "string"}}, {"name": "bound", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": ok("{bound_commitment, height, block_hash, optimizer_id, domain_id}", obj.clone()), "400": error_response("not a commitment hash"), "404": error_response("not on chain")}}},
            "/balance/{address}": {"get": {
                "summary": "An address's balance, last used nonce, next nonce and pending transfers",
                "parameters": [{"name": "address", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": ok("{address, balance, balance_units, nonce, next_nonce, pending_transfers}", obj.clone()), "400": error_response("not a peer id")}}},
            "/chain/status": {"get": {"summary": "Chain height, tip and finality", "responses": {"200": ok("{chain_height, tip_hash, tip_index, finalized_height, component_versions, params_hash, cumulative_work}", obj.clone())}}},
            "/chain/blocks": {"get": {
                "summary": "A range of blocks (at most 50)",
                "parameters": [int_query("from", "first index (default 0)"), int_query("to", "last index, inclusive (default tip; capped to from+49)"),
                    {"name": "request_id", "in": "query", "required": false, "schema": {"type": "string"}}],
                "responses": {"200": ok("{request_id, blocks, has_more}", obj.clone()), "400": error_response("bad parameter")}}},
            "/chain/block/{index}": {"get": {
                "summary": "One block",
                "parameters": [{"name": "index", "in": "path", "required": true, "schema": {"type": "integer"}}],
                "responses": {"200": ok("a block", json!({"$ref": "#/components/schemas/Block"})), "400": error_response("bad index"), "404": error_response("no such block")}}},
            "/tasks/pending": {"get": {
                "summary": "Pending tasks, most urgent first",
                "parameters": [{"name": "domains", "in": "query", "required": false, "description": "comma-separated domain ids", "schema": {"type": "string"}}, int_query("limit", "most tasks returned (default 10, max 500)")],
                "responses": {"200": ok("{tasks, total_pending}", obj.clone()), "400": error_response("bad parameter")}}},
            "/tasks/claim": {"post": {
                "summary": "Claim a pending task",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["task_id", "evaluator_id"], "properties": {"task_id": {"type": "string"}, "evaluator_id": {"type": "string"}}}}}},
                "responses": {"200": ok("{status: claimed, task}", obj.clone()), "400": error_response("missing fields"), "409": error_response("not claimable")}}},
            "/tasks/complete": {"post": {
                "summary": "Complete a claimed task with the evaluator's figure and signed vote",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["task_id", "verified_performance"], "properties": {"task_id": {"type": "string"}, "evaluator_id": {"type": "string"}, "verified_performance": {"type": "number"}, "vote": {"type": "object"}}}}}},
                "responses": {"200": ok("{status: completed, task_id, block_generated}", obj.clone()), "400": error_response("missing or bad fields"), "409": error_response("not completable, or the vote refused (not the claimer's seal, another optimae, another seed)")}}},
            "/stats": {"get": {"summary": "Experiment tracker summary per domain (or of one), plus olap_summaries",
                "parameters": [{"name": "domain", "in": "query", "required": false, "schema": {"type": "string"}}],
                "responses": {"200": ok("{<domain>: summary, olap_summaries}", obj.clone()), "404": error_response("unknown domain")}}},
            "/stats/experiments": {"get": {"summary": "Experiments (dim_experiment) and finished summaries", "responses": {"200": ok("{experiments, summaries}", obj.clone())}}},
            "/stats/rounds": {"get": {"summary": "An experiment's rounds (fact_round) by round number",
                "parameters": [{"name": "experiment_id", "in": "query", "required": true, "schema": {"type": "string"}}, int_query("limit", "most rounds returned (default 1000, max 100000, >= 0)")],
                "responses": {"200": ok("{rounds}", obj.clone()), "400": error_response("missing or malformed experiment_id, bad limit"), "404": error_response("unknown experiment")}}},
            "/stats/chain-metrics": {"get": {"summary": "Every participant's accepted optimae from the chain (fact_chain_optimae)",
                "parameters": [{"name": "domain_id", "in": "query", "required": false, "schema": {"type": "string"}}],
                "responses": {"200": ok("{metrics, count}", obj.clone()), "404": error_response("unknown domain")}}},
            "/stats/export": {"get": {"summary": "A consistent copy of the OLAP database (SQLite online backup), streamed; at most two at a time",
                "responses": {"200": {"description": "olap.db", "content": {"application/vnd.sqlite3": {"schema": {"type": "string", "format": "binary"}}}}, "503": error_response("two exports are being sent already")}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": ok("OpenAPI document", obj.clone())}}},
            "/metrics": {"get": {"summary": "Counters, gauges and histograms in the Prometheus text format 0.0.4", "responses": {"200": text("text/plain; version=0.0.4", "the exposition")}}},
            "/dashboard": {"get": {"summary": "The live dashboard (one HTML page, assets embedded)", "responses": {"200": text("text/html", "the page")}}},
            "/dashboard/snapshot": {"get": {"summary": "The dashboard's first paint: status, the last 50 blocks, the last 240 round samples per domain, accepted optimae per node", "responses": {"200": ok("{server_time, status, blocks, rounds, accepted_by_node}", obj.clone())}}},
            "/dashboard/events": {"get": {"summary": "Server-sent events with deltas: block, round, status, resync", "responses": {"200": text("text/event-stream", "the event stream")}}},
            "/dashboard/fleet": {"get": {"summary": "The fleet page: several nodes side by side", "parameters": [nodes_query()], "responses": {"200": text("text/html", "the page")}}},
            "/dashboard/fleet/data": {"get": {"summary": "Each node's height, tip and best performance, and whether its tip is on the highest chain", "parameters": [nodes_query()], "responses": {"200": ok("{reference, all_agree, online, members}", obj.clone())}}}
        },
        "components": {"schemas": {
            "Error": {"type": "object", "properties": {"status": {"type": "string", "enum": ["error"]}, "detail": {"type": "string"}}},
            "Block": {"type": "object", "properties": {
                "header": {"type": "object", "properties": {
                    "index": {"type": "integer"}, "previous_hash": {"type": "string"}, "timestamp": {"type": "string"},
                    "merkle_root": {"type": "string"}, "generator_id": {"type": "string"},
                    "weighted_performance_sum": {"type": "number"}, "threshold": {"type": "number"}}},
                "transactions": {"type": "array", "items": {"type": "object"}},
                "hash": {"type": "string"},
                "coinbase": {"type": "object"},
                "public_key": {"type": "string"},
                "signature": {"type": "string"}}}
        }}
    });
    if let Some(paths) = doc["paths"].as_object_mut() {
        paths.extend(channel_paths());
    }
    doc
}

/// The payment-channel paths ([`super::channels`]).
fn channel_paths() -> serde_json::Map<String, Value> {
    let obj = json!({"type": "object"});
    let body = json!({"required": true, "content": {"application/json": {"schema": obj.clone()}}});
    let id = json!([{"name": "id", "in": "path", "required": true, "description": "64 hex characters: the open operation's id", "schema": {"type": "string"}}]);
    let address = json!([{"name": "address", "in": "query", "required": false, "description": "a peer id: its channel-operation nonces are reported", "schema": {"type": "string"}}]);
    let paths = json!({
        "/channels": {
            "post": {
                "summary": "Submit a signed channel operation {op: open|close|dispute|settle, actor, fee, nonce, receiver, deposit, dispute_period, channel_id, update, public_key, signature} (base units; dispute_period in seconds of chain time)",
                "requestBody": body.clone(),
                "responses": {"200": ok("{status: accepted, operation_id, channel_id, pending}", obj.clone()), "400": error_response("the rule the operation breaks"), "409": error_response("already pending"), "429": error_response("rate limited"), "503": error_response("channel pool full")}},
            "get": {
                "summary": "Channel totals {total_channels, active_channels, total_locked, total_settled, total_fees, disputes, pending_operations} and an address's channel-operation nonces",
                "parameters": address,
                "responses": {"200": ok("channel totals", obj.clone()), "400": error_response("not a peer id")}}},
        "/channels/check": {"post": {
            "summary": "Check an off-chain channel update {channel_id, nonce, sender_balance, receiver_balance, public_key, signature} against the chain's tip",
            "requestBody": body,
            "responses": {"200": ok("{valid: true, channel_id, nonce, paid_units, deposit_units}", obj.clone()), "400": error_response("why the update pays nothing"), "404": error_response("unknown channel")}}},
        "/channels/{id}": {"get": {
            "summary": "A channel: participants, state (open, closing, closed), deposit, balances, nonce, dispute deadline",
            "parameters": id,
            "responses": {"200": ok("channel", obj), "400": error_response("not a channel id"), "404": error_response("unknown channel")}}}
    });
    match paths {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// `GET /openapi.json`.
pub async fn openapi() -> Json<Value> {
    Json(document())
}
