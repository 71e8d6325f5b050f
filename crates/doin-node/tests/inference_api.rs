//! `/inference` against a live node: a client submits requests over HTTP for the wine
//! quality and quadratic domains, fetches the results, and gets what a direct plugin call
//! gives for the parameters that were the chain's best; bad requests are refused with their
//! reason; a refusing payment check answers 402; and after a restart the recorded results
//! are still served.

use std::sync::Arc;
use std::time::{Duration, Instant};

use doin_consensus::accepted::AcceptedOptimae;
use doin_node::config::{DomainRole, NodeConfig};
use doin_node::inference::{PaymentCheck, PaymentDecision, PaymentRequest};
use doin_node::testnet::{runtime, TestNet};
use doin_plugins::PluginRegistry;
use doin_primitives::{Map, Value};
use serde_json::json;

const WINE: &str = "wine";
const QUAD: &str = "quadratic";
/// Free: a node charges a priced domain through payment channels (`paid_inference.rs`).
const WINE_PRICE: u64 = 0;

fn template() -> NodeConfig {
    let mut c = NodeConfig::embedded_default();
    c.initial_threshold = 0.001;
    c.target_block_time = 1.0;
    c.eval_poll_interval = 1.0;
    let quad = &mut c.domains[0];
    quad.target_performance = None;
    let mut wine = quad.clone();
    wine.domain_id = WINE.into();
    wine.optimization_plugin = doin_plugins::wine::NAME.into();
    wine.inference_plugin = doin_plugins::wine::NAME.into();
    wine.synthetic_data_plugin = doin_plugins::wine::NAME.into();
    wine.optimization_config = json!({"seed": 7, "step_size": 0.05, "round_interval_seconds": 0.3})
        .as_object()
        .cloned()
        .unwrap_or_default();
    wine.param_bounds = doin_plugins::wine::LIMITS
        .iter()
        .map(|(name, b)| ((*name).to_owned(), (b.low, b.high)))
        .collect();
    wine.inference_price = WINE_PRICE;
    // A domain of the chain this node neither optimizes nor evaluates.
    let idle = DomainRole {
        domain_id: "idle".into(),
        optimization_plugin: "simple_quadratic".into(),
        ..DomainRole::default()
    };
    c.domains.push(wine);
    c.domains.push(idle);
    c
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

async fn post(endpoint: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let r = client()
        .post(format!("http://{endpoint}/inference"))
        .json(&body)
        .send()
        .await
        .expect("POST /inference");
    let code = r.status().as_u16();
    (code, r.json().await.expect("JSON answer"))
}

async fn get(endpoint: &str, path: &str) -> (u16, serde_json::Value) {
    let r = client()
        .get(format!("http://{endpoint}{path}"))
        .send()
        .await
        .expect("GET");
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(serde_json::Value::Null))
}

/// Submits and returns the task id (the answer must be 200 queued).
async fn submit(endpoint: &str, body: serde_json::Value) -> String {
    let (code, answer) = post(endpoint, body.clone()).await;
    assert_eq!(code, 200, "{body} -> {answer}");
    assert_eq!(answer["status"], "queued");
    answer["task_id"].as_str().expect("task_id").to_owned()
}

/// Polls the record until it is completed or failed: as JSON, and as DOIN's exact parser
/// reads it (for comparing numbers to the last bit).
async fn finished(endpoint: &str, task_id: &str) -> (serde_json::Value, Value) {
    let start = Instant::now();
    loop {
        let r = client()
            .get(format!("http://{endpoint}/inference/{task_id}"))
            .send()
            .await
            .expect("GET /inference/{task_id}");
        assert_eq!(r.status().as_u16(), 200);
        let text = r.text().await.expect("body");
        let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        if json["status"] == "completed" || json["status"] == "failed" {
            return (json, doin_primitives::json::parse(&text).expect("JSON"));
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "still {json} after 120s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A field of a record as DOIN's parser read it.
fn field<'a>(record: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(record, |v, key| {
        v.as_object()
            .and_then(|m| m.get(*key))
            .unwrap_or_else(|| panic!("no {key} in {v:?}"))
    })
}

fn params_of(record: &Value) -> Map {
    field(record, &["model", "parameters"])
        .as_object()
        .cloned()
        .expect("parameters")
}

fn doin(v: &serde_json::Value) -> Value {
    doin_primitives::json::parse(&v.to_string()).expect("JSON")
}

fn object(v: &serde_json::Value) -> Map {
    doin(v).as_object().cloned().expect("an object")
}

