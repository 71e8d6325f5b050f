//! Measure 6, reputation decayed by chain time: two real nodes (a minter and a follower
//! that syncs from it) report the same reputation table at the same tip, equal to the pure
//! rule replayed over the blocks; the follower, stopped and restarted later on its data
//! directory, reports exactly the table it had at that tip, whatever the wall clock did.

mod hostile_peer;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use doin_consensus::ChainState;
use doin_node::chain_params::chain_params;
use doin_node::chain_service::ChainHandle;
use doin_node::testnet::TestNet;
use hostile_peer::{fetch_blocks, runtime, solo_template, wait_for_height, wait_until};

type Tables = Arc<Mutex<BTreeMap<String, BTreeMap<String, u64>>>>;

/// Records the reputation table a node publishes at each tip.
fn record(chain: &ChainHandle) -> Tables {
    let tables: Tables = Arc::default();
    let mut views = chain.watch();
    let out = tables.clone();
    tokio::spawn(async move {
        loop {
            let v = views.borrow_and_update().clone();
            out.lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(v.tip_hash.clone(), v.reputations.clone());
            if views.changed().await.is_err() {
                return;
            }
        }
    });
    tables
}

fn table_at(tables: &Tables, tip: &str) -> Option<BTreeMap<String, u64>> {
    tables
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(tip)
        .cloned()
}

#[test]
fn reputation_is_the_same_on_every_node_and_after_a_restart() {
    runtime().block_on(async {
        let config = solo_template(3);
        let params = chain_params(&config);
        let mut follower_config = config.clone();
        for d in &mut follower_config.domains {
            d.optimize = false;
            d.evaluate = false;
        }
        let minter = TestNet::start(1, &config).await.expect("minter");
        let mut follower = TestNet::start(1, &follower_config).await.expect("follower");
        let minted = record(&minter.node(0).chain);
        follower.node(0).peers.add(&minter.node(0).endpoint());

        // Same tip, same table, on both nodes.
        let followed = record(&follower.node(0).chain);
        wait_until(
            Duration::from_secs(30),
            "the follower at a tip of 6+",
            || {
                let v = follower.node(0).chain.view();
                v.height > 6 && table_at(&minted, &v.tip_hash).is_some()
            },
        )
        .await;
        let v = follower.node(0).chain.view();
        let table = table_at(&minted, &v.tip_hash).expect("recorded");
        assert!(!table.is_empty(), "no reputation on chain");
        assert_eq!(v.reputations, table, "nodes disagree at tip {}", v.tip_hash);

        // The table is the pure rule over the chain's blocks (decay to the tip's time).
        let blocks = fetch_blocks(&minter.node(0).endpoint(), v.tip_index).await;
        let replayed = ChainState::replay(params.clone(), &blocks).expect("valid chain");
        assert_eq!(replayed.tip_hash(), v.tip_hash);
        assert_eq!(replayed.reputations(), table);

        // Restart the follower, cut off from the minter, a while later.
        let endpoint = minter.node(0).endpoint();
        follower.node(0).peers.block(&endpoint);
        follower.stop(0).await;
        let before = minter.node(0).chain.view().height;
        wait_for_height(
            minter.node(0),
            before + 2,
            Duration::from_secs(20),
            "the minter to move on",
        )
        .await;
        follower.restart(0).await.expect("restart");
        let after = follower.node(0).chain.view();
        let had = table_at(&followed, &after.tip_hash).expect("the follower had this tip");
        assert_eq!(after.reputations, had, "the restart changed reputations");
        let blocks = fetch_blocks(&minter.node(0).endpoint(), after.tip_index).await;
        let replayed = ChainState::replay(params, &blocks).expect("valid chain");
        assert_eq!(replayed.tip_hash(), after.tip_hash);
        assert_eq!(after.reputations, replayed.reputations());
        let status: serde_json::Value =
            reqwest::get(format!("http://{}/status", follower.node(0).endpoint()))
                .await
                .expect("status")
                .json()
                .await
                .expect("json");
        for (peer, micro) in &after.reputations {
            let points = status["security"]["reputations"][peer].as_f64();
            assert_eq!(points, Some(*micro as f64 / 1e6), "/status for {peer}");
        }
        follower.shutdown().await;
        minter.shutdown().await;
    });
}
