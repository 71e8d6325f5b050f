//! Hundreds of throwaway keys over a few address ranges cannot keep an honest peer out:
//! 500 keys spread over 20 ranges (127.0.10.1 to 127.0.29.1, each with a sink that takes
//! whatever the victim sends, so their slots never fail) introduce themselves to a node
//! with signed messages and keep doing so. No range holds more than its cap of inbound
//! slots, inbound slots stay within their bound, and an honest node that joins during the
//! attack (introducing itself by a message, as flooding peers learn each other) gets a
//! slot and keeps it; the victim answers `/health` within 2 s and mints on.

mod hostile_net;
mod hostile_peer;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::post;
use doin_node::testnet::TestNet;
use doin_plugins::PluginRegistry;
use doin_primitives::identity::Identity;
use doin_primitives::models::WireModel;
use doin_primitives::value::{Map, Value};
use hostile_net::{client_from, eventually, peer_row, peers_json, post_message, sealed_status};
use hostile_peer::{runtime, solo_template, wait_for_height};

const RANGES: u8 = 20;
const KEYS: usize = 500;

/// Starts a sink on `ip` that answers every `POST /message` with 200; returns its port.
async fn sink(ip: [u8; 4]) -> u16 {
    let app = axum::Router::new().route("/message", post(|| async { "{\"status\":\"ok\"}" }));
    let listener = tokio::net::TcpListener::bind((std::net::IpAddr::from(ip), 0))
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}

/// A signed, valid message from `key` that says it listens on `port`.
fn introduction(key: &Identity, port: u16) -> String {
    let mut m = sealed_status(key, Map::new());
    m.payload
        .insert("_sender_port".into(), Value::from(i64::from(port)));
    m.to_wire_json()
}

/// Connected rows of `/peers`, as (address, direction).
fn connected(peers: &serde_json::Value) -> Vec<(String, String)> {
    peers["peers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["connected"] == true)
        .map(|p| {
            (
                p["address"].as_str().unwrap_or_default().to_owned(),
                p["direction"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn throwaway_keys_over_a_few_ranges_cannot_keep_an_honest_peer_out() {
    runtime().block_on(async {
        let victim_net = TestNet::start(1, &solo_template(3)).await.expect("victim");
        let victim = victim_net.node(0);
        let v_ep = victim.endpoint();
        let probe = hostile_net::HealthProbe::start(&v_ep);
        let mut ranges = Vec::new();
        for r in 0..RANGES {
            let ip = [127, 0, 10 + r, 1];
            ranges.push((ip, sink(ip).await, client_from(ip)));
        }

        // The first wave: every key introduces itself once.
        let keys: Vec<Identity> = (0..KEYS).map(|_| Identity::generate()).collect();
        for (i, key) in keys.iter().enumerate() {
            let (_, port, client) = &ranges[i % ranges.len()];
            let status = post_message(client, &v_ep, introduction(key, *port)).await;
            assert_eq!(status, 200, "key {i}");
        }
        let peers = peers_json(&v_ep).await;
        let taken = connected(&peers);
        let inbound = taken.iter().filter(|(_, d)| d == "inbound").count();
        assert!(
            inbound >= 30,
            "the attack should fill inbound slots: {taken:?}"
        );
        assert!(inbound <= 34, "inbound slots over their bound: {inbound}");
        let mut per_range: BTreeMap<String, usize> = BTreeMap::new();
        for (address, _) in &taken {
            let range = address.rsplit_once('.').map_or("", |(r, _)| r).to_owned();
            *per_range.entry(range).or_default() += 1;
        }
        assert!(per_range.values().all(|n| *n <= 4), "{per_range:?}");

        // The attack goes on with fresh keys while an honest node joins.
        let attacking = Arc::new(AtomicBool::new(true));
        let attack = {
            let (attacking, v_ep) = (attacking.clone(), v_ep.clone());
            let ranges: Vec<(u16, reqwest::Client)> =
                ranges.iter().map(|(_, p, c)| (*p, c.clone())).collect();
            tokio::spawn(async move {
                let mut sent = 0usize;
                while attacking.load(Ordering::Relaxed) {
                    let (port, client) = &ranges[sent % ranges.len()];
                    post_message(client, &v_ep, introduction(&Identity::generate(), *port)).await;
                    sent += 1;
                }
                sent
            })
        };
        let mut follower = solo_template(3);
        follower.bootstrap_peers = vec![v_ep.clone()];
        let honest_net = TestNet::start_http(1, &follower, |_, c| {
            c.bootstrap_peers = vec![v_ep.clone()];
            for d in &mut c.domains {
                d.optimize = false;
                d.evaluate = false;
            }
            PluginRegistry::with_builtins()
        })
        .await
        .expect("honest node");
        let honest = honest_net.node(0);
        honest.net.connect(&v_ep).await.expect("connect");
        let h_id = honest.peer_id.clone();
        // Toward HTTP peers a node floods, as the reference does, and nothing is sent on
        // connect: a peer is learnt from what it sends. The honest node introduces itself
        // with a sealed status (as an optimizer's first message would) until it has a slot.
        let h_key = honest_net.identities().remove(0);
        eventually(
            Duration::from_secs(30),
            "the honest node to get a slot",
            || {
                let (v_ep, h_id, net) = (v_ep.clone(), h_id.clone(), honest.net.clone());
                let introduction = sealed_status(&h_key, Map::new());
                async move {
                    let _ = net.publish(introduction).await;
                    peer_row(&peers_json(&v_ep).await, &h_id)
                        .is_some_and(|r| r["connected"] == true)
                }
            },
        )
        .await;
        // Five more seconds of attack: the honest node keeps its slot throughout.
        let until = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < until {
            let peers = peers_json(&v_ep).await;
            let Some(row) = peer_row(&peers, &h_id) else {
                let slots = victim.net.connected().await.unwrap_or_default();
                panic!(
                    "the honest node {h_id} row is gone from the victim book ({} rows); in its slots: {}",
                    peers["peers"].as_array().map_or(0, Vec::len),
                    slots.contains(&h_id)
                );
            };
            if row["connected"] != true {
                let h_ep = honest.endpoint();
                eprintln!("victim addresses: {}", peers_json(&v_ep).await["addresses"]);
                eprintln!("honest addresses: {}", peers_json(&h_ep).await["addresses"]);
                eprintln!("honest peers: {}", peers_json(&h_ep).await["peers"]);
            }
            assert_eq!(
                row["connected"], true,
                "the honest node lost its slot: {row}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        attacking.store(false, Ordering::Relaxed);
        let sent = attack.await.expect("attack");
        assert!(sent > 0);

        let height = victim.chain.view().height;
        wait_for_height(victim, height + 1, Duration::from_secs(60), "minting on").await;
        let (worst, _) = probe.finish().await;
        assert!(worst < Duration::from_secs(2), "worst /health {worst:?}");
        honest_net.shutdown().await;
        victim_net.shutdown().await;
    });
}