/// The optimae that was the domain's best on chain at `height` (blocks, genesis
/// included), from the node's store: the last one carrying the best performance. Its
/// parameters, id and block.
fn best_at(net: &TestNet, domain: &str, height: i64) -> (Map, String, i64) {
    let reader =
        doin_store::ChainReader::open(&net.data_dir(0).join("chain.db")).expect("chain store");
    let mut best: Option<(f64, (Map, String, i64))> = None;
    for index in 1..height {
        let block = reader.block(index).expect("read").expect("stored block");
        for tx in &block.transactions {
            let Ok(a) = AcceptedOptimae::from_tx(tx) else {
                continue;
            };
            if a.domain_id == domain
                && best
                    .as_ref()
                    .is_none_or(|(b, _)| a.verified_performance >= *b)
            {
                best = Some((
                    a.verified_performance,
                    (a.parameters.clone(), a.optimae_id, index),
                ));
            }
        }
    }
    best.expect("a best optimae").1
}

/// Checks that a record was served with the chain's best at its height, and names it.
fn served_with_the_best(
    net: &TestNet,
    domain: &str,
    record: &serde_json::Value,
    exact: &Value,
) -> Map {
    let height = record["model"]["chain_height"].as_i64().expect("height");
    let (parameters, optimae_id, block) = best_at(net, domain, height);
    let used = params_of(exact);
    assert_eq!(used, parameters, "served with the chain's best");
    assert_eq!(record["model"]["optimae_id"], optimae_id.as_str());
    assert_eq!(record["model"]["optimae_block"], block);
    used
}

fn direct(plugin: &str, parameters: &Map, input: &serde_json::Value) -> Value {
    let registry = PluginRegistry::with_builtins();
    let mut cfg = Map::new();
    if plugin == "simple_quadratic" {
        // As the node's plugin config carries them (the embedded default's).
        cfg = object(
            &json!({"n_params": 10, "step_size": 0.5, "seed": 42, "round_interval_seconds": 1.0, "param_bounds": {"x": [-20.0, 20.0]}}),
        );
    }
    let mut ev = registry.evaluator(plugin, &cfg).expect("plugin");
    ev.infer(parameters, &doin(input))
        .expect("direct inference")
}

