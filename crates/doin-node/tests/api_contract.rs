//! The HTTP API against a real node process: the reference's paths and shapes, JSON errors
//! for bad parameters, 404 for unknown blocks, and an OpenAPI document that lists every
//! route the node serves.

mod common;

use std::time::Duration;

use common::{free_port, NodeProcess};

fn status_of(
    node: &NodeProcess,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let req = match method {
        "POST" => client
            .post(node.url(path))
            .header("content-type", "application/json")
            .body(body.unwrap_or("").to_owned()),
        _ => client.get(node.url(path)),
    };
    let resp = req.send().expect("request");
    let code = resp.status().as_u16();
    let text = resp.text().expect("body");
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{path}: non-JSON body {text:?}: {e}"));
    (code, json)
}

#[test]
fn paths_shapes_and_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut node = NodeProcess::start(dir.path(), free_port(), &[]);
    node.wait_ready();

    let (code, health) = status_of(&node, "GET", "/health", None);
    assert_eq!(code, 200);
    assert_eq!(health["status"], "healthy");
    assert_eq!(health["port"], node.port);

    let (code, cs) = status_of(&node, "GET", "/chain/status", None);
    assert_eq!(code, 200);
    for key in [
        "chain_height",
        "tip_hash",
        "tip_index",
        "finalized_height",
        "component_versions",
    ] {
        assert!(cs.get(key).is_some(), "/chain/status lacks {key}: {cs}");
    }
    assert_eq!(
        cs["tip_index"].as_i64().expect("tip") + 1,
        cs["chain_height"].as_i64().expect("h")
    );

    let (code, status) = status_of(&node, "GET", "/status", None);
    assert_eq!(code, 200);
    for key in [
        "status",
        "peer_id",
        "port",
        "chain_height",
        "storage_backend",
        "network_protocol",
        "domains",
        "peers",
        "task_queue",
        "security",
        "optimizer_domains",
        "evaluator_domains",
        "coin",
        "difficulty",
    ] {
        assert!(status.get(key).is_some(), "/status lacks {key}");
    }
    assert_eq!(status["peer_id"].as_str().map(str::len), Some(12));

    let (code, genesis) = status_of(&node, "GET", "/chain/block/0", None);
    assert_eq!(code, 200);
    assert_eq!(genesis["hash"], doin_primitives::models::GENESIS_HASH);

    let (code, missing) = status_of(&node, "GET", "/chain/block/999999", None);
    assert_eq!(code, 404);
    assert_eq!(
        missing,
        serde_json::json!({"status": "error", "detail": "block 999999 not found"})
    );

    for bad in [
        "/chain/block/abc",
        "/chain/blocks?from=x",
        "/chain/blocks?from=-1",
        "/chain/blocks?to=1.5",
        "/tasks/pending?limit=-3",
    ] {
        let (code, body) = status_of(&node, "GET", bad, None);
        assert_eq!(code, 400, "{bad}: {body}");
        assert_eq!(body["status"], "error", "{bad}");
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{bad}"
        );
    }

    let (code, empty) = status_of(&node, "GET", "/chain/blocks?from=5&to=2", None);
    assert_eq!(code, 200);
    assert_eq!(empty["blocks"], serde_json::json!([]));

    let (code, page) = status_of(&node, "GET", "/chain/blocks?from=0&to=1000", None);
    assert_eq!(code, 200);
    assert!(page["blocks"].as_array().expect("blocks").len() <= 50);

    let (code, fees) = status_of(&node, "GET", "/fees", None);
    assert_eq!(code, 200);
    assert_eq!(fees["enabled"], true);
    assert_eq!(fees["base_fee_units"], 100_000);
    for key in [
        "base_fee",
        "mempool_size",
        "mempool_limit",
        "total_burned",
        "staked_optimae",
        "total_staked",
    ] {
        assert!(fees.get(key).is_some(), "/fees lacks {key}: {fees}");
    }
    for key in ["base_fee", "tip", "total", "optimae_stake"] {
        assert!(fees["suggested_fees"].get(key).is_some(), "{key}: {fees}");
    }
    let (code, r) = status_of(&node, "GET", "/balance/nobody", None);
    assert_eq!((code, r["status"].as_str()), (400, Some("error")));
    let (code, r) = status_of(&node, "GET", &format!("/balance/{}", "a".repeat(40)), None);
    assert_eq!(code, 200);
    assert_eq!(
        (r["balance_units"].as_u64(), r["next_nonce"].as_u64()),
        (Some(0), Some(1))
    );
    let (code, r) = status_of(&node, "POST", "/transfers", Some(r#"{"amount": 5}"#));
    assert_eq!((code, r["status"].as_str()), (400, Some("error")));

    let (code, peers) = status_of(&node, "GET", "/peers", None);
    assert_eq!(code, 200);
    assert!(peers["self"]["peer_id"].is_string() && peers["peers"].is_array());

    let (code, pending) = status_of(
        &node,
        "GET",
        "/tasks/pending?domains=quadratic&limit=5",
        None,
    );
    assert_eq!(code, 200);
    assert!(pending["tasks"].is_array() && pending["total_pending"].is_number());

    for (body, want) in [
        ("{}", "task_id and evaluator_id required"),
        ("[1,2]", "request body must be a JSON object"),
    ] {
        let (code, r) = status_of(&node, "POST", "/tasks/claim", Some(body));
        assert_eq!(code, 400, "{body}");
        assert_eq!(r["detail"], want);
    }
    let (code, r) = status_of(&node, "POST", "/tasks/claim", Some("not json"));
    assert_eq!((code, r["status"].as_str()), (400, Some("error")));
    let (code, _) = status_of(
        &node,
        "POST",
        "/tasks/claim",
        Some(r#"{"task_id":"nope","evaluator_id":"e"}"#),
    );
    assert_eq!(code, 409);
    let (code, r) = status_of(
        &node,
        "POST",
        "/tasks/complete",
        Some(r#"{"task_id":"nope","verified_performance":"NaN"}"#),
    );
    assert_eq!((code, r["status"].as_str()), (400, Some("error")));
    let (code, _) = status_of(
        &node,
        "POST",
        "/tasks/complete",
        Some(r#"{"task_id":"nope","evaluator_id":"e","verified_performance":-1.0}"#),
    );
    assert_eq!(code, 409);

    // The OpenAPI document lists every route exercised above.
    let (code, doc) = status_of(&node, "GET", "/openapi.json", None);
    assert_eq!(code, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/health",
        "/status",
        "/peers",
        "/fees",
        "/transfers",
        "/balance/{address}",
        "/channels",
        "/channels/check",
        "/channels/{id}",
        "/chain/status",
        "/chain/blocks",
        "/chain/block/{index}",
        "/tasks/pending",
        "/tasks/claim",
        "/tasks/complete",
        "/inference",
        "/inference/{task_id}",
        "/inference/channels",
        "/inference/channels/{channel_id}",
        "/inference/channels/{channel_id}/close",
        "/openapi.json",
    ] {
        assert!(doc["paths"].get(path).is_some(), "OpenAPI lacks {path}");
    }

    // The reference's /inference errors, from the binary.
    let (code, r) = status_of(&node, "POST", "/inference", Some("{}"));
    assert_eq!(
        (code, r["detail"].as_str()),
        (400, Some("domain_id required"))
    );
    let (code, r) = status_of(&node, "POST", "/inference", Some(r#"{"domain_id":"x"}"#));
    assert_eq!(
        (code, r["detail"].as_str()),
        (404, Some("unknown domain: x"))
    );
    let (code, _) = status_of(&node, "GET", "/inference/abc", None);
    assert_eq!(code, 404);

    // The channels paying this node for inference: none yet.
    let (code, r) = status_of(&node, "GET", "/inference/channels", None);
    assert_eq!((code, &r["channels"]), (200, &serde_json::json!([])));
    let (code, r) = status_of(&node, "POST", "/inference/channels/abc/close", Some(""));
    assert_eq!(
        (code, r["detail"].as_str()),
        (404, Some("this node holds no voucher for channel abc"))
    );
}
