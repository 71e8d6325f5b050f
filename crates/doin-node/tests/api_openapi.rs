//! The OpenAPI document against a real node process: every documented operation is routed
//! (and a path that is not documented is not), every documented JSON answer has a named
//! schema with properties, every answer the node gives on a probe of each operation
//! validates against the schema documented for its status, and so do the reference's wire
//! samples of the same paths.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use common::{free_port, NodeProcess};
use serde_json::{json, Value};

/// Every path the node serves (with the inference paths, which the binary always has).
const SERVED: &[&str] = &[
    "/message",
    "/health",
    "/status",
    "/peers",
    "/api/monitor",
    "/fees",
    "/transfers",
    "/balance/{address}",
    "/commitments",
    "/commitments/{optimizer_id}/{bound}",
    "/channels",
    "/channels/check",
    "/channels/{id}",
    "/chain/status",
    "/chain/blocks",
    "/chain/block/{index}",
    "/tasks/pending",
    "/tasks/claim",
    "/tasks/complete",
    "/stats",
    "/stats/experiments",
    "/stats/rounds",
    "/stats/chain-metrics",
    "/stats/export",
    "/openapi.json",
    "/metrics",
    "/dashboard",
    "/dashboard/dashboard.js",
    "/dashboard/dashboard.css",
    "/dashboard/snapshot",
    "/dashboard/events",
    "/dashboard/fleet",
    "/dashboard/fleet/data",
    "/inference",
    "/inference/{task_id}",
    "/inference/channels",
    "/inference/channels/{channel_id}",
    "/inference/channels/{channel_id}/close",
];

/// The reference's wire samples of served paths: file, path, status.
const SAMPLES: &[(&str, &str, u16)] = &[
    ("api_health.json", "/health", 200),
    ("api_status.json", "/status", 200),
    ("api_status_two_nodes.json", "/status", 200),
    ("api_status_gossipsub.json", "/status", 200),
    ("api_chain_status.json", "/chain/status", 200),
    ("api_chain_blocks_from_0_to_5.json", "/chain/blocks", 200),
    (
        "api_chain_blocks_from_0_to_5_candidates.json",
        "/chain/blocks",
        200,
    ),
    ("api_chain_blocks_empty_range.json", "/chain/blocks", 200),
    ("api_chain_block_0.json", "/chain/block/{index}", 200),
    ("api_chain_block_3.json", "/chain/block/{index}", 200),
    (
        "api_chain_block_not_found.json",
        "/chain/block/{index}",
        404,
    ),
    ("api_peers.json", "/peers", 200),
    ("api_fees_enabled.json", "/fees", 200),
    ("api_fees_disabled.json", "/fees", 200),
    ("api_stats.json", "/stats", 200),
    ("api_stats_experiments.json", "/stats/experiments", 200),
    ("api_stats_rounds.json", "/stats/rounds", 200),
    ("api_tasks_pending.json", "/tasks/pending", 200),
    ("api_tasks_pending_empty.json", "/tasks/pending", 200),
];

/// The schema `doc` documents for `method path` answering `status` as JSON, if any.
fn json_schema(doc: &Value, path: &str, method: &str, status: u16) -> Option<Value> {
    doc["paths"][path][method]["responses"][status.to_string()]["content"]["application/json"]
        .get("schema")
        .cloned()
}

/// Whether `instance` validates against `schema`, whose `$ref`s point into `doc`.
fn validate(doc: &Value, schema: &Value, instance: &Value) -> Result<(), String> {
    // The document's components ride along, so `#/components/schemas/…` resolves.
    let mut root = schema.clone();
    if let Some(obj) = root.as_object_mut() {
        obj.insert("components".into(), doc["components"].clone());
    }
    let validator = jsonschema::validator_for(&root).map_err(|e| format!("bad schema: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// The component a `$ref` schema names.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling {r}")),
        None => schema,
    }
}

/// Whether a schema says what its object holds: properties, or a composition of schemas
/// that do (a bare `{"type": "object"}` does not).
fn has_properties(doc: &Value, schema: &Value) -> bool {
    let schema = resolve(doc, schema);
    if schema["properties"]
        .as_object()
        .is_some_and(|p| !p.is_empty())
    {
        return true;
    }
    schema["allOf"]
        .as_array()
        .is_some_and(|parts| !parts.is_empty() && parts.iter().all(|p| has_properties(doc, p)))
}

fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                ops.push((path.clone(), method.to_owned()));
            }
        }
    }
    ops
}

fn samples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/reference/wire-samples")
}

