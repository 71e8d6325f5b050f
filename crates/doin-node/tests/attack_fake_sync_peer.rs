//! A fake sync peer cannot make a node buffer its fabrications: peers that claim a chain a
//! billion blocks long and vastly heavier, share the victim's blocks up to just below its
//! tip and serve ~1.2 MB fabricated blocks above it (ids, merkle roots and hashes correct,
//! so only consensus refuses them), one after another from one address range. Each is
//! dropped at its first fabricated block, having sent a bounded number of bytes, and its
//! address is charged; the process's memory stays under 200 MB, `/health` answers within
//! 2 s throughout and the node keeps minting.

mod fake_sync_peer;
mod hostile_net;
mod hostile_peer;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use doin_node::chain_service::ImportError;
use doin_node::sync::SyncError;
use doin_node::testnet::TestNet;
use fake_sync_peer::FakeSyncPeer;
use hostile_net::{address_row, peers_json, rss_mib, HealthProbe};
use hostile_peer::{fetch_blocks, runtime, solo_template, wait_for_height, wait_until};

/// Fake peers started one after another.
const ROUNDS: usize = 3;

#[test]
fn a_fake_sync_peer_is_dropped_at_its_first_fabricated_block_and_memory_stays_bounded() {
    runtime().block_on(async {
        // Finality deep enough that a fork just below the tip is weighed, not refused.
        let net = TestNet::start(1, &solo_template(30)).await.expect("node");
        let node = net.node(0);
        wait_for_height(node, 5, Duration::from_secs(60), "a few blocks").await;
        let probe = HealthProbe::start(&node.endpoint());
        let peak = Arc::new(AtomicU64::new(0));
        let sampling = Arc::new(AtomicBool::new(true));
        let sampler = {
            let (peak, sampling) = (peak.clone(), sampling.clone());
            tokio::spawn(async move {
                while sampling.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_mib().0 as u64, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        };
        let before = rss_mib().0;

        for round in 0..ROUNDS {
            let view = node.chain.view();
            let fork = view.tip_index - 1;
            let shared = fetch_blocks(&node.endpoint(), fork).await;
            let fake = FakeSyncPeer::start([127, 0, 7, 1], &view.params_hash, shared).await;
            node.peers.add(&fake.endpoint);
            wait_until(
                Duration::from_secs(60),
                &format!("fake peer {round} to be dropped"),
                || node.peers.is_dropped(&fake.endpoint),
            )
            .await;
            let refusal = node.peers.sync_refusals()[&fake.endpoint].clone();
            match &refusal.last {
                SyncError::Import(ImportError::InvalidBlock { index, .. }) => {
                    assert_eq!(*index, fork + 1, "round {round}: wrong block blamed");
                }
                other => panic!("round {round}: refused for {other}"),
            }
            assert_eq!(refusal.count, 1, "round {round}: synced again after the drop");
            // A page of 50 such blocks is 60 MB, 20 pages 1.2 GB; the node abandons a page
            // at its 8 MiB budget and asks for fewer blocks.
            let sent = fake.sent() as f64 / (1 << 20) as f64;
            eprintln!("round {round}: the fake peer sent {sent:.0} MiB");
            assert!(sent < 64.0, "round {round}: the node read {sent:.0} MiB");
        }
        hostile_net::eventually(Duration::from_secs(10), "the fake peers' address charged", || {
            let ep = node.endpoint();
            async move {
                address_row(&peers_json(&ep).await, "127.0.7.1").is_some_and(|(s, _)| s < 0.0)
            }
        })
        .await;

        let height = node.chain.view().height;
        wait_for_height(node, height + 2, Duration::from_secs(60), "minting on").await;
        sampling.store(false, Ordering::Relaxed);
        sampler.await.expect("sampler");
        let (worst, probes) = probe.finish().await;
        let peak = peak.load(Ordering::Relaxed);
        eprintln!("RSS before {before:.0} MiB, peak {peak} MiB; worst /health {worst:?} over {probes} probes");
        assert!(peak < 200, "peak RSS {peak} MiB");
        assert!(worst < Duration::from_secs(2), "worst /health {worst:?}");
        net.shutdown().await;
    });
}
