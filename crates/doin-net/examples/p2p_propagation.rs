//! Block propagation over the libp2p transport: N in-process nodes on loopback (node i
//! bootstrapped from nodes i-1 and i/2, the rest found by the DHT), M blocks published from rotating nodes,
//! and the time from publish until each other node's validator gets the block, as
//! p50/p95/p99, plus the time until the last node has it and what each node was handed
//! per block (gossipsub drops duplicates before validation: 1.00 means exactly once); also
//! peers per node and the connections opened and dials failed while measuring (set-up still
//! under way competes with gossip for the CPU).
//!
//! `cargo run --release -p doin-net --example p2p_propagation -- [nodes] [blocks] [settle]`
//! (defaults 16, 20 and 0 seconds of settling after every node is connected; on two cores
//! the load average moves the 64-node figures more than anything else).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use doin_net::p2p::{GossipKind, P2pConfig, P2pEvent, P2pHandle, P2pNode};
use doin_net::scoring::Verdict;
use doin_primitives::identity::Identity;
use libp2p::gossipsub::MessageId;
use tokio::sync::mpsc;

/// A delivery: which node got which message when.
type Arrival = (usize, MessageId, Instant);

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Connections established, closed, and dials failed, over all nodes.
static CONNECTED: AtomicUsize = AtomicUsize::new(0);
static DISCONNECTED: AtomicUsize = AtomicUsize::new(0);
static DIAL_FAILED: AtomicUsize = AtomicUsize::new(0);

