//! Message-level attacks on a real node's `POST /message`, each from its own loopback
//! address (127.0.0.x) so that its score can be read apart from honest traffic (from
//! 127.0.0.1): unsigned, badly signed, replayed-later, oversize and garbage messages are
//! each refused with their reason and cost the sender's address score; a flood of bad
//! messages and a flood of valid ones from one peer end with the address banned (403);
//! all the while `/health` answers (its slowest answer printed), honest messages are taken
//! and the node goes on minting.

mod hostile_peer;

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use doin_node::testnet::TestNet;
use doin_primitives::identity::Identity;
use doin_primitives::models::payload::{OptimaeCommit, Payload};
use doin_primitives::models::{Message, WireModel};
use doin_primitives::value::Map;
use doin_primitives::Timestamp;
use futures_util::StreamExt;
use hostile_peer::{runtime, solo_template};

/// An attack: its name, the address it comes from, the body, the expected HTTP status and
/// a word of the expected refusal.
type Attack = (&'static str, [u8; 4], Vec<u8>, u16, &'static str);

/// A commit message from `id`, dated `age` ago, sealed.
fn signed(id: &Identity, age: Duration, n: u64) -> Message {
    let at = Timestamp::now_utc().unix_micros() - age.as_micros() as i64;
    let mut m = Message::new(
        id.peer_id(),
        Timestamp::from_unix_micros(at),
        &Payload::from(OptimaeCommit {
            commitment_hash: format!("{n:064x}"),
            domain_id: "quadratic".into(),
            extra: Map::new(),
        }),
    );
    m.sign(id);
    m
}

/// An HTTP client whose requests leave from `ip`.
fn client_from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from(ip))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

