//! Payment channels on a 3-node in-process network, driven over each node's HTTP API as a
//! wallet would: a channel is opened on chain, its sender signs several updates off
//! chain, the receiver checks them, closes with the latest and is paid once the dispute
//! period has passed in chain time; in a second channel the sender closes on a stale
//! update and the receiver's dispute with the newest wins. Every refusal comes back with
//! its reason; every node holds the same channels and balances, Σ balances + locked ==
//! minted − burned to the base unit, and a restarted node rebuilds the same channels.

use std::time::{Duration, Instant};

use doin_consensus::channel::ChannelStatus;
use doin_node::config::NodeConfig;
use doin_node::testnet::{agree, minting_template, runtime, NodeApi, TestNet};
use doin_primitives::models::{ChannelAction, ChannelOp, ChannelUpdate, WireModel};
use doin_primitives::Timestamp;
use serde_json::Value;

const DEPOSIT: i64 = 50_000_000;
/// Seconds of chain time a unilateral close waits.
const PERIOD: i64 = 5;

/// A chain that keeps minting: blocks carry the channel operations and advance chain time.
fn template() -> NodeConfig {
    let mut c = minting_template(1, 0.5);
    c.network_protocol = "gossipsub".into();
    c.fee_config.rate_limit_max_tx = 0;
    c
}

struct Api {
    http: NodeApi,
}

impl Api {
    async fn call(&self, node: usize, path: &str, body: Option<String>) -> (u16, Value) {
        self.http.call(node, path, body).await.expect("HTTP")
    }

    async fn submit(&self, node: usize, op: &ChannelOp) -> (u16, Value) {
        self.call(node, "/channels", Some(op.to_wire_json())).await
    }

    async fn accepted(&self, node: usize, op: &ChannelOp) -> String {
        let (code, body) = self.submit(node, op).await;
        assert_eq!(code, 200, "{} refused: {body}", op.action.name());
        body["channel_id"].as_str().expect("channel id").to_owned()
    }