/// Accepts every gossip message, reports arrivals, and counts subscriptions to blocks.
async fn drive(
    i: usize,
    handle: P2pHandle,
    mut events: mpsc::Receiver<P2pEvent>,
    arrivals: mpsc::Sender<Arrival>,
    subscribed: mpsc::Sender<usize>,
) {
    while let Some(ev) = events.recv().await {
        match ev {
            P2pEvent::Gossip(m) => {
                let at = Instant::now();
                let _ = handle.report(&m, Verdict::Valid).await;
                let _ = arrivals.send((i, m.id, at)).await;
            }
            P2pEvent::PeerSubscribed {
                kind: GossipKind::Block,
                ..
            } => {
                let _ = subscribed.send(i).await;
            }
            P2pEvent::PeerConnected { .. } => {
                CONNECTED.fetch_add(1, Ordering::Relaxed);
            }
            P2pEvent::PeerDisconnected { .. } => {
                DISCONNECTED.fetch_add(1, Ordering::Relaxed);
            }
            P2pEvent::DialFailed { .. } => {
                DIAL_FAILED.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
}

/// Connections established and closed, and dials failed, so far over all nodes.
fn churn() -> (usize, usize, usize) {
    (
        CONNECTED.load(Ordering::Relaxed),
        DISCONNECTED.load(Ordering::Relaxed),
        DIAL_FAILED.load(Ordering::Relaxed),
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(16)
        .max(2);
    let blocks: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(20)
        .max(1);
    // Seconds to let meshes settle (heartbeats, grafts) after every node is connected.
    let settle: f64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(0.0);
    let (arr_tx, mut arr_rx) = mpsc::channel::<Arrival>(65_536);
    let (sub_tx, mut sub_rx) = mpsc::channel::<usize>(65_536);

    let mut handles = Vec::new();
    let mut addrs: Vec<libp2p::Multiaddr> = Vec::new();
    for i in 0..n {
        // A few bootstrap peers each: one node alone could not take them all (34 inbound).
        let mut bootstrap = Vec::new();
        if i > 0 {
            bootstrap.push(addrs[i - 1].clone());
            if i / 2 != i - 1 {
                bootstrap.push(addrs[i / 2].clone());
            }
        }
        // The production heartbeat: loopback's fast one is for tests that wait on meshes.
        let config = P2pConfig {
            bootstrap,
            heartbeat_interval: Duration::from_secs(1),
            discovery_interval: Duration::from_secs(1),
            ..P2pConfig::loopback()
        };
        let mut node = P2pNode::start(&Identity::generate(), config)?;
        let addr = loop {
            match node.events.recv().await {
                Some(P2pEvent::Listening(a)) => break a,
                Some(_) => continue,
                None => return Err("node stopped".into()),
            }
        };
        addrs.push(
            addr.with_p2p(node.handle.local_peer())
                .map_err(|_| "addr")?,
        );
        tokio::spawn(drive(
            i,
            node.handle.clone(),
            node.events,
            arr_tx.clone(),
            sub_tx.clone(),
        ));
        handles.push(node.handle);
    }

    // Ready when every node knows at least min(n-1, 4) subscribers of the block topic.
    let need = (n - 1).min(4);
    let mut subs = vec![0usize; n];
    let started = Instant::now();
    while subs.iter().any(|&s| s < need) {
        let Ok(i) = tokio::time::timeout(Duration::from_secs(120), sub_rx.recv()).await else {
            let short = subs.iter().filter(|&&s| s < need).count();
            return Err(format!("{short} nodes still know fewer than {need} subscribers").into());
        };
        let i = i.ok_or("stopped")?;
        subs[i] += 1;
    }
    println!(
        "{n} nodes connected in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let mut peer_counts = Vec::new();
    for h in &handles {
        peer_counts.push(h.peers().await.len());
    }
    peer_counts.sort();
    println!(
        "peers per node: min {}, median {}, max {}",
        peer_counts[0],
        peer_counts[n / 2],
        peer_counts[n - 1]
    );

    tokio::time::sleep(Duration::from_secs_f64(settle)).await;
    let before = churn();
    let measuring = Instant::now();

    let mut latencies = Vec::new();
    let mut to_all = Vec::new();
    let mut per_node_copies = Vec::new();
    for b in 0..blocks {
        let from = b % n;
        let data = format!("block {b} from node {from}").into_bytes();
        let sent = Instant::now();
        let id = handles[from]
            .publish(GossipKind::Block, None, data)
            .await
            .map_err(|e| format!("publish: {e}"))?;
        let mut got: HashMap<usize, usize> = HashMap::new();
        let mut last = sent;
        while got.len() < n - 1 {
            let Ok(arrival) = tokio::time::timeout(Duration::from_secs(60), arr_rx.recv()).await
            else {
                for (i, h) in handles.iter().enumerate() {
                    if i != from && !got.contains_key(&i) {
                        let peers = h.peers().await;
                        let scores: Vec<String> = peers
                            .iter()
                            .map(|p| format!("{:.1}", p.gossip_score))
                            .collect();
                        eprintln!(
                            "node {i} missed it: {} peers, scores {scores:?}",
                            peers.len()
                        );
                    }
                }
                return Err(format!("block {b}: {} of {} nodes got it", got.len(), n - 1).into());
            };
            let (node, mid, at) = arrival.ok_or("stopped")?;
            if mid != id {
                continue;
            }
            let copies = got.entry(node).or_insert(0);
            *copies += 1;
            if *copies == 1 {
                latencies.push(at - sent);
                last = last.max(at);
            }
        }
        to_all.push(last - sent);
        per_node_copies.push(got.values().sum::<usize>() as f64 / (n - 1) as f64);
    }
    latencies.sort();
    to_all.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "per node (n={}): p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
        latencies.len(),
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.95)),
        ms(percentile(&latencies, 0.99))
    );
    println!(
        "to all {} nodes: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
        n - 1,
        ms(percentile(&to_all, 0.50)),
        ms(percentile(&to_all, 0.95)),
        ms(percentile(&to_all, 0.99))
    );
    let after = churn();
    println!(
        "while measuring ({:.1} s): {} connections opened, {} closed, {} dials failed",
        measuring.elapsed().as_secs_f64(),
        after.0 - before.0,
        after.1 - before.1,
        after.2 - before.2
    );
    let mean_copies = per_node_copies.iter().sum::<f64>() / per_node_copies.len() as f64;
    println!("messages handed to each node's validator per block: {mean_copies:.2}");
    for h in &handles {
        h.shutdown().await;
    }
    Ok(())
}
