//! Inference paid through a payment channel on a 3-node in-process network, driven over
//! HTTP as a client and an operator would: a client key funded on chain opens a channel to
//! the serving node, pays each request with a newer voucher and gets its results; bad
//! payments are refused with their reason (402) and nothing is booked for them; the
//! serving node keeps its newest voucher across a restart, closes with it and is paid
//! exactly the vouchers' total once the dispute period has passed. In a second channel the
//! client closes on a stale voucher; the node's watcher disputes with the newest on its own
//! and wins. Every node replays the same balances, and Σ balances + locked == minted −
//! burned to the base unit.

use std::time::{Duration, Instant};

use doin_node::config::NodeConfig;
use doin_node::testnet::{agree, minting_template, runtime, NodeApi, TestNet};
use doin_primitives::identity::Identity;
use doin_primitives::models::{ChannelAction, ChannelOp, ChannelUpdate, Transfer, WireModel};
use doin_primitives::Timestamp;
use serde_json::{json, Value};

const QUAD: &str = "quadratic";
/// The domain's price per request, base units.
const PRICE: i64 = 1_000_000;
const DEPOSIT: i64 = 20_000_000;
/// What the client key is funded with.
const FUND: i64 = 100_000_000;
/// Seconds of chain time the operator's close waits.
const PERIOD: i64 = 5;
/// The serving node.
const SERVER: usize = 1;

/// A chain that keeps minting (blocks carry the channel operations and advance chain time),
/// with a priced quadratic domain.
fn template() -> NodeConfig {
    let mut c = minting_template(1, 0.5);
    c.network_protocol = "gossipsub".into();
    c.fee_config.rate_limit_max_tx = 0;
    for d in &mut c.domains {
        d.inference_price = PRICE as u64;
    }
    c
}

struct Api {
    http: NodeApi,
}

impl Api {
    async fn call(&self, node: usize, path: &str, body: Option<String>) -> (u16, Value) {
        self.http.call(node, path, body).await.expect("HTTP")
    }

    async fn op(&self, node: usize, op: &ChannelOp) -> String {
        let (code, body) = self.call(node, "/channels", Some(op.to_wire_json())).await;
        assert_eq!(code, 200, "{} refused: {body}", op.action.name());
        body["channel_id"].as_str().expect("channel id").to_owned()
    }

    /// An inference request to `node`, paid with `voucher` when given.
    async fn infer(&self, node: usize, voucher: Option<&ChannelUpdate>) -> (u16, Value) {
        let mut body = json!({"domain_id": QUAD, "client_id": "paying-client"});
        if let Some(u) = voucher {
            body["payment"] = serde_json::from_str(&u.to_wire_json()).expect("JSON");
        }
        self.call(node, "/inference", Some(body.to_string())).await
    }

