//! The reference bridge in a network of doin nodes: three doin nodes on libp2p (A, B, C),
//! and one reference node, played over HTTP as the reference speaks
//! (`reference_node/`), that knows A only (A has it among its `bootstrap_peers`; B and C
//! have no HTTP peer at all). A serves the domain without optimizing, so every block is
//! B's or C's.
//!
//! 1. The reference node hears of B's and C's blocks (`block_announcement`s A floods to
//!    it over `POST /message`) and follows the chain by `GET /chain/blocks` from A, each
//!    block appended by the reference's rules.
//! 2. What it sends reaches the libp2p peers: an unsigned `task_created` (a reference
//!    optimizer announcing the optimae it reveals, with its parameters: here the domain's
//!    very optimum) goes from A onto the reference topics, and the optimizers of B and C
//!    take it up as a migrant: their best performance becomes the optimum's, which their
//!    own hill climbing never reaches exactly.
//! 3. Invalid input from it is not relayed and costs it: a message whose seal is not its
//!    sender's is refused at A's door, a message A admits but finds malformed is dropped
//!    there; A charges the reference's address for both, and once the valid message sent
//!    after them has reached B and C (over the same connections, in order), neither B nor
//!    C has refused anything A sent (`/peers` counts what each peer had refused).
//!
//! Every wait has one deadline for the whole test (under a minute on a loaded 2-core
//! machine); nothing sleeps for a fixed time.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] functions

mod reference_node;

use std::time::{Duration, Instant};

use doin_node::testnet::{minting_template, runtime, NodeApi, TestNet};
use doin_primitives::identity::Identity;
use doin_primitives::models::{Message, WireModel};
use reference_node::Reference;
use serde_json::{json, Value};

/// The whole test, network start excluded, within this.
const BUDGET: Duration = Duration::from_secs(50);

/// The reference node's peer id (a bare claim, as a reference node's is).
const REFERENCE_ID: &str = "3f0e4c4a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f";

#[test]
fn a_reference_node_bridged_by_one_doin_node_follows_the_network_and_reaches_it() {
    runtime().block_on(bridge());
}

async fn bridge() {
    let reference = Reference::start(REFERENCE_ID).await;
    let mut template = minting_template(0, 0.2);
    template.accept_unsigned_messages = true;
    let domain = template.domains[0].domain_id.clone();
    let endpoint = format!("127.0.0.1:{}", reference.port);
    let net = TestNet::start_custom(3, &template, |i, c| {
        if i == 0 {
            c.bootstrap_peers.push(endpoint.clone());
            for d in &mut c.domains {
                d.optimize = false;
            }
        }
        doin_plugins::PluginRegistry::with_builtins()
    })
    .await
    .expect("three doin nodes");
    let deadline = Instant::now() + BUDGET;
    let api = net.api().expect("api");
    let a_port = api.ports[0];
    *reference.doin_port.lock().unwrap() = Some(a_port);
    let ids: Vec<String> = (0..3).map(|i| net.node(i).peer_id.clone()).collect();
    for i in 1..3 {
        let rows = peer_rows(&api, i).await;
        assert!(
            rows.iter().all(|p| p["transport"] == "libp2p"),
            "node {i} has an HTTP peer: {rows:?}"
        );
    }

    // 1. B's or C's blocks reach the reference node through A, and it follows them.
    let minted_elsewhere = |s: &reference_node::Seen| {
        s.announcements
            .iter()
            .any(|(index, generator)| ids[1..].contains(generator) && s.height > *index)
    };
    reference
        .wait_within(
            left(deadline),
            "a block of B or C announced by A and appended",
            minted_elsewhere,
        )
        .await;
    {
        let follower = reference.follower.lock().await;
        let at = follower.height() - 1;
        let (_, block) = api
            .call(0, &format!("/chain/block/{at}"), None)
            .await
            .unwrap();
        assert_eq!(block["hash"].as_str(), Some(follower.tip_hash()));
        let seen = reference.seen.borrow();
        assert!(seen.refused.is_none(), "{:?}", seen.refused);
        assert_eq!(seen.blocks_asked, 0, "a doin node asked it for blocks");
    }

    // B's and C's optimizers take migrants once they run (a migrant for a domain whose
    // optimizer has not started yet is not kept): wait for their first rounds.
    let api = &api;
    let domain = domain.as_str();
    for i in 1..3 {
        wait_until(deadline, "B and C optimizing", || async move {
            let (_, status) = api.call(i, "/status", None).await.ok()?;
            let round = status["domains"][domain]["round"].as_u64()?;
            (round >= 1).then_some(round)
        })
        .await;
    }

    // 3. Invalid input: refused or dropped at A, charged to the reference's address.
    let optimum = domain_optimum(&template.domains[0].optimization_config);
    let before = address_score(api, 0).await;
    let forged = {
        let text = task_created(domain, &optimum).to_string();
        let mut m = Message::from_value(&doin_primitives::json::parse(&text).unwrap()).unwrap();
        // Sealed by a key that is not the sender's.
        m.sign(&Identity::generate());
        serde_json::from_str::<Value>(&m.to_wire_json()).unwrap()
    };
    let (status, answer) = reference.post(a_port, &forged).await;
    assert_eq!(status, 400, "a forged seal is refused: {answer}");
    let malformed = json!({
        "msg_type": "chain_status",
        "sender_id": REFERENCE_ID,
        "timestamp": doin_primitives::Timestamp::now_utc().wire(),
        "ttl": 7,
        "payload": {"chain_height": 1, "tip_hash": reference_node::GENESIS, "tip_index": 0,
            "finalized_height": -1, "transfer": {"amount": "all of it"},
            "_sender_port": reference.port},
    });
    let (status, answer) = reference.post(a_port, &malformed).await;
    assert_eq!(status, 200, "admitted, then found malformed: {answer}");
    // InvalidSignature (20) and Malformed (5), less what decay gives back meanwhile.
    let charged = wait_until(
        deadline,
        "A charging the reference's address",
        || async move {
            let now = address_score(api, 0).await;
            (now <= before - 24.0).then_some(now)
        },
    )
    .await;

    // 2. A valid unsigned message reaches B and C over libp2p: their optimizers start
    //    from the optimum it reveals.
    let (status, answer) = reference
        .post(a_port, &task_created(domain, &optimum))
        .await;
    assert_eq!(status, 200, "{answer}");
    for i in 1..3 {
        let best = wait_until(deadline, "B and C adopting the optimum", || async move {
            let (_, status) = api.call(i, "/status", None).await.ok()?;
            let best = status["domains"][domain]["best_performance"].as_f64()?;
            (best == 0.0).then_some(best)
        })
        .await;
        assert_eq!(best, 0.0);
        // What A refused or dropped before it never reached B or C: the valid message
        // came after it over the same connection, and they refused nothing of A.
        let rows = peer_rows(api, i).await;
        let a_row = rows.iter().find(|p| p["peer_id"] == ids[0].as_str());
        let a_row = a_row.unwrap_or_else(|| panic!("node {i} is not connected to A: {rows:?}"));
        assert_eq!(a_row["refused"].as_u64(), Some(0), "node {i}: {a_row}");
    }
    // The bridge paid nothing for relaying, and the reference's address is still charged.
    assert!(address_score(api, 0).await < before - 20.0, "{charged}");
    net.shutdown().await;
}