#[test]
fn clients_get_the_best_models_answers_refusals_with_reasons_and_results_survive_a_restart() {
    runtime().block_on(async {
        let mut net = TestNet::start(1, &template()).await.expect("node starts");
        net.wait_for(
            Duration::from_secs(180),
            "a model on chain for both domains",
            |v| {
                v[0].domain_best_parameters.contains_key(WINE)
                    && v[0].domain_best_parameters.contains_key(QUAD)
            },
        )
        .await
        .expect("models");
        let ep = net.node(0).endpoint();

        // Wine quality: two wines, one by name, one as an array of the 11 measurements.
        let named = json!({"fixed_acidity": 7.4, "volatile_acidity": 0.7, "citric_acid": 0.0,
            "residual_sugar": 1.9, "chlorides": 0.076, "free_sulfur_dioxide": 11.0,
            "total_sulfur_dioxide": 34.0, "density": 0.9978, "pH": 3.51, "sulphates": 0.56,
            "alcohol": 9.4});
        let array = json!([8.5, 0.28, 0.56, 1.8, 0.092, 35.0, 103.0, 0.9969, 3.3, 0.75, 10.5]);
        let wine_input = json!({"wines": [named, array]});
        let (code, answer) = post(
            &ep,
            json!({"domain_id": WINE, "input_data": wine_input, "client_id": "sommelier"}),
        )
        .await;
        assert_eq!(code, 200, "{answer}");
        assert_eq!(
            answer["price"], WINE_PRICE,
            "the domain's price is reported"
        );
        assert_eq!(answer["amount_paid"], 0, "a free domain collects nothing");
        let wine_task = answer["task_id"].as_str().expect("id").to_owned();
        let (wine, wine_exact) = finished(&ep, &wine_task).await;
        assert_eq!(wine["status"], "completed", "{wine}");
        assert_eq!(wine["client_id"], "sommelier");
        let used = served_with_the_best(&net, WINE, &wine, &wine_exact);
        let predictions = wine["result"]["predictions"]
            .as_array()
            .expect("predictions");
        assert_eq!(predictions.len(), 2);
        assert_eq!(
            field(&wine_exact, &["result"]),
            &direct("wine_quality", &used, &wine_input)
        );
        for q in predictions {
            let q = q.as_f64().expect("a number");
            assert!((3.0..=8.0).contains(&q), "{q}");
        }

        // Quadratic: no input answers the best point itself; a point answers its value.
        let quad_task = submit(&ep, json!({"domain_id": QUAD})).await;
        let (quad, quad_exact) = finished(&ep, &quad_task).await;
        assert_eq!(quad["status"], "completed", "{quad}");
        assert_eq!(quad["client_id"], "anonymous");
        let used = served_with_the_best(&net, QUAD, &quad, &quad_exact);
        assert_eq!(
            field(&quad_exact, &["result"]),
            &direct("simple_quadratic", &used, &json!({}))
        );
        assert_eq!(quad["result"]["x"], quad["result"]["best_x"]);
        let point = json!({"x": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]});
        let at_task = submit(&ep, json!({"domain_id": QUAD, "input_data": point})).await;
        let (_, at) = finished(&ep, &at_task).await;
        let used = params_of(&at);
        assert_eq!(
            field(&at, &["result"]),
            &direct("simple_quadratic", &used, &point)
        );

        // Refusals, each with its reason; none is recorded.
        let refusals = [
            (json!({"input_data": {}}), 400, "domain_id required"),
            (json!({"domain_id": "nope"}), 404, "unknown domain: nope"),
            (
                json!({"domain_id": "idle"}),
                409,
                "does not serve inference for domain idle",
            ),
            (
                json!({"domain_id": WINE, "input_data": {"wine": {"alcohol": 9.4}}}),
                400,
                "missing fixed_acidity",
            ),
            (
                json!({"domain_id": WINE, "input_data": {"wine": [1.0, 2.0]}}),
                400,
                "a wine has 11",
            ),
            (
                json!({"domain_id": WINE, "input_data": {"wines": [array, {"colour": 1}]}}),
                400,
                "wines[1]: unknown measurement `colour`",
            ),
            (
                json!({"domain_id": QUAD, "input_data": {"x": [1.0]}}),
                400,
                "n_params = 10",
            ),
            (
                json!({"domain_id": QUAD, "input_data": [1, 2]}),
                400,
                "input_data must be a JSON object",
            ),
        ];
        for (body, code, reason) in refusals {
            let (got, answer) = post(&ep, body.clone()).await;
            assert_eq!(got, code, "{body} -> {answer}");
            assert_eq!(answer["status"], "error");
            let detail = answer["detail"].as_str().expect("detail");
            assert!(
                detail.contains(reason),
                "{body}: {detail:?} lacks {reason:?}"
            );
        }
        // A non-finite measurement cannot even be parsed as JSON numbers go; either way 400.
        let r = client()
            .post(format!("http://{ep}/inference"))
            .header("content-type", "application/json")
            .body(r#"{"domain_id":"wine","input_data":{"wine":[1e999,0,0,0,0,0,0,0,0,0,0]}}"#)
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status().as_u16(), 400);
        let (code, answer) = get(&ep, "/inference/0123abcd").await;
        assert_eq!(code, 404);
        assert_eq!(answer["detail"], "unknown inference task: 0123abcd");

        // The rate limit counts the source address, not the client id it names: an address
        // over it is told to wait whatever id it sends next; another address is served.
        let mut limited = None;
        for _ in 0..=doin_node::inference::RATE_LIMIT {
            let (code, answer) = post(&ep, json!({"domain_id": QUAD, "client_id": "greedy"})).await;
            if code != 200 {
                limited = Some((code, answer));
                break;
            }
        }
        let (code, answer) = limited.expect("refused once over the limit");
        assert_eq!(code, 429, "{answer}");
        assert!(answer["detail"]
            .as_str()
            .expect("detail")
            .contains("retry in"));
        let (code, answer) = post(&ep, json!({"domain_id": QUAD, "client_id": "renamed"})).await;
        assert_eq!(code, 429, "a fresh client id dodges nothing: {answer}");
        let elsewhere = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
            .build()
            .expect("client");
        let r = elsewhere
            .post(format!("http://{ep}/inference"))
            .json(&json!({"domain_id": QUAD, "client_id": "greedy"}))
            .send()
            .await
            .expect("POST from 127.0.0.2");
        assert_eq!(r.status().as_u16(), 200, "another address is served");

        let (_, status) = get(&ep, "/status").await;
        assert!(
            status["inference"]["completed"].as_u64().expect("count") >= 3,
            "{status}"
        );
        let metrics = client()
            .get(format!("http://{ep}/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        assert!(metrics.contains("doin_inference_requests_total{outcome=\"completed\"}"));
        let (_, doc) = get(&ep, "/openapi.json").await;
        for path in ["/inference", "/inference/{task_id}"] {
            assert!(doc["paths"].get(path).is_some(), "OpenAPI lacks {path}");
        }

        // A restart: the recorded results are still served, unchanged.
        net.stop(0).await;
        net.restart(0).await.expect("restarts");
        let ep = net.node(0).endpoint();
        for (task, before) in [(&wine_task, &wine_exact), (&quad_task, &quad_exact)] {
            let (_, after) = finished(&ep, task).await;
            assert_eq!(&after, before, "recorded result survives the restart");
        }
        net.shutdown().await;
    });
}

/// Refuses requests without a voucher; collects the price from those with one.
struct VoucherRequired;

