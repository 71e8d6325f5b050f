//! A peer that forwards invalid blocks over libp2p is scored down by the node's verdicts
//! and, past the ban line, disconnected: the node admits libp2p gossip as it admits a
//! `POST /message` body, and reports what it found to gossipsub. A peer that serves
//! fabricated blocks over `/doin/sync/1` is dropped by the sync loop at the first one and
//! scored down on its authenticated connection.

use std::time::{Duration, Instant};

use doin_net::p2p::{GossipKind, P2pConfig, P2pEvent, P2pNode, SyncRequest, SyncResponse};
use doin_node::api::BlockSource;
use doin_node::chain_service::{ImportError, ReaderPool};
use doin_node::sync::SyncError;
use doin_node::testnet::{minting_template, runtime, TestNet};
use doin_primitives::identity::Identity;
use doin_primitives::models::message::Message;
use doin_primitives::models::payload::{BlockAnnouncement, Payload};
use doin_primitives::models::WireModel;
use doin_primitives::models::{Block, BlockHeader, Transaction, TransactionType};
use doin_primitives::value::Map;
use doin_primitives::Timestamp;

/// A block announcement sealed by `key`, then altered: its seal no longer verifies.
fn forged_announcement(key: &Identity, index: i64) -> Vec<u8> {
    let payload = Payload::BlockAnnouncement(BlockAnnouncement {
        block_index: index,
        block_hash: format!("{index:064x}"),
        previous_hash: format!("{:064x}", index - 1),
        generator_id: key.peer_id().to_string(),
        transaction_count: 0,
        weighted_performance_sum: 1.0,
        threshold: 0.001,
        extra: Map::new(),
    });
    let mut m = Message::new(key.peer_id(), Timestamp::now_utc(), &payload);
    m.sign(key);
    m.payload
        .insert("block_index".into(), (index + 1_000_000).into());
    m.to_wire_json().into_bytes()
}

