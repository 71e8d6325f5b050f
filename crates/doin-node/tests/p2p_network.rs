//! Doin nodes on libp2p only — no HTTP peer anywhere, each given the multiaddrs of the
//! nodes started before it: three nodes reach consensus and mint, each optimae verified by
//! a quorum of the others (their evaluators' task calls go over `/doin/tasks/1`), and agree
//! on one chain (block announcements on gossipsub, blocks pulled over `/doin/sync/1`); a
//! node started later syncs that chain over libp2p.

use std::time::Duration;

use doin_consensus::accepted::AcceptedOptimae;
use doin_node::api::BlockSource;
use doin_node::chain_service::ReaderPool;
use doin_node::config::NodeConfig;
use doin_node::testnet::{agree, minting_template, runtime, TestNet};

/// Quorums of two: each optimae is re-measured by the two other nodes.
fn template() -> NodeConfig {
    let mut c = minting_template(2, 0.5);
    c.network_protocol = "gossipsub".into();
    c
}

/// Accepted optimae in node `i`'s chain whose votes include two by other nodes.
fn verified_by_two_others(net: &TestNet, i: usize) -> usize {
    let db = net.data_dir(i).join("chain.db");
    let height = net.node(i).chain.view().height;
    let blocks = ReaderPool::new(&db)
        .blocks(1, height - 1)
        .expect("the store reads");
    let mut count = 0;
    for b in &blocks {
        for tx in b.check_layout().expect("layout").accepted {
            let a = AcceptedOptimae::from_tx(tx).expect("accepted optimae");
            let others = a
                .votes
                .iter()
                .filter(|v| v.evaluator_id != a.optimizer_id)
                .count();
            if others >= 2 {
                count += 1;
            }
        }
    }
    count
}

#[test]
fn nodes_on_libp2p_only_mint_through_quorums_agree_and_a_late_node_syncs() {
    let rt = runtime();
    rt.block_on(async {
        let mut net = TestNet::start(3, &template()).await.expect("network");
        // No HTTP peer anywhere: every peer endpoint is a libp2p one.
        for i in 0..3 {
            let node = net.node(i);
            assert!(node.p2p.is_some(), "node {i} runs libp2p");
        }
        net.wait_for(
            Duration::from_secs(240),
            "an optimae verified by two other nodes, on one chain",
            |views| {
                views.len() == 3
                    && agree(views)
                    && views[0].tip_index >= 3
                    && verified_by_two_others(&net, 0) > 0
            },
        )
        .await
        .expect("consensus over libp2p");
        for i in 0..3 {
            let node = net.node(i);
            let endpoints = node.peers.endpoints();
            assert!(
                endpoints.iter().all(|e| e.starts_with("/p2p/")),
                "node {i} has HTTP peers: {endpoints:?}"
            );
            assert_eq!(endpoints.len(), 2, "node {i}: {endpoints:?}");
            assert!(
                node.net.connected().await.expect("HTTP service").is_empty(),
                "node {i} talks over the HTTP mesh"
            );
            // Honest peers are never scored down for what they gossip.
            for p in node.p2p.as_ref().expect("libp2p").peers().await {
                assert!(p.app_score >= 0.0, "node {i} scored {p:?} down");
            }
        }
        let verified = verified_by_two_others(&net, 0);
        // `/peers` and `/status` show each peer's transport, address and score.
        let api = net.api().expect("HTTP client");
        for i in 0..3 {
            let (_, peers) = api.call(i, "/peers", None).await.expect("/peers");
            let listed = peers["peers"].as_array().expect("peers");
            assert_eq!(listed.len(), 2, "node {i}: {peers}");
            for p in listed {
                assert_eq!(p["transport"], "libp2p", "{p}");
                assert!(
                    p["address"]
                        .as_str()
                        .is_some_and(|a| a.starts_with("/ip4/127.0.0.1/tcp/")),
                    "{p}"
                );
                assert!(p["score"].as_f64().is_some_and(|s| s >= 0.0), "{p}");
            }
            let own = peers["self"]["p2p_addrs"][0]
                .as_str()
                .expect("own multiaddr");
            assert_eq!(own, net.p2p_addr(i).await.expect("address"));
            let (_, status) = api.call(i, "/status", None).await.expect("/status");
            let shown = status["peer_transports"]
                .as_array()
                .expect("peer_transports");
            assert_eq!(shown.len(), 2, "{status}");
            assert!(shown.iter().all(|p| p["transport"] == "libp2p"), "{status}");
        }

        // A node started later, given the others' multiaddrs only, syncs their chain.
        let height = net.node(0).chain.view().tip_index;
        let late = net.add_node(&template()).await.expect("a fourth node");
        net.wait_for(
            Duration::from_secs(120),
            "the late node to hold the chain",
            |views| views.len() == 4 && views[late].tip_index >= height,
        )
        .await
        .expect("the late node syncs");
        let start = std::time::Instant::now();
        while net.common_block(height).expect("stores").is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "the late node's chain never agreed at {height}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let late_peers = net.node(late).peers.endpoints();
        assert!(
            late_peers.iter().all(|e| e.starts_with("/p2p/")),
            "{late_peers:?}"
        );
        eprintln!(
            "libp2p only: {verified} optimae verified by two others by height {height}; \
             the late node synced it"
        );
        for i in 0..net.nodes.len() {
            net.stop(i).await;
        }
    });
}