#[test]
fn the_document_is_generated_from_the_routes_and_describes_what_the_node_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut node = NodeProcess::start(dir.path(), free_port(), &[]);
    let status = node.wait_status(Duration::from_secs(120), "height >= 3", |s| {
        s["chain_height"].as_i64().unwrap_or(0) >= 3
    });
    let me = status["peer_id_full"].as_str().expect("peer id").to_owned();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let doc: Value = client
        .get(node.url("/openapi.json"))
        .send()
        .expect("openapi")
        .json()
        .expect("openapi JSON");
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );

    // The document lists exactly the served paths.
    let documented: BTreeSet<&str> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .collect();
    let served: BTreeSet<&str> = SERVED.iter().copied().collect();
    assert_eq!(
        documented, served,
        "documented paths differ from the served ones"
    );

    // Every documented JSON answer is a named schema with properties, never a bare object.
    for (path, method) in operations(&doc) {
        let responses = doc["paths"][&path][&method]["responses"]
            .as_object()
            .expect("responses");
        assert!(responses.contains_key("200"), "{method} {path}: no 200");
        for (code, response) in responses {
            let Some(schema) = response["content"]["application/json"].get("schema") else {
                continue;
            };
            assert!(
                schema.get("$ref").is_some(),
                "{method} {path} {code}: inline schema {schema}"
            );
            assert!(
                has_properties(&doc, schema),
                "{method} {path} {code}: schema without properties {}",
                resolve(&doc, schema)
            );
        }
    }

    // A probe of every documented operation reaches a handler (not the router's empty
    // 404 or 405), and its JSON answer validates against the schema for its status.
    let experiment = client
        .get(node.url("/stats/experiments"))
        .send()
        .and_then(|r| r.json::<Value>())
        .ok()
        .and_then(|v| {
            v["experiments"][0]["experiment_id"]
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "none".into());
    let zeros = "0".repeat(64);
    let mut checked_ok = 0;
    for (path, method) in operations(&doc) {
        let mut url = path
            .replace("{address}", &me)
            .replace("{optimizer_id}", &me)
            .replace("{bound}", &zeros)
            .replace("{id}", &zeros)
            .replace("{index}", "1")
            .replace("{task_id}", "abc")
            .replace("{channel_id}", "abc");
        match path.as_str() {
            "/stats/rounds" => url.push_str(&format!("?experiment_id={experiment}&limit=5")),
            "/chain/blocks" => url.push_str("?from=0&to=2"),
            _ => {}
        }
        let request = match method.as_str() {
            "get" => client.get(node.url(&url)),
            _ => client
                .post(node.url(&url))
                .header("content-type", "application/json")
                .body("{}"),
        };
        let response = request.send().expect("probe");
        let code = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert_ne!(code, 405, "{method} {url}: not routed for {method}");
        let documented_codes = doc["paths"][&path][&method]["responses"]
            .as_object()
            .expect("responses");
        assert!(
            documented_codes.contains_key(&code.to_string()),
            "{method} {url}: answered {code}, which is not documented"
        );
        if path == "/dashboard/events" || path == "/stats/export" {
            continue; // a stream and a file: their headers are enough
        }
        let body = response.text().expect("body");
        assert!(
            !(code == 404 && body.is_empty()),
            "{method} {url}: the router's own 404 (no such route)"
        );
        if !content_type.starts_with("application/json") {
            continue;
        }
        let schema = json_schema(&doc, &path, &method, code)
            .unwrap_or_else(|| panic!("{method} {url} {code}: no JSON schema documented"));
        let value: Value = serde_json::from_str(&body).expect("JSON body");
        if let Err(e) = validate(&doc, &schema, &value) {
            panic!("{method} {url} answered {code} off its schema: {e}\n{body}");
        }
        if code == 200 {
            checked_ok += 1;
        }
    }
    // Every GET answering JSON but the four lookups of things that do not exist here
    // (a commitment, a channel, an inference task, a voucher), which answer 404.
    assert_eq!(checked_ok, 19, "JSON answers validated at 200");

    // The probe tells an unrouted path apart.
    let unrouted = client.get(node.url("/no/such/path")).send().expect("probe");
    assert_eq!(unrouted.status().as_u16(), 404);
    assert!(unrouted.text().expect("body").is_empty());

    // A shape the schema does not allow is refused (the validation can fail).
    let schema = json_schema(&doc, "/chain/status", "get", 200).expect("schema");
    assert!(validate(&doc, &schema, &json!({"chain_height": "tall"})).is_err());

    // The OLAP rows are typed column by column (from the stats schema), so a row whose
    // column has the wrong type is refused too.
    let schema = json_schema(&doc, "/stats/rounds", "get", 200).expect("schema");
    assert!(validate(&doc, &schema, &json!({"rounds": [{"round_number": 1}]})).is_ok());
    assert!(validate(
        &doc,
        &schema,
        &json!({"rounds": [{"round_number": "first"}]})
    )
    .is_err());

    // The reference's own answers fit the same schemas.
    for (file, path, code) in SAMPLES {
        let text = std::fs::read_to_string(samples_dir().join(file)).expect("sample");
        let value: Value = serde_json::from_str(&text).expect("sample JSON");
        let schema = json_schema(&doc, path, "get", *code)
            .unwrap_or_else(|| panic!("{path} {code}: no schema"));
        if let Err(e) = validate(&doc, &schema, &value) {
            panic!("the reference's {file} does not fit {path}: {e}");
        }
    }
}