/// Time left until `deadline`.
fn left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// Polls `probe` every 100 ms until it gives a value, or panics at `deadline`.
async fn wait_until<T, F, Fut>(deadline: Instant, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Node `i`'s `/peers` rows.
async fn peer_rows(api: &NodeApi, i: usize) -> Vec<Value> {
    let (_, peers) = api.call(i, "/peers", None).await.unwrap();
    peers["peers"].as_array().cloned().unwrap_or_default()
}

/// The score node `i` gives the loopback address the reference node posts from (0 while
/// it has not charged it).
async fn address_score(api: &NodeApi, i: usize) -> f64 {
    let (_, peers) = api.call(i, "/peers", None).await.unwrap();
    peers["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["address"] == "127.0.0.1")
        .and_then(|a| a["score"].as_f64())
        .unwrap_or(0.0)
}

/// The domain's optimum: its target vector (what the quadratic domain measures against).
fn domain_optimum(config: &serde_json::Map<String, Value>) -> Vec<f64> {
    let text = serde_json::to_string(config).unwrap();
    let Ok(doin_primitives::value::Value::Object(map)) = doin_primitives::json::parse(&text) else {
        panic!("the domain's optimization_config is an object");
    };
    doin_plugins::quadratic::QuadraticProblem::from_config(&map)
        .expect("the quadratic domain")
        .target
}

/// A reference optimizer's `task_created` (as in the reference's wire samples), unsigned,
/// revealing `x` with the performance it claims for it, and the transport keys the
/// reference adds.
fn task_created(domain: &str, x: &[f64]) -> Value {
    json!({
        "msg_type": "task_created",
        "sender_id": REFERENCE_ID,
        "timestamp": doin_primitives::Timestamp::now_utc().wire(),
        "ttl": 7,
        "payload": {
            "task_id": "3f9c67e2cc466aad2d3b779234fe965ef853cc3fcdc093eea46fd375568370fb",
            "task_type": "optimae_verification",
            "domain_id": domain,
            "requester_id": REFERENCE_ID,
            "parameters": {"x": x},
            "optimae_id": "opt-3f0e4c4a-1795474047",
            "reported_performance": 0.0,
            "metric_evidence": {},
            "priority": 0,
            "_sender_port": 8470,
            "_component_versions": {"agent-multi": "?", "doin-core": "a90bca2",
                "doin-node": "5bd6d39", "doin-plugins": "451802a", "gym-fx": "?",
                "trading-contracts": "?"},
            "_plugin_configs": {},
        },
    })
}