impl PaymentCheck for VoucherRequired {
    fn check(&self, r: &PaymentRequest<'_>) -> PaymentDecision {
        match r.voucher {
            Some(_) => PaymentDecision::Accept { amount: r.price },
            None => PaymentDecision::Refuse {
                reason: format!(
                    "domain {} costs {} units: send a channel voucher",
                    r.domain_id, r.price
                ),
            },
        }
    }
}

#[test]
fn a_refusing_payment_check_answers_402_and_a_paid_request_is_served() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("dir");
        let mut config = NodeConfig::embedded_default();
        config.host = "127.0.0.1".into();
        config.port = 0;
        config.data_dir = dir.path().to_path_buf();
        config.target_block_time = 1.0;
        config.domains[0].target_performance = None;
        config.domains[0].inference_price = 40;
        let node = doin_node::node::start_with_payment(
            config,
            PluginRegistry::with_builtins(),
            Arc::new(VoucherRequired),
        )
        .await
        .expect("node starts");
        let start = Instant::now();
        while !node.chain.view().domain_best_parameters.contains_key(QUAD) {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "no model on chain"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let ep = node.endpoint();
        let (code, answer) = post(&ep, json!({"domain_id": QUAD})).await;
        assert_eq!(code, 402, "{answer}");
        assert_eq!(
            answer["detail"],
            "payment required: domain quadratic costs 40 units: send a channel voucher"
        );
        let voucher = json!({"channel_id": "c1", "nonce": 3, "amount": 40, "signature": "ab"});
        let (code, answer) = post(&ep, json!({"domain_id": QUAD, "payment": voucher})).await;
        assert_eq!(code, 200, "{answer}");
        assert_eq!(
            (answer["price"].as_u64(), answer["amount_paid"].as_u64()),
            (Some(40), Some(40))
        );
        let task = answer["task_id"].as_str().expect("id").to_owned();
        let (record, _) = finished(&ep, &task).await;
        assert_eq!(record["status"], "completed", "{record}");
        assert_eq!(record["amount_paid"], 40);
        // The voucher is kept in the log for settlement.
        let log = doin_node::inference::InferenceLog::open(
            &dir.path().join(doin_node::inference::FILE_NAME),
        )
        .expect("log");
        let kept = log.get(&task).expect("read").expect("recorded");
        assert_eq!(kept.payment, Some(doin(&voucher)));
        node.shutdown().await;
    });
}

#[test]
fn an_external_python_plugin_serves_inference_through_the_node() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python_path = std::env::join_paths([
        repo.join("python/doin-plugin-sdk/src"),
        repo.join("python/examples"),
    ])
    .expect("paths")
    .to_string_lossy()
    .into_owned();
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("dir");
        let mut config = NodeConfig::embedded_default();
        config.host = "127.0.0.1".into();
        config.port = 0;
        config.data_dir = dir.path().to_path_buf();
        config.target_block_time = 1.0;
        let d = &mut config.domains[0];
        d.target_performance = None;
        // Built-in optimizer and synthetic data; the reference-style Python inferencer,
        // which has no `infer`: the SDK runs evaluate(parameters, data=input_data).
        d.inference_plugin = "python:quadratic_plugin:QuadraticInferencer".into();
        d.optimization_config = json!({"target": [1.0, 2.0, 3.0], "round_interval_seconds": 0.3,
            "plugin_env": {"PYTHONPATH": python_path}})
        .as_object()
        .cloned()
        .unwrap_or_default();
        let node = doin_node::node::start(config).await.expect("node starts");
        let start = Instant::now();
        while !node.chain.view().domain_best_parameters.contains_key(QUAD) {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "no model on chain"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let ep = node.endpoint();
        let task = submit(&ep, json!({"domain_id": QUAD})).await;
        let (record, exact) = finished(&ep, &task).await;
        assert_eq!(record["status"], "completed", "{record}");
        let x: Vec<f64> = params_of(&exact)["x"]
            .as_array()
            .expect("x")
            .iter()
            .map(|v| v.as_f64().expect("number"))
            .collect();
        let loss: f64 = x
            .iter()
            .zip([1.0, 2.0, 3.0])
            .map(|(a, t)| (a - t).powi(2))
            .sum();
        let got = field(&exact, &["result"]).as_f64().expect("a number");
        assert!(
            (got + loss).abs() <= 1e-9 * loss.max(1.0),
            "{got} vs -{loss}"
        );
        // The external plugin's inputs are checked when they run: a bad one fails with
        // the plugin's own reason.
        let bad = submit(
            &ep,
            json!({"domain_id": QUAD, "input_data": {"target": "abc"}}),
        )
        .await;
        let (record, _) = finished(&ep, &bad).await;
        assert_eq!(record["status"], "failed", "{record}");
        assert!(
            record["detail"]
                .as_str()
                .expect("detail")
                .contains("python:quadratic_plugin"),
            "{record}"
        );
        node.shutdown().await;
    });
}
