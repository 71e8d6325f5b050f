//! A minting node under the fake-sync-peer attack: for `DOIN_BENCH_ATTACK_SECS` seconds
//! (default 60) fake peers claiming a billion-block, vastly heavier chain serve ~1.2 MB
//! fabricated blocks above a fork just below the node's tip; each one the node drops is
//! replaced by a fresh one (a new port on the same address, as one signed message or one
//! bootstrap entry would introduce it). Prints peak RSS and `/health` latency while idle
//! and under attack, with the fake peers dropped and the bytes they served.

#[path = "../tests/fake_sync_peer/mod.rs"]
mod fake_sync_peer;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use doin_node::sync::SyncClient;
use doin_node::testnet::minting_template;
use fake_sync_peer::FakeSyncPeer;

/// Resident memory of this process now, in MiB.
fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}

/// Peak RSS and `/health` latencies (sorted) over `secs`, while `during` runs.
struct Watch {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    probe: tokio::task::JoinHandle<Vec<Duration>>,
    sampler: tokio::task::JoinHandle<()>,
}

impl Watch {
    fn start(endpoint: String) -> Watch {
        let (peak, stop) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let sampler = {
            let (peak, stop) = (peak.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_mib(), Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        };
        let probe = {
            let stop = stop.clone();
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut lat = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let ok = client
                        .get(format!("http://{endpoint}/health"))
                        .timeout(Duration::from_secs(10))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    lat.push(if ok { t.elapsed() } else { Duration::MAX });
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                lat.sort();
                lat
            })
        };
        Watch {
            peak,
            stop,
            probe,
            sampler,
        }
    }

    async fn finish(self, label: &str) {
        self.stop.store(true, Ordering::Relaxed);
        let lat = self.probe.await.expect("probe");
        let _ = self.sampler.await;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let p50 = lat.get(lat.len() / 2).copied().unwrap_or_default();
        let max = lat.last().copied().unwrap_or_default();
        println!(
            "{label}: peak RSS {} MiB; /health p50 {:.1} ms, max {:.1} ms over {} probes",
            self.peak.load(Ordering::Relaxed),
            ms(p50),
            ms(max),
            lat.len()
        );
    }
}

fn main() {
    let secs: u64 = std::env::var("DOIN_BENCH_ATTACK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = minting_template(0, 0.1);
    c.initial_threshold = 0.05;
    c.finality_confirmation_depth = 30;
    c.host = "127.0.0.1".into();
    c.port = 0;
    c.data_dir = dir.path().join("victim");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let node = doin_node::node::start(c).await.expect("node");
        let started = Instant::now();
        while node.chain.view().height < 5 {
            assert!(started.elapsed() < Duration::from_secs(120), "no blocks");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let idle = Watch::start(node.endpoint());
        tokio::time::sleep(Duration::from_secs(10)).await;
        idle.finish("idle (10 s)").await;

        let attack = Watch::start(node.endpoint());
        let client = SyncClient::new();
        let (until, height_before) = (
            Instant::now() + Duration::from_secs(secs),
            node.chain.view().height,
        );
        let (mut dropped, mut sent) = (0u32, 0u64);
        while Instant::now() < until {
            let view = node.chain.view();
            let fork = view.tip_index - 1;
            let mut shared = Vec::new();
            let mut from = 1;
            while from <= fork {
                let page = client
                    .blocks(&node.endpoint(), from, (from + 49).min(fork))
                    .await
                    .expect("blocks");
                from += page.len() as i64;
                shared.extend(page);
            }
            let fake = FakeSyncPeer::start([127, 0, 7, 1], &view.params_hash, shared).await;
            node.peers.add(&fake.endpoint);
            while Instant::now() < until && !node.peers.is_dropped(&fake.endpoint) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            dropped += u32::from(node.peers.is_dropped(&fake.endpoint));
            sent += fake.sent();
        }
        let minted = node.chain.view().height - height_before;
        attack.finish(&format!("fake sync peers ({secs} s)")).await;
        println!(
            "fake sync peers: {dropped} dropped at their first fabricated block, {} MiB served, \
             {minted} blocks minted meanwhile",
            sent >> 20
        );
        node.shutdown().await;
    });
}
