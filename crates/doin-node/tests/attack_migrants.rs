//! Island migration from peers' reveals under attack: a peer floods a real node with sealed
//! `task_created` announcements claiming a perfect score for parameters the domain cannot
//! read, of the wrong length, or far from the optimum. The node's optimizer re-measures
//! every migrant, so it keeps improving and minting on its own work; and when a peer
//! reveals the true optimum, the node starts from it but never proposes it as its own.

mod hostile_peer;

use std::time::Duration;

use doin_primitives::identity::Identity;
use doin_primitives::models::payload::{Payload, TaskCreated};
use doin_primitives::models::{Message, WireModel};
use doin_primitives::value::{Map, Value};
use doin_primitives::Timestamp;
use hostile_peer::{runtime, solo_template, DOMAIN};

/// A sealed announcement of a verification task revealing `parameters`, claiming a score
/// of 0 (the quadratic's perfect score).
fn announcement(id: &Identity, n: u64, parameters: Map) -> Message {
    let mut m = Message::new(
        id.peer_id(),
        Timestamp::now_utc(),
        &Payload::from(TaskCreated {
            task_id: format!("{n:064x}"),
            task_type: "optimae_verification".into(),
            domain_id: DOMAIN.into(),
            requester_id: id.peer_id().into(),
            parameters,
            optimae_id: Some(format!("{n:064x}")),
            reported_performance: Some(0.0),
            metric_evidence: Map::new(),
            priority: 0,
            extra: Map::new(),
        }),
    );
    m.sign(id);
    m
}

async fn post(client: &reqwest::Client, endpoint: &str, m: &Message) -> bool {
    client
        .post(format!("http://{endpoint}/message"))
        .header("content-type", "application/json")
        .body(m.to_wire_json())
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// The node's `/status` entry for the domain.
async fn status(client: &reqwest::Client, endpoint: &str) -> serde_json::Value {
    let s: serde_json::Value = client
        .get(format!("http://{endpoint}/status"))
        .send()
        .await
        .expect("GET /status")
        .json()
        .await
        .expect("JSON");
    s["domains"][DOMAIN].clone()
}

/// Whether a block of the node's chain carries an optimae with parameters `point`.
async fn on_chain(endpoint: &str, tip: i64, point: &Map) -> Option<i64> {
    for block in hostile_peer::fetch_blocks(endpoint, tip).await {
        for tx in &block.transactions {
            let parameters = tx.payload.get("parameters").and_then(Value::as_object);
            if parameters.is_some_and(|p| doin_node::migration::same_point(p, point)) {
                return Some(block.header.index);
            }
        }
    }
    None
}

fn x(values: Vec<Value>) -> Map {
    let mut m = Map::new();
    m.insert("x".into(), Value::Array(values));
    m
}

#[test]
fn false_migrants_cost_nothing_and_are_never_proposed() {
    runtime().block_on(async {
        let net = doin_node::testnet::TestNet::start(1, &solo_template(3))
            .await
            .expect("node");
        let node = net.node(0);
        let endpoint = node.endpoint();
        hostile_peer::wait_for_height(node, 3, Duration::from_secs(30), "a first block").await;
        let start = node.chain.view();
        let n_params = start
            .domain_best_parameters
            .get(DOMAIN)
            .and_then(|p| p.get("x"))
            .and_then(Value::as_array)
            .map(Vec::len)
            .expect("the chain's best has x");
        // Far from any target in [-10, 10): a bound corner.
        let far = x(vec![Value::Float(20.0); n_params]);
        let lies = [
            x(vec![Value::from("twenty"); n_params]),
            x(vec![Value::Float(0.0); 3]),
            far.clone(),
        ];
        let attacker = std::sync::Arc::new(Identity::generate());
        let client = reqwest::Client::new();
        let flood = {
            let (endpoint, attacker, client) = (endpoint.clone(), attacker.clone(), client.clone());
            tokio::spawn(async move {
                let mut taken = 0u32;
                for n in 0..300u64 {
                    let lie = lies[n as usize % lies.len()].clone();
                    taken +=
                        u32::from(post(&client, &endpoint, &announcement(&attacker, n, lie)).await);
                    tokio::time::sleep(Duration::from_millis(30)).await;
                }
                taken
            })
        };
        // Blocks need improvements the node's own evaluator verifies: a node that took a
        // claim for a score would stop finding any.
        hostile_peer::wait_for_height(
            node,
            start.height + 5,
            Duration::from_secs(60),
            "the node to mint on under the flood",
        )
        .await;
        let taken = flood.await.expect("flood");
        assert!(
            taken > 250,
            "the node refused the announcements ({taken} taken)"
        );
        let view = node.chain.view();
        let best = view.domain_best[DOMAIN];
        assert!(
            best > start.domain_best[DOMAIN],
            "the chain's best did not improve"
        );
        assert_eq!(on_chain(&endpoint, view.tip_index, &far).await, None);

        // A peer reveals the optimum itself: the node re-measures it and starts from it
        // (its best becomes the perfect 0), but the optimum is that peer's work, under its
        // own quorum: this node never proposes it, so no block of its chain carries it.
        let config = doin_node::config::NodeConfig::embedded_default();
        let role = config
            .domains
            .iter()
            .find(|d| d.domain_id == DOMAIN)
            .expect("domain");
        let mut section = role.optimization_config.clone();
        section.insert("n_params".into(), serde_json::json!(n_params));
        let problem = doin_plugins::quadratic::QuadraticProblem::from_config(
            &doin_node::plugins::plugin_config(role, &section).expect("plugin config"),
        )
        .expect("problem");
        let optimum = doin_plugins::quadratic::QuadraticProblem::parameters(&problem.target);
        assert!(
            post(
                &client,
                &endpoint,
                &announcement(&attacker, 1_000, optimum.clone())
            )
            .await
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let adopted_in = loop {
            let s = status(&client, &endpoint).await;
            if s["best_performance"].as_f64() == Some(0.0) {
                break s["round"].as_u64().expect("round");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the optimum was not adopted: {s}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // Rounds after adopting it, the node has had every chance to propose it.
        loop {
            let s = status(&client, &endpoint).await;
            if s["round"].as_u64() >= Some(adopted_in + 3) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "rounds stopped: {s}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let view = node.chain.view();
        assert!(
            view.domain_best[DOMAIN] < 0.0,
            "the optimum reached the chain"
        );
        assert_eq!(on_chain(&endpoint, view.tip_index, &optimum).await, None);
        net.shutdown().await;
    });
}
