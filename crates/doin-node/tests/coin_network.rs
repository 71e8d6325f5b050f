//! The coin on a 3-node in-process network, driven over each node's HTTP API: transfers
//! submitted to different nodes reach every chain; every node replays to the same
//! balances, nonces, base fee and burn, and Σ balances == minted − burned to the base unit;
//! each bad transfer is refused with its reason, a replayed one too; a flood of low-fee
//! transfers into a full mempool does not starve a high-fee one; a restarted node rebuilds
//! the same accounts from its chain.

use std::time::{Duration, Instant};

use doin_node::config::NodeConfig;
use doin_node::testnet::{agree, minting_template, NodeApi, TestNet};
use doin_primitives::models::{Transfer, WireModel};
use doin_primitives::Timestamp;
use serde_json::Value;

/// Mempool capacity of the test nodes: small, so that the flood fills it.
const CAPACITY: usize = 10;

/// A chain that keeps minting (blocks carry the transfers) with a small mempool.
fn template() -> NodeConfig {
    let mut c = minting_template(1, 0.5);
    // A block needs about two accepted optimae of 1 %: optimizer rounds do not wait for
    // their quorums, and at a block per optimae the chain emptied the mempool faster than
    // the flood below fills it.
    c.initial_threshold = 0.02;
    c.network_protocol = "gossipsub".into();
    c.fee_config.mempool_size_limit = CAPACITY;
    c.fee_config.rate_limit_max_tx = 0;
    c
}

struct Api {
    http: NodeApi,
}

impl Api {
    async fn get(&self, node: usize, path: &str) -> Value {
        self.http.call(node, path, None).await.expect("GET").1
    }

    /// Posts a transfer; returns the status code and the body.
    async fn submit(&self, node: usize, t: &Transfer) -> (u16, Value) {
        let body = Some(t.to_wire_json());
        self.http
            .call(node, "/transfers", body)
            .await
            .expect("POST")
    }

    async fn nonce(&self, node: usize, who: &str) -> u64 {
        self.get(node, &format!("/balance/{who}")).await["nonce"]
            .as_u64()
            .expect("nonce")
    }