#[test]
fn a_peer_forwarding_invalid_blocks_over_libp2p_is_scored_down_then_banned() {
    let rt = runtime();
    rt.block_on(async {
        let net = TestNet::start(1, &minting_template(0, 0.5))
            .await
            .expect("a node");
        let node = net.node(0);
        let p2p = node.p2p.clone().expect("libp2p");
        let addr = net.p2p_addr(0).await.expect("its address");

        let key = Identity::generate();
        let mut attacker = P2pNode::start(
            &key,
            P2pConfig {
                bootstrap: vec![addr.parse().expect("multiaddr")],
                discovery: false,
                ..P2pConfig::loopback()
            },
        )
        .expect("the attacker's libp2p node");
        let attacker_id = attacker.handle.local_peer();

        // The first forged block, published once the node is on the topic.
        let start = Instant::now();
        while attacker
            .handle
            .publish(GossipKind::Block, None, forged_announcement(&key, 1))
            .await
            .is_err()
        {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the node never joined the blocks topic"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Scored down by the node's verdict (a bad seal).
        let score = loop {
            let peers = p2p.peers().await;
            if let Some(p) = peers.iter().find(|p| p.peer == attacker_id) {
                if p.app_score < 0.0 {
                    break p.app_score;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the attacker was never scored down: {peers:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(score <= -19.0, "one bad seal costs 20, got {score}");
        // Nothing of it reached the chain, and no sync went to the attacker for it.
        assert!(node.chain.view().tip_index < 1_000_000);

        // Two more, and it is below the ban line: disconnected.
        for index in [2, 3] {
            let _ = attacker
                .handle
                .publish(GossipKind::Block, None, forged_announcement(&key, index))
                .await;
        }
        let deadline = Duration::from_secs(60);
        let banned = tokio::time::timeout(deadline, async {
            while let Some(e) = attacker.events.recv().await {
                if matches!(e, P2pEvent::PeerDisconnected { .. }) {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(banned, Ok(true), "the attacker was never disconnected");
        let start = Instant::now();
        while p2p.peers().await.iter().any(|p| p.peer == attacker_id) {
            assert!(
                start.elapsed() < deadline,
                "the node still lists the attacker"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        attacker.handle.shutdown().await;
        let _ = attacker.task.await;
    });
}

/// A chain sharing `shared` (the victim's blocks `0..=fork`, as stored), then `extra`
/// fabricated blocks on top (ids, merkle root and hash right, so only consensus refuses
/// them), each block's wire JSON.
fn fabricated_chain(shared: Vec<String>, last_hash: &str, extra: i64) -> Vec<Vec<u8>> {
    let fork = shared.len() as i64 - 1;
    let generator = "a".repeat(40);
    let mut payload = Map::new();
    payload.insert("fabricated".into(), true.into());
    let tx = Transaction::new(
        TransactionType::OptimaeAccepted,
        "quadratic",
        generator.clone(),
        payload,
        Timestamp::now_utc(),
    );
    let mut chain: Vec<Vec<u8>> = shared.into_iter().map(String::into_bytes).collect();
    let mut parent = last_hash.to_owned();
    for index in fork + 1..=fork + extra {
        let mut b = Block::new(
            BlockHeader {
                index,
                previous_hash: parent.clone(),
                timestamp: Timestamp::now_utc(),
                merkle_root: String::new(),
                generator_id: generator.clone(),
                weighted_performance_sum: 1e9,
                threshold: 1e-9,
            },
            vec![tx.clone()],
        );
        b.header.merkle_root = b.compute_merkle_root();
        b.hash = b.header.compute_hash();
        parent = b.hash.clone();
        chain.push(b.to_wire_json().into_bytes());
    }
    chain
}

#[test]
fn a_peer_serving_fabricated_blocks_over_libp2p_sync_is_dropped_and_scored_down() {
    let rt = runtime();
    rt.block_on(async {
        let net = TestNet::start(1, &minting_template(0, 0.5))
            .await
            .expect("a node");
        let node = net.node(0);
        let p2p = node.p2p.clone().expect("libp2p");
        net.wait_for(Duration::from_secs(60), "a few blocks", |v| {
            v[0].tip_index >= 3
        })
        .await
        .expect("the node mints");
        // The fake peer shares the node's chain up to just below its tip.
        let view = node.chain.view();
        let fork = view.tip_index - 1;
        let store = ReaderPool::new(&net.data_dir(0).join("chain.db"));
        let shared = store.blocks_json(0, fork).expect("the node's blocks");
        let last_hash = store.block(fork).expect("store").expect("block").hash;
        let chain = fabricated_chain(shared, &last_hash, 60);

        let key = Identity::generate();
        let mut fake = P2pNode::start(
            &key,
            P2pConfig {
                bootstrap: vec![net
                    .p2p_addr(0)
                    .await
                    .expect("address")
                    .parse()
                    .expect("multiaddr")],
                discovery: false,
                ..P2pConfig::loopback()
            },
        )
        .expect("the fake peer's libp2p node");
        let endpoint = format!("/p2p/{}", fake.handle.local_peer());
        let (handle, params_hash) = (fake.handle.clone(), view.params_hash.clone());
        let server = tokio::spawn(async move {
            while let Some(e) = fake.events.recv().await {
                let P2pEvent::SyncRequest { id, request, .. } = e else {
                    continue;
                };
                let response = match request {
                    SyncRequest::Status => SyncResponse::Status(
                        serde_json::json!({
                            "chain_height": 1_000_000_000i64,
                            "tip_hash": "f".repeat(64),
                            "params_hash": params_hash,
                            "cumulative_work": 1e30,
                        })
                        .to_string()
                        .into_bytes(),
                    ),
                    SyncRequest::Blocks { from, to } => SyncResponse::Blocks(
                        chain
                            .iter()
                            .skip(usize::try_from(from).unwrap_or(0))
                            .take(usize::try_from(to - from + 1).unwrap_or(0))
                            .cloned()
                            .collect(),
                    ),
                };
                let _ = handle.answer(id, response).await;
            }
        });

        let start = Instant::now();
        while !node.peers.is_dropped(&endpoint) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the fake peer was never dropped; refusals {:?}",
                node.peers.sync_refusals()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let refusal = node.peers.sync_refusals()[&endpoint].clone();
        match &refusal.last {
            SyncError::Import(ImportError::InvalidBlock { index, .. }) => {
                assert_eq!(*index, fork + 1, "the wrong block blamed");
            }
            other => panic!("refused for {other}"),
        }
        // Scored down on its connection (an invalid block costs 30).
        let peer = fake_peer(&endpoint);
        let score = loop {
            let peers = p2p.peers().await;
            if let Some(p) = peers.iter().find(|p| p.peer == peer) {
                if p.app_score <= -29.0 {
                    break p.app_score;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the fake peer was never scored down: {peers:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        eprintln!(
            "fake sync peer dropped at block {}, score {score}",
            fork + 1
        );
        // The node's chain is its own: nothing fabricated was kept.
        let tip = node.chain.view().tip_index;
        let kept = store.blocks(fork + 1, tip).expect("store");
        assert!(kept.iter().all(|b| b.header.generator_id != "a".repeat(40)));
        server.abort();
    });
}

fn fake_peer(endpoint: &str) -> libp2p::PeerId {
    endpoint
        .trim_start_matches("/p2p/")
        .parse()
        .expect("a peer id")
}