async fn post(client: &reqwest::Client, endpoint: &str, body: Vec<u8>) -> (u16, String) {
    let resp = client
        .post(format!("http://{endpoint}/message"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("post");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

/// The score `/peers` reports for `ip`, and whether it is banned (`None`: never charged).
async fn address_score(endpoint: &str, ip: &str) -> Option<(f64, bool)> {
    let v: serde_json::Value = reqwest::get(format!("http://{endpoint}/peers"))
        .await
        .expect("peers")
        .json()
        .await
        .expect("json");
    v["addresses"]
        .as_array()?
        .iter()
        .find(|a| a["address"] == ip)
        .map(|a| {
            (
                a["score"].as_f64().unwrap_or(0.0),
                a["banned"].as_bool().unwrap_or(false),
            )
        })
}

#[test]
fn bad_messages_are_refused_and_cost_the_sender_while_the_node_serves() {
    runtime().block_on(async {
        let net = TestNet::start(1, &solo_template(3)).await.expect("node");
        let node = net.node(0);
        let ep = node.endpoint();
        let start_height = node.chain.view().height;

        // `/health` is probed every 10 ms from 127.0.0.1 for the whole test.
        let done = Arc::new(AtomicBool::new(false));
        let probe = {
            let (ep, done) = (ep.clone(), done.clone());
            tokio::spawn(async move {
                let client = client_from([127, 0, 0, 1]);
                let (mut worst, mut probes) = (Duration::ZERO, 0u32);
                while !done.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let ok = client
                        .get(format!("http://{ep}/health"))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    assert!(ok, "/health failed under attack");
                    worst = worst.max(t.elapsed());
                    probes += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                (worst, probes)
            })
        };

        let attacker = Identity::generate();
        let oversize = {
            let mut m = signed(&attacker, Duration::ZERO, 0);
            m.payload
                .insert("padding".into(), "x".repeat(2 << 20).into());
            m.to_wire_json().into_bytes()
        };
        let badly_signed = {
            let mut m = signed(&attacker, Duration::ZERO, 1);
            m.payload.insert("tampered".into(), true.into());
            m.to_wire_json().into_bytes()
        };
        let unsigned = {
            let mut m = signed(&attacker, Duration::ZERO, 2);
            m.seal = None;
            m.to_wire_json().into_bytes()
        };
        // A valid message as it was sent 90 s ago, posted again now.
        let replayed = signed(&attacker, Duration::from_secs(90), 3)
            .to_wire_json()
            .into_bytes();
        let cases: Vec<Attack> = vec![
            ("unsigned", [127, 0, 0, 2], unsigned, 400, "unsigned"),
            (
                "badly signed",
                [127, 0, 0, 3],
                badly_signed,
                400,
                "bad seal",
            ),
            ("replayed", [127, 0, 0, 4], replayed, 400, "old"),
            ("oversize", [127, 0, 0, 5], oversize, 413, "limit"),
            (
                "garbage",
                [127, 0, 0, 6],
                b"{\"msg_type\": [1, 2".to_vec(),
                400,
                "invalid",
            ),
        ];
        for (name, ip, body, status, reason) in cases {
            let client = client_from(ip);
            let (got, text) = post(&client, &ep, body).await;
            assert_eq!(got, status, "{name}: {text}");
            assert!(text.contains(reason), "{name}: {text}");
            let ip = IpAddr::from(ip).to_string();
            let (score, banned) = address_score(&ep, &ip).await.expect("charged");
            assert!(
                score < 0.0 && !banned,
                "{name}: score {score}, banned {banned}"
            );
            eprintln!("{name}: HTTP {got}, address score {score}");
        }

        // A flood of bad messages from one address: refused, then banned outright.
        let flooder = client_from([127, 0, 0, 7]);
        let bodies = [
            b"garbage".to_vec(),
            signed(&attacker, Duration::from_secs(300), 4)
                .to_wire_json()
                .into_bytes(),
        ];
        let mut statuses = Vec::new();
        for i in 0..1_000 {
            statuses.push(post(&flooder, &ep, bodies[i % 2].clone()).await.0);
        }
        let first_ban = statuses.iter().position(|s| *s == 403).expect("banned");
        assert!(first_ban < 20, "banned only after {first_ban} bad messages");
        assert!(statuses[first_ban..].iter().all(|s| *s == 403));
        assert_eq!(
            address_score(&ep, "127.0.0.7").await.map(|(_, b)| b),
            Some(true)
        );

        // A flood of valid messages from one peer: over its rate (429), then banned.
        let spammer = client_from([127, 0, 0, 8]);
        let valid = signed(&attacker, Duration::ZERO, 5)
            .to_wire_json()
            .into_bytes();
        // Sixteen at a time, in rounds of 200, until banned (at most 4,000): the peer sends
        // faster than its sustained rate.
        let mut statuses: Vec<u16> = Vec::new();
        while !statuses.contains(&403) && statuses.len() < 4_000 {
            let round: Vec<u16> = futures_util::stream::iter(0..200)
                .map(|_| {
                    let (spammer, ep, valid) = (&spammer, &ep, valid.clone());
                    async move { post(spammer, ep, valid).await.0 }
                })
                .buffered(16)
                .collect()
                .await;
            statuses.extend(round);
        }
        let ok = statuses.iter().take_while(|s| **s == 200).count();
        let first_ban = statuses
            .iter()
            .position(|s| *s == 403)
            .expect("never banned");
        assert!(ok >= 100, "only {ok} messages taken before the limit");
        assert!(
            statuses[..first_ban].contains(&429),
            "banned without being over the rate"
        );
        assert_eq!(post(&spammer, &ep, valid.clone()).await.0, 403);
        eprintln!(
            "valid flood: {ok} taken, banned after {first_ban} of {}",
            statuses.len()
        );

        // Honest traffic is untouched: a fresh signed message from 127.0.0.1 is taken, the
        // node mints on, and 127.0.0.1 was never charged.
        let honest = Identity::generate();
        let (got, text) = post(
            &client_from([127, 0, 0, 1]),
            &ep,
            signed(&honest, Duration::ZERO, 6)
                .to_wire_json()
                .into_bytes(),
        )
        .await;
        assert_eq!(got, 200, "{text}");
        assert_eq!(address_score(&ep, "127.0.0.1").await, None);
        hostile_peer::wait_for_height(
            node,
            start_height + 3,
            Duration::from_secs(20),
            "the node to mint on",
        )
        .await;

        done.store(true, Ordering::Relaxed);
        let (worst, probes) = probe.await.expect("probe");
        eprintln!("/health: {probes} probes, slowest {worst:?}");
        // Whether the node keeps serving is what this test checks; how fast is the attacks
        // bench's figure (a latency bound here would measure the machine's load: 136 ms
        // was seen at load 13). Two seconds is the node no longer serving.
        assert!(
            worst < Duration::from_secs(2),
            "/health took {worst:?} under attack"
        );
        net.shutdown().await;
    });
}
