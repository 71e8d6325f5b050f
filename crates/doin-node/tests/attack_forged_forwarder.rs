//! Signed junk that names an honest peer as its forwarder costs the address it came from,
//! never the peer it named: a node A peered with an honest node B receives, from another
//! address range (127.0.9.1), sealed messages from throwaway keys that carry junk in place
//! of a transfer and claim `_forwarder_id` = B and B's port. A bans the sending address;
//! B keeps its score, its endpoint and its connection; A answers `/health` within 2 s
//! throughout and keeps minting.

mod hostile_net;
mod hostile_peer;

use std::time::Duration;

use doin_node::testnet::TestNet;
use doin_plugins::PluginRegistry;
use doin_primitives::identity::Identity;
use doin_primitives::models::WireModel;
use doin_primitives::value::{Map, Value};
use hostile_net::{
    address_row, as_relayed_by, client_from, eventually, peer_row, peers_json, post_message,
    sealed_status, HealthProbe,
};
use hostile_peer::{runtime, solo_template, wait_for_height};

/// A gossiped transfer that is not a transfer (each costs its sender a `Malformed`).
fn junk_transfer(n: usize) -> Value {
    let mut m = Map::new();
    m.insert("junk".into(), Value::from(n as i64));
    Value::from(m)
}

#[test]
fn signed_junk_naming_an_honest_forwarder_costs_the_sender_not_the_forwarder() {
    runtime().block_on(async {
        let net = TestNet::start_http(2, &solo_template(3), |i, c| {
            if i == 1 {
                for d in &mut c.domains {
                    d.optimize = false;
                    d.evaluate = false;
                }
            }
            PluginRegistry::with_builtins()
        })
        .await
        .expect("network");
        let (a, b) = (net.node(0), net.node(1));
        let (a_ep, b_id) = (a.endpoint(), b.peer_id.clone());
        eventually(Duration::from_secs(30), "A to connect B", || async {
            peer_row(&peers_json(&a_ep).await, &b_id).is_some_and(|r| r["connected"] == true)
        })
        .await;
        let b_before = peer_row(&peers_json(&a_ep).await, &b_id).expect("B at A");
        let probe = HealthProbe::start(&a_ep);
        let start_height = a.chain.view().height;

        // A fresh key per message: the signers' scores never add up, only the address does.
        let attacker = client_from([127, 0, 9, 1]);
        let mut statuses = Vec::new();
        for n in 0..20 {
            let mut extra = Map::new();
            extra.insert("transfer".into(), junk_transfer(n));
            let mut m = sealed_status(&Identity::generate(), extra);
            as_relayed_by(&mut m, &b_id, b.port);
            statuses.push(post_message(&attacker, &a_ep, m.to_wire_json()).await);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(statuses[0], 200, "the first junk message is admitted");
        eventually(
            Duration::from_secs(10),
            "the attacking address banned",
            || async {
                address_row(&peers_json(&a_ep).await, "127.0.9.1").is_some_and(|(_, banned)| banned)
            },
        )
        .await;
        let refused = client_from([127, 0, 9, 1]);
        let mut m = sealed_status(&Identity::generate(), Map::new());
        as_relayed_by(&mut m, &b_id, b.port);
        assert_eq!(post_message(&refused, &a_ep, m.to_wire_json()).await, 403);

        // B: the same endpoint, still connected, no penalty, not banned.
        let peers = peers_json(&a_ep).await;
        let b_after = peer_row(&peers, &b_id).expect("B still listed at A");
        assert_eq!(b_after["connected"], true, "{b_after}");
        assert_eq!(b_after["address"], b_before["address"]);
        assert_eq!(b_after["port"], b_before["port"]);
        let score = b_after["score"].as_f64().unwrap_or(f64::NAN);
        assert!(score >= 0.0, "B was charged: {b_after}");
        assert!(
            address_row(&peers, "127.0.0.1").is_none_or(|(s, banned)| s >= 0.0 && !banned),
            "B's address was charged: {peers}"
        );

        wait_for_height(a, start_height + 2, Duration::from_secs(30), "A to mint on").await;
        let (worst, probes) = probe.finish().await;
        assert!(
            probes > 0 && worst < Duration::from_secs(2),
            "worst /health {worst:?}"
        );
        net.shutdown().await;
    });
}
