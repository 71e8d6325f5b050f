//! A full ban table keeps banning: after twice as many addresses as the table holds have
//! earned bans (charged through the network handle, as the HTTP layer charges refusals), a
//! new address that posts badly signed messages is still banned after three of them and
//! refused with 403, while the node answers `/health` within 2 s and mints on.

mod hostile_net;
mod hostile_peer;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use doin_net::bans::MAX_BANS;
use doin_net::Verdict;
use doin_node::testnet::TestNet;
use doin_primitives::identity::Identity;
use doin_primitives::models::WireModel;
use doin_primitives::value::{Map, Value};
use hostile_net::{address_row, client_from, peers_json, post_message, sealed_status};
use hostile_peer::{runtime, solo_template, wait_for_height};

#[test]
fn a_full_ban_table_keeps_banning_new_offenders() {
    runtime().block_on(async {
        let net = TestNet::start(1, &solo_template(3)).await.expect("node");
        let node = net.node(0);
        let ep = node.endpoint();
        let probe = hostile_net::HealthProbe::start(&ep);
        let start_height = node.chain.view().height;

        // 2 × MAX_BANS offending addresses in 10.0.0.0/8, three bad seals each.
        for i in 0..(2 * MAX_BANS as u32) {
            let ip = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
            for _ in 0..3 {
                node.net
                    .charge_address(SocketAddr::new(ip, 9), Verdict::InvalidSignature);
            }
        }
        let peers = peers_json(&ep).await;
        let banned = peers["addresses"]
            .as_array()
            .map_or(0, |a| a.iter().filter(|r| r["banned"] == true).count());
        assert!(banned > 0 && banned <= MAX_BANS, "{banned} bans listed");

        // A new offender over HTTP: refused for its seal, then banned.
        let attacker = client_from([127, 0, 40, 1]);
        let key = Identity::generate();
        let mut statuses = Vec::new();
        for n in 0..4i64 {
            let mut m = sealed_status(&key, Map::new());
            m.payload.insert("tampered".into(), Value::from(n));
            statuses.push(post_message(&attacker, &ep, m.to_wire_json()).await);
        }
        assert_eq!(statuses, [400, 400, 400, 403], "{statuses:?}");
        assert!(address_row(&peers_json(&ep).await, "127.0.40.1").is_some_and(|(_, b)| b));

        wait_for_height(
            node,
            start_height + 2,
            Duration::from_secs(60),
            "minting on",
        )
        .await;
        let (worst, _) = probe.finish().await;
        assert!(worst < Duration::from_secs(2), "worst /health {worst:?}");
        net.shutdown().await;
    });
}