    /// A paid request that is served: its amount, and its completed result.
    async fn paid(&self, node: usize, voucher: &ChannelUpdate) -> Value {
        let (code, answer) = self.infer(node, Some(voucher)).await;
        assert_eq!(code, 200, "nonce {}: {answer}", voucher.nonce);
        assert_eq!(answer["amount_paid"], PRICE, "{answer}");
        let task = answer["task_id"].as_str().expect("task id").to_owned();
        let start = Instant::now();
        loop {
            let (_, record) = self.call(node, &format!("/inference/{task}"), None).await;
            if record["status"] == "completed" {
                assert_eq!(record["amount_paid"], PRICE);
                return record;
            }
            assert_ne!(record["status"], "failed", "{record}");
            assert!(start.elapsed() < Duration::from_secs(60), "{record}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A request refused with 402 and a reason containing `want`.
    async fn refused(&self, node: usize, voucher: Option<&ChannelUpdate>, want: &str) {
        let (code, answer) = self.infer(node, voucher).await;
        assert_eq!(code, 402, "{answer}");
        let detail = answer["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(want), "expected {want:?}, got {detail:?}");
    }

    /// The newest voucher node `node` holds for `channel`.
    async fn held(&self, node: usize, channel: &str) -> Value {
        let (code, v) = self
            .call(node, &format!("/inference/channels/{channel}"), None)
            .await;
        assert_eq!(code, 200, "{v}");
        v
    }

    /// Waits until every node reports `channel` and `pred` holds for each report.
    async fn wait_channel(&self, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let path = format!("/channels/{id}");
        let what = format!("channel {id} {what}");
        let limit = Duration::from_secs(120);
        self.http
            .wait_all(&path, &what, limit, pred)
            .await
            .expect("channel state")
    }
}

fn state_is(state: &'static str) -> impl Fn(&Value) -> bool {
    move |c: &Value| c["state"] == state
}

#[test]
fn a_client_pays_for_inference_through_a_channel_and_a_stale_close_loses_the_dispute() {
    runtime().block_on(async {
        let config = template();
        let mut net = TestNet::start(3, &config).await.expect("network");
        let keys = net.identities();
        let ids: Vec<String> = keys.iter().map(|k| k.peer_id().to_string()).collect();
        let client = Identity::from_scalar_bytes(&[77; 32]).expect("client key");
        let forger = Identity::from_scalar_bytes(&[78; 32]).expect("forger key");
        let mut api = Api {
            http: net.api().expect("HTTP client"),
        };
        let ready = |v: &[std::sync::Arc<doin_node::view::ChainView>]| {
            v.len() == 3
                && v.iter().all(|view| {
                    view.tip_index >= 5
                        && view.domain_best_parameters.contains_key(QUAD)
                        && view
                            .top_holders
                            .iter()
                            .any(|(who, units)| who == &ids[0] && *units > 2 * FUND as u64)
                })
        };
        net.wait_for(Duration::from_secs(120), "a model and a funded node", ready)
            .await
            .expect("ready");

        // The client's key is funded on chain by node 0's key.
        let (_, fees) = api.call(0, "/fees", None).await;
        let base = fees["base_fee_units"].as_i64().expect("base fee");
        let fee = base * 2;
        let (_, account) = api.call(0, &format!("/balance/{}", ids[0]), None).await;
        let nonce = account["next_nonce"].as_i64().expect("nonce");
        let t = Transfer::signed(
            &keys[0],
            client.peer_id(),
            FUND,
            fee,
            nonce,
            Timestamp::now_utc(),
        );
        let (code, body) = api.call(0, "/transfers", Some(t.to_wire_json())).await;
        assert_eq!(code, 200, "{body}");
        let start = Instant::now();
        for node in 0..3 {
            loop {
                let (_, b) = api
                    .call(node, &format!("/balance/{}", client.peer_id()), None)
                    .await;
                if b["balance_units"] == FUND {
                    break;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "node {node}: {b}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }

        // Channel A: the client opens it to the serving node.
        let open = |period| ChannelAction::Open {
            receiver: ids[SERVER].clone(),
            deposit: DEPOSIT,
            dispute_period: period,
        };
        let a = api
            .op(0, &ChannelOp::signed(&client, open(PERIOD), fee, 1))
            .await;
        api.wait_channel(&a, "opened", state_is("open")).await;
        let voucher = |ch: &str, n: i64, paid: i64| {
            ChannelUpdate::signed(&client, ch, n, DEPOSIT - paid, paid)
        };

        // Refusals before any payment.
        api.refused(SERVER, None, "costs 1000000 base units").await;
        let forged = ChannelUpdate::signed(&forger, &a, 1, DEPOSIT - PRICE, PRICE);
        api.refused(SERVER, Some(&forged), "not signed by the channel's sender")
            .await;
        let (code, answer) = api
            .call(
                SERVER,
                "/inference",
                Some(json!({"domain_id": QUAD, "payment": {"nonce": 1}}).to_string()),
            )
            .await;
        assert_eq!(code, 402, "{answer}");
        assert!(answer["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("not a channel update"));

        // Four paid requests, each with a voucher paying the price more.
        for n in 1..=4 {
            let record = api.paid(SERVER, &voucher(&a, n, n * PRICE)).await;
            assert!(record["result"].is_object(), "{record}");
        }
        api.refused(SERVER, Some(&voucher(&a, 4, 4 * PRICE)), "not newer")
            .await;
        api.refused(
            SERVER,
            Some(&voucher(&a, 5, 5 * PRICE - 1)),
            "pays 999999 base units more",
        )
        .await;
        api.refused(
            SERVER,
            Some(&voucher(&a, 5, 3 * PRICE)),
            "less than the previous",
        )
        .await;
        let elsewhere = 2;
        api.refused(
            elsewhere,
            Some(&voucher(&a, 5, 5 * PRICE)),
            &format!("paying {}, not this node", ids[SERVER]),
        )
        .await;
        let held = api.held(SERVER, &a).await;
        assert_eq!(
            (&held["nonce"], &held["paid_units"], &held["requests"]),
            (&json!(4), &json!(4 * PRICE), &json!(4)),
            "nothing refused was booked: {held}"
        );
        let (code, _) = api
            .call(elsewhere, &format!("/inference/channels/{a}"), None)
            .await;
        assert_eq!(code, 404, "the other node holds no voucher");

        // A restart of the serving node keeps its newest voucher (a replay is still refused).
        net.stop(SERVER).await;
        net.restart(SERVER).await.expect("restart");
        api.http.ports[SERVER] = net.node(SERVER).port;
        assert_eq!(api.held(SERVER, &a).await, held);
        api.refused(SERVER, Some(&voucher(&a, 4, 4 * PRICE)), "not newer")
            .await;
        let (_, list) = api.call(SERVER, "/inference/channels", None).await;
        assert_eq!(list["channels"].as_array().map(Vec::len), Some(1), "{list}");

        // The operator closes with it; the watcher settles after the dispute period.
        let (code, closed) = api
            .call(
                SERVER,
                &format!("/inference/channels/{a}/close"),
                Some(String::new()),
            )
            .await;
        assert_eq!(code, 200, "{closed}");
        assert_eq!(closed["paid_units"], 4 * PRICE);
        let c = api.wait_channel(&a, "settled", state_is("closed")).await;
        assert_eq!(c["receiver_balance_units"], 4 * PRICE);
        assert_eq!(c["sender_balance_units"], DEPOSIT - 4 * PRICE);
        let (code, again) = api
            .call(
                SERVER,
                &format!("/inference/channels/{a}/close"),
                Some(String::new()),
            )
            .await;
        assert_eq!(code, 409, "{again}");
        let start = Instant::now();
        while api.held(SERVER, &a).await["settled"] != true {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "never marked settled"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        api.refused(SERVER, Some(&voucher(&a, 5, 5 * PRICE)), "is closed")
            .await;

        // Channel B: three paid requests, then the client closes on its first voucher.
        let b = api
            .op(0, &ChannelOp::signed(&client, open(120), fee, 2))
            .await;
        api.wait_channel(&b, "opened", state_is("open")).await;
        for n in 1..=3 {
            api.paid(SERVER, &voucher(&b, n, n * PRICE)).await;
        }
        let cheat = ChannelAction::Close {
            channel_id: b.clone(),
            update: Some(voucher(&b, 1, PRICE)),
        };
        api.op(0, &ChannelOp::signed(&client, cheat, fee, 3)).await;
        // No operator action: the serving node's watcher disputes with nonce 3.
        let c = api.wait_channel(&b, "disputed", state_is("closed")).await;
        assert_eq!(c["nonce"], 3, "{c}");
        assert_eq!(c["receiver_balance_units"], 3 * PRICE);
        assert_eq!(c["sender_balance_units"], DEPOSIT - 3 * PRICE);
        let (_, totals) = api.call(0, "/channels", None).await;
        assert_eq!(totals["disputes"], 1, "{totals}");

        // Every node replays the same balances; the client got back exactly deposit −
        // paid from each channel, and the coins add up.
        net.wait_for(Duration::from_secs(60), "agreement", agree)
            .await
            .expect("agree");
        let height = net.views().iter().map(|v| v.tip_index).min().expect("tip");
        let states = net.replayed(&config, height).expect("replays");
        for s in &states[1..] {
            assert_eq!(s.balances(), states[0].balances());
            assert_eq!(s.channels(), states[0].channels());
        }
        for s in &states {
            assert_eq!(
                s.balance(client.peer_id()),
                (FUND - 3 * fee - 7 * PRICE) as u64,
                "the client paid 3 fees and 7 requests"
            );
            let sum: u64 = s.balances().values().sum();
            assert_eq!(sum + s.total_locked(), s.total_minted() - s.total_burned());
            assert_eq!(s.total_locked(), 0);
            assert_eq!(s.channel_stats().total_settled, (7 * PRICE) as u64);
        }
        for node in 0..3 {
            let (_, b) = api
                .call(node, &format!("/balance/{}", client.peer_id()), None)
                .await;
            assert_eq!(
                b["balance_units"],
                FUND - 3 * fee - 7 * PRICE,
                "node {node}"
            );
        }
        net.shutdown().await;
    });
}