    async fn refused(&self, node: usize, op: &ChannelOp, want: &str) {
        let (code, body) = self.submit(node, op).await;
        assert_eq!(code, 400, "{body}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(want), "expected {want:?}, got {detail:?}");
    }

    /// Waits until every node reports channel `id` and `pred` holds for each report.
    async fn wait_channel(&self, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let path = format!("/channels/{id}");
        let what = format!("channel {id} {what}");
        let limit = Duration::from_secs(60);
        self.http
            .wait_all(&path, &what, limit, pred)
            .await
            .expect("channel state")
    }

    /// Waits until node `node`'s tip is dated at or after `micros`.
    async fn wait_chain_time(&self, node: usize, id: &str, micros: i64) {
        let start = Instant::now();
        loop {
            let (_, c) = self.call(node, &format!("/channels/{id}"), None).await;
            if c["tip_time_micros"].as_i64() >= Some(micros) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "node {node}'s chain time never reached {micros}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn state_is(state: &'static str) -> impl Fn(&Value) -> bool {
    move |c: &Value| c["state"] == state
}

#[test]
fn channels_pay_dispute_and_agree_on_every_node() {
    runtime().block_on(async {
        let config = template();
        let mut net = TestNet::start(3, &config).await.expect("network");
        let keys = net.identities();
        let ids: Vec<String> = keys.iter().map(|k| k.peer_id().to_string()).collect();
        let api = Api {
            http: net.api().expect("HTTP client"),
        };
        let funded = |v: &[std::sync::Arc<doin_node::view::ChainView>]| {
            v.len() == 3
                && v.iter().all(|view| {
                    view.tip_index >= 10
                        && ids[..2].iter().all(|id| {
                            view.top_holders
                                .iter()
                                .any(|(who, units)| who == id && *units > 2 * DEPOSIT as u64)
                        })
                })
        };
        net.wait_for(
            Duration::from_secs(90),
            "sender and receiver funded",
            funded,
        )
        .await
        .expect("funded");
        let (sender, receiver, outsider) = (&keys[0], &keys[1], &keys[2]);
        let (_, fees) = api.call(0, "/fees", None).await;
        let fee = fees["base_fee_units"].as_i64().expect("base fee") * 2;
        let open = |dispute_period| ChannelAction::Open {
            receiver: ids[1].clone(),
            deposit: DEPOSIT,
            dispute_period,
        };

        // Refusals of an open, each with its reason.
        let bad_open = |deposit| ChannelAction::Open {
            receiver: ids[1].clone(),
            deposit,
            dispute_period: PERIOD,
        };
        let op = ChannelOp::signed(sender, bad_open(0), fee, 1);
        api.refused(0, &op, "deposit must be positive").await;
        let op = ChannelOp::signed(sender, bad_open(1_000_000_000_000_000), fee, 1);
        api.refused(0, &op, "insufficient balance").await;
        let op = ChannelOp::signed(sender, open(0), fee, 1);
        api.refused(0, &op, "dispute period").await;
        let mut forged = ChannelOp::signed(sender, open(PERIOD), fee, 1);
        forged.fee += 1;
        api.refused(0, &forged, "bad signature").await;
        let op = ChannelOp::signed(sender, open(PERIOD), fee, 2);
        api.refused(0, &op, "skips").await;

        // Channel 1: opened through node 0, seen by every node.
        let first = api
            .accepted(0, &ChannelOp::signed(sender, open(PERIOD), fee, 1))
            .await;
        let c = api.wait_channel(&first, "opened", state_is("open")).await;
        assert_eq!(c["deposit_units"], DEPOSIT);
        assert_eq!(c["sender_id"], ids[0]);

        // Off-chain updates, checked by the receiver against its node's chain.
        let updates: Vec<ChannelUpdate> = (1..=3)
            .map(|n| {
                ChannelUpdate::signed(sender, &first, n, DEPOSIT - n * 1_000_000, n * 1_000_000)
            })
            .collect();
        for u in &updates {
            let (code, ok) = api.call(1, "/channels/check", Some(u.to_wire_json())).await;
            assert_eq!(code, 200, "{ok}");
            assert_eq!(ok["paid_units"], u.receiver_balance);
        }
        let made_up = ChannelUpdate::signed(receiver, &first, 9, 0, DEPOSIT);
        let (code, why) = api
            .call(1, "/channels/check", Some(made_up.to_wire_json()))
            .await;
        assert_eq!(code, 400, "{why}");
        assert!(why["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("not signed by the channel's sender"));

        // The receiver closes with the latest update; the period runs in chain time.
        let close = ChannelOp::signed(
            receiver,
            ChannelAction::Close {
                channel_id: first.clone(),
                update: Some(updates[2].clone()),
            },
            fee,
            1,
        );
        api.accepted(1, &close).await;
        let c = api
            .wait_channel(&first, "closing", state_is("closing"))
            .await;
        let deadline = c["dispute_deadline_micros"].as_i64().expect("deadline");
        let outsider_close = ChannelOp::signed(
            outsider,
            ChannelAction::Close {
                channel_id: first.clone(),
                update: None,
            },
            fee,
            1,
        );
        api.refused(2, &outsider_close, "is not a participant")
            .await;
        let settle = |nonce| {
            ChannelOp::signed(
                receiver,
                ChannelAction::Settle {
                    channel_id: first.clone(),
                },
                fee,
                nonce,
            )
        };
        // The pool judges by the node's clock, a block by its timestamp: well before the
        // deadline both refuse.
        if Timestamp::now_utc().unix_micros() < deadline - 500_000 {
            api.refused(1, &settle(2), "dispute period runs until")
                .await;
        }
        api.wait_chain_time(1, &first, deadline).await;
        api.accepted(1, &settle(2)).await;
        let c = api
            .wait_channel(&first, "settled", state_is("closed"))
            .await;
        assert_eq!(c["receiver_balance_units"], 3_000_000);
        assert_eq!(c["sender_balance_units"], DEPOSIT - 3_000_000);
        api.refused(1, &settle(3), "is closed").await;

        // Channel 2: the sender closes on a stale update; the receiver's dispute with the
        // newest one wins.
        let second = api
            .accepted(2, &ChannelOp::signed(sender, open(120), fee, 2))
            .await;
        api.wait_channel(&second, "opened", state_is("open")).await;
        let stale = ChannelUpdate::signed(sender, &second, 1, DEPOSIT - 1_000_000, 1_000_000);
        let newest = ChannelUpdate::signed(sender, &second, 2, DEPOSIT - 4_000_000, 4_000_000);
        let cheat = ChannelOp::signed(
            sender,
            ChannelAction::Close {
                channel_id: second.clone(),
                update: Some(stale),
            },
            fee,
            3,
        );
        api.accepted(2, &cheat).await;
        api.wait_channel(&second, "closing", state_is("closing"))
            .await;
        let again = ChannelOp::signed(
            sender,
            ChannelAction::Close {
                channel_id: second.clone(),
                update: None,
            },
            fee,
            4,
        );
        api.refused(0, &again, "only a dispute with a newer update")
            .await;
        let dispute =
            ChannelOp::signed(receiver, ChannelAction::Dispute { update: newest }, fee, 3);
        api.accepted(1, &dispute).await;
        let c = api
            .wait_channel(&second, "disputed", state_is("closed"))
            .await;
        assert_eq!(c["nonce"], 2);
        assert_eq!(c["receiver_balance_units"], 4_000_000);
        let (_, totals) = api.call(0, "/channels", None).await;
        assert_eq!(totals["total_channels"], 2);
        assert_eq!(totals["active_channels"], 0);
        assert_eq!(totals["disputes"], 1);
        assert_eq!(totals["total_settled_units"], 7_000_000);
        let (_, fees) = api.call(2, "/fees", None).await;
        assert_eq!(fees["payment_channels"]["total_channels"], 2);
        let (_, status) = api.call(1, "/status", None).await;
        assert_eq!(status["coin"]["payment_channels"]["disputes"], 1);

        // Agreement: every node replays its chain to the same channels and balances, and
        // the coins add up.
        net.wait_for(Duration::from_secs(30), "agreement", agree)
            .await
            .expect("agree");
        let height = net.views().iter().map(|v| v.tip_index).min().expect("tip");
        let states = net.replayed(&config, height).expect("replays");
        for s in &states[1..] {
            assert_eq!(s.channels(), states[0].channels());
            assert_eq!(s.balances(), states[0].balances());
            assert_eq!(s, &states[0]);
        }
        let s = &states[0];
        let sum: u64 = s.balances().values().sum();
        assert_eq!(sum + s.total_locked(), s.total_minted() - s.total_burned());
        assert_eq!(s.total_locked(), 0);
        assert_eq!(
            s.channel(&second).map(|c| (&c.status, c.receiver_balance)),
            Some((&ChannelStatus::Closed, 4_000_000))
        );
        assert_eq!(s.channel_nonce(&ids[0]), 3);
        assert_eq!(s.channel_nonce(&ids[1]), 3);
        // A reference node follows the whole chain, the channel operations' commitments
        // included.
        let reference = api
            .http
            .follow_as_reference(0)
            .await
            .expect("reference follows");
        assert!(reference.height() > height);
        let stored = &reference.derived().stored;
        assert!(stored.get("evaluation_served") >= Some(&1), "{stored:?}");
        assert!(stored.get("optimae_announced") >= Some(&1), "{stored:?}");

        // A restart rebuilds the channels from the chain.
        let (_, before) = api.call(2, &format!("/channels/{second}"), None).await;
        net.stop(2).await;
        net.restart(2).await.expect("restart");
        let (code, after) = api.call(2, &format!("/channels/{second}"), None).await;
        assert_eq!(code, 200);
        for key in [
            "state",
            "nonce",
            "receiver_balance_units",
            "sender_balance_units",
            "deposit_units",
        ] {
            assert_eq!(after[key], before[key], "{key}");
        }
        let (_, totals) = api.call(2, "/channels", None).await;
        assert_eq!(totals["total_channels"], 2);
        net.shutdown().await;
    });
}
