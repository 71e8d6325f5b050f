//! A reference node in a doin network, played over HTTP exactly as the reference speaks:
//! its `GET /peers` (with an unresolved `host:port` row, as it lists the doin node it
//! bootstraps from), its `/chain/status`, a `POST /message` inbox that acknowledges and
//! discards control frames and never sends SUBSCRIBE, and its announcement-driven sync
//! (on each `block_announcement`, `GET /chain/blocks` from the announcing address,
//! appended by the reference's rules, `doin_consensus::reference::sync`).
//!
//! One such node is in the doin node's `bootstrap_peers` and never sends anything (a
//! relay); another makes itself known the only way a reference node does, by sending a
//! message (an unsigned `champion_request`, wrapped as its GossipSub sends it). Both
//! must stay at the tip while the doin node mints, and the doin node must not try to
//! sync from them. The doin node floods its HTTP peers as the reference does, so the
//! relay also hears the other reference node's request. The reference's dashboard reads each peer's `/api/monitor`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] functions

mod reference_node;

use doin_node::testnet::{minting_template, runtime, TestNet};
use reference_node::Reference;
use serde_json::json;

#[test]
fn reference_nodes_hear_of_every_block_a_doin_node_mints_and_follow_it_at_the_tip() {
    runtime().block_on(follow(false));
}

/// The same with the doin node on libp2p too: the HTTP mesh still bridges to reference
/// nodes.
#[test]
fn reference_nodes_follow_a_doin_node_that_runs_libp2p_too() {
    runtime().block_on(follow(true));
}

async fn follow(libp2p: bool) {
    let relay = Reference::start("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1").await;
    let optimizer = Reference::start("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2").await;
    let mut template = minting_template(0, 0.2);
    template.accept_unsigned_messages = true;
    let relay_endpoint = format!("127.0.0.1:{}", relay.port);
    let net = TestNet::start_custom(1, &template, |_, c| {
        c.bootstrap_peers = vec![relay_endpoint.clone()];
        if !libp2p {
            c.listen_addrs = Some(Vec::new());
        }
        // What an earlier version kept from the relay's `/peers`: its row for this
        // very node, under the id `host:port`.
        let own = format!("127.0.0.1:{}", c.port);
        let row = json!({"peer_id": own, "endpoint": own, "source": "pex"});
        std::fs::create_dir_all(&c.data_dir).unwrap();
        std::fs::write(
            c.data_dir.join("peers.json"),
            json!({"version": 1, "peers": [row]}).to_string(),
        )
        .unwrap();
        doin_plugins::PluginRegistry::with_builtins()
    })
    .await
    .expect("doin node");
    assert_eq!(net.node(0).p2p.is_some(), libp2p);
    let api = net.api().expect("api");
    let doin_port = api.ports[0];
    for r in [&relay, &optimizer] {
        *r.doin_port.lock().unwrap() = Some(doin_port);
    }

    // The second reference node makes itself known by a message, as it does when its
    // optimizer starts: an unsigned champion_request wrapped for GossipSub, with its
    // port and component versions among the payload's transport keys.
    let request = json!({"type": "message", "data": {
            "msg_type": "champion_request",
            "sender_id": optimizer.peer_id,
            "timestamp": doin_primitives::Timestamp::now_utc().wire(),
            "ttl": 7,
            "payload": {"domain_id": template.domains[0].domain_id, "request_id": "1c128fc7",
                "_sender_port": optimizer.port,
                "_component_versions": {"agent-multi": "?", "doin-core": "a90bca2",
                    "doin-node": "5bd6d39", "doin-plugins": "451802a", "gym-fx": "?",
                    "trading-contracts": "?"},
                "_plugin_configs": {}}}});
    let answer = optimizer
        .client
        .post(format!("http://127.0.0.1:{doin_port}/message"))
        .json(&request)
        .send()
        .await
        .expect("POST /message");
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.json::<serde_json::Value>().await.unwrap(),
        json!({"status": "ok"})
    );

    // Both hear of blocks and follow: past block 3, then at the doin node's tip as it
    // mints on (a tip both have appended, as the doin node served it).
    for r in [&relay, &optimizer] {
        r.wait("a synced block 3", |s| s.height >= 4).await;
    }
    let (_, status) = api.call(0, "/chain/status", None).await.unwrap();
    let later = status["chain_height"].as_i64().unwrap() + 2;
    for r in [&relay, &optimizer] {
        r.wait("the doin node's later tip", |s| s.height >= later)
            .await;
        let follower = r.follower.lock().await;
        let at = follower.height() - 1;
        let (_, block) = api
            .call(0, &format!("/chain/block/{at}"), None)
            .await
            .unwrap();
        assert_eq!(block["hash"].as_str(), Some(follower.tip_hash()));
        assert!(r.seen.borrow().refused.is_none());
    }
    // The doin node floods its HTTP peers as the reference does: the relay got the other
    // reference node's request (what one reference node sends reaches the others), and
    // the node never sent it back to its originator.
    let heard = |r: &Reference, kind: &str| r.seen.borrow().messages.iter().any(|m| m == kind);
    relay
        .wait("the other reference node's champion_request", |s| {
            s.messages.iter().any(|m| m == "champion_request")
        })
        .await;
    assert!(
        !heard(&optimizer, "champion_request"),
        "{:?}",
        optimizer.seen.borrow().messages
    );

    // Though they claim to be ahead, the doin node never asked them for blocks.
    for r in [&relay, &optimizer] {
        assert_eq!(r.seen.borrow().blocks_asked, 0);
    }

    // The relay lists the doin node as `127.0.0.1:<port>` (and so did the peer table
    // it started with): once the doin node has asked it for peers again, that row is
    // not a peer of its own.
    relay
        .wait("two peer exchanges", |s| s.peers_asked >= 2)
        .await;
    let (_, peers) = api.call(0, "/peers", None).await.unwrap();
    let rows = peers["peers"].as_array().unwrap();
    assert!(
        rows.iter()
            .all(|p| p["port"].as_u64() != Some(u64::from(doin_port))),
        "{peers}"
    );
    for r in [&relay, &optimizer] {
        assert!(
            rows.iter().any(|p| p["peer_id"] == r.peer_id.as_str()),
            "{} known by its id: {peers}",
            r.peer_id
        );
    }

    // The reference's dashboard asks every peer for `/api/monitor` and reads, in its
    // network view, these keys with these casts (a peer that fails is "offline").
    let (code, m) = api.call(0, "/api/monitor", None).await.unwrap();
    assert_eq!(code, 200, "{m}");
    let me = peers["self"]["peer_id"].as_str().unwrap();
    assert_eq!(m["peer_id"], me);
    assert_eq!(m["port"].as_u64(), Some(u64::from(doin_port)));
    assert_eq!(m["status"], "online");
    assert!(m["chain_height"].as_i64().unwrap() >= later, "{m}");
    assert!(
        m["known_endpoints"].is_array() && m["versions"].is_object(),
        "{m}"
    );
    assert!(m["candidate"].is_object() && m["alerts"].is_array(), "{m}");
    assert!(
        m["alerts_count"].is_u64() && m["alerts_unseen"].is_u64(),
        "{m}"
    );
    let history = &m["optimization_history"];
    assert!(
        history["candidate_evaluations_total"].as_u64().unwrap() >= 1,
        "{m}"
    );
    assert!(history["candidates_per_hour"].is_f64(), "{m}");
    let domain = template.domains[0].domain_id.as_str();
    assert_eq!(m["domains"], json!([domain]));
    assert!(m["best_performance"][domain].is_f64(), "{m}");
    net.shutdown().await;
}