    async fn wait_nonce(&self, node: usize, who: &str, nonce: u64) {
        let start = Instant::now();
        while self.nonce(node, who).await < nonce {
            assert!(
                start.elapsed() < Duration::from_secs(40),
                "nonce {nonce} of {who} never reached the chain of node {node}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn refused(code_body: (u16, Value), want: &str) {
    let (code, body) = code_body;
    assert_eq!(code, 400, "{body}");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(want), "expected {want:?}, got {detail:?}");
}

#[test]
fn transfers_agree_on_every_node_and_bad_ones_are_refused() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let config = template();
        let mut net = TestNet::start(3, &config).await.expect("network");
        let keys = net.identities();
        let ids: Vec<String> = keys.iter().map(|k| k.peer_id().to_string()).collect();
        let api = Api {
            http: net.api().expect("HTTP client"),
        };
        // Funded, as every node sees it, on a chain old enough that a reorganisation will
        // not take the funds back.
        let funded = |v: &[std::sync::Arc<doin_node::view::ChainView>]| {
            v.len() == 3
                && v.iter().all(|view| {
                    view.tip_index >= 10
                        && ids.iter().all(|id| {
                            view.top_holders
                                .iter()
                                .any(|(who, units)| who == id && *units > 2_000_000_000)
                        })
                })
        };
        net.wait_for(Duration::from_secs(60), "every node funded", funded)
            .await
            .expect("funded");

        // Node i's key pays node i+1, submitted to node i; three transfers each.
        let base = api.get(0, "/fees").await["base_fee_units"]
            .as_i64()
            .expect("base fee");
        let mut sent = Vec::new();
        for nonce in 1..=3 {
            for i in 0..3 {
                let t = Transfer::signed(
                    &keys[i],
                    ids[(i + 1) % 3].clone(),
                    1_000_000 * nonce,
                    base + 17,
                    nonce,
                    Timestamp::now_utc(),
                );
                let (code, body) = api.submit(i, &t).await;
                if code != 200 {
                    for n in 0..3 {
                        eprintln!(
                            "node {n}: {}",
                            api.get(n, &format!("/balance/{}", ids[i])).await
                        );
                    }
                }
                assert_eq!(code, 200, "node {i} nonce {nonce}: {body}");
                sent.push(t);
            }
        }

        // Every refusal with its reason.
        let k0 = &keys[0];
        let to = ids[1].clone();
        let now = Timestamp::now_utc();
        refused(
            api.submit(0, &Transfer::signed(k0, to.clone(), 0, base, 4, now))
                .await,
            "amount must be positive",
        );
        refused(
            api.submit(0, &Transfer::signed(k0, to.clone(), -5, base, 4, now))
                .await,
            "amount must be positive",
        );
        refused(
            api.submit(
                0,
                &Transfer::signed(k0, to.clone(), 10_000_000_000_000, base, 4, now),
            )
            .await,
            "insufficient balance",
        );
        refused(
            api.submit(0, &Transfer::signed(k0, to.clone(), 5, base, 2, now))
                .await,
            "already used",
        );
        refused(
            api.submit(0, &Transfer::signed(k0, to.clone(), 5, base, 9, now))
                .await,
            "skips",
        );
        refused(
            api.submit(0, &Transfer::signed(k0, to.clone(), 5, base - 1, 4, now))
                .await,
            "below the base fee",
        );
        let mut tampered = Transfer::signed(k0, to.clone(), 5, base, 4, now);
        tampered.amount = 50;
        refused(api.submit(0, &tampered).await, "bad signature");
        let mut forged = Transfer::signed(&keys[1], to.clone(), 5, base, 4, now);
        forged.sender = ids[0].clone();
        refused(api.submit(0, &forged).await, "bad signature");

        // Every transfer reaches every node's chain, whichever node minted it.
        for node in 0..3 {
            for id in &ids {
                api.wait_nonce(node, id, 3).await;
            }
        }
        // A replay of an included transfer, to another node.
        refused(api.submit(2, &sent[0]).await, "already used");

        // A flood of low-fee transfers fills node 1's mempool; a high-fee one still gets in
        // and reaches the chain.
        let mut admitted = 0;
        let mut full = false;
        // At most 6 x CAPACITY: well under the gossip burst a peer may send (200).
        for nonce in 4..4 + 6 * CAPACITY as i64 {
            let t = Transfer::signed(
                &keys[1],
                ids[2].clone(),
                1,
                base,
                nonce,
                Timestamp::now_utc(),
            );
            match api.submit(1, &t).await {
                (200, _) => admitted += 1,
                (503, body) => {
                    let detail = body["detail"].as_str().unwrap_or_default();
                    assert!(detail.contains("mempool full"), "{detail}");
                    full = true;
                    break;
                }
                other => panic!("flood transfer {nonce}: {other:?}"),
            }
        }
        assert!(full, "{admitted} flood transfers never filled the pool");
        let rich = Transfer::signed(
            &keys[2],
            ids[0].clone(),
            7,
            base * 20,
            4,
            Timestamp::now_utc(),
        );
        let (code, body) = api.submit(1, &rich).await;
        assert_eq!(
            code, 200,
            "the high-fee transfer enters a full pool: {body}"
        );
        assert!(api.get(1, "/fees").await["mempool_size"].as_u64() <= Some(CAPACITY as u64));
        api.wait_nonce(1, &ids[2], 4).await;

        // Agreement: every node replays its chain to the same accounts, and the coins add up.
        net.wait_for(Duration::from_secs(30), "agreement", agree)
            .await
            .expect("agree");
        let height = net.views().iter().map(|v| v.tip_index).min().expect("tip");
        let states = net.replayed(&config, height).expect("replays");
        for s in &states[1..] {
            assert_eq!(s.balances(), states[0].balances());
            assert_eq!(s.base_fee(), states[0].base_fee());
            assert_eq!(s.total_burned(), states[0].total_burned());
            assert_eq!(s, &states[0]);
        }
        let s = &states[0];
        let sum: u64 = s.balances().values().sum();
        assert!(s.total_burned() >= 10 * base as u64);
        assert_eq!(sum, s.total_minted() - s.total_burned());
        for id in &ids {
            assert!(s.nonce(id) >= 3);
        }
        // A reference node follows the whole chain, the transfers' commitments included,
        // and counts the same accepted optimae.
        let reference = api
            .http
            .follow_as_reference(0)
            .await
            .expect("reference follows");
        assert!(reference.height() > height);
        let derived = reference.derived();
        assert!(
            derived.stored.get("evaluation_served") >= Some(&1),
            "{derived:?}"
        );
        assert!(derived.accepted_count >= s.domains().values().map(|d| d.accepted).sum());

        // A restart rebuilds the accounts from the chain.
        let before = api.get(2, &format!("/balance/{}", ids[2])).await;
        net.stop(2).await;
        net.restart(2).await.expect("restart");
        let after = api.get(2, &format!("/balance/{}", ids[2])).await;
        assert!(after["nonce"].as_u64() >= before["nonce"].as_u64());
        assert!(after["nonce"].as_u64() >= Some(4));
        let fees = api.get(2, "/fees").await;
        assert!(fees["total_burned_units"].as_u64() >= Some(s.total_burned()));
        net.shutdown().await;
    });
}
