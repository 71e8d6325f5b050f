//! Blocks travel with their announcement on libp2p (`doin_node::block_gossip`): a node
//! imports a block that extends its tip straight from the gossip, with no sync round trip,
//! and a pushed block that breaks a rule costs the peer that sent it.
//!
//! The peer here is a bare libp2p node driven by the test: it answers no sync request, so
//! a block can reach the doin node only inside the announcement. The doin node neither
//! optimizes nor holds commitments, so it mints nothing of its own.

use std::time::{Duration, Instant};

use doin_consensus::commitment::OptimaeCommitment;
use doin_consensus::ChainState;
use doin_net::p2p::{GossipKind, P2pConfig, P2pNode};
use doin_node::block_gossip::BLOCK_KEY;
use doin_node::chain_params::chain_params;
use doin_node::testnet::{minting_template, runtime, TestNet};
use doin_primitives::identity::Identity;
use doin_primitives::models::message::Message;
use doin_primitives::models::payload::{BlockAnnouncement, Payload};
use doin_primitives::models::{Block, WireModel};
use doin_primitives::seal::SealKind;
use doin_primitives::value::Map;
use doin_primitives::Timestamp;

const DEADLINE: Duration = Duration::from_secs(60);

/// `key`'s sealed announcement of `block`, carrying it.
fn announcement(key: &Identity, block: &Block) -> Vec<u8> {
    let mut extra = Map::new();
    extra.insert(BLOCK_KEY.to_owned(), block.to_value());
    let payload = Payload::BlockAnnouncement(BlockAnnouncement {
        block_index: block.header.index,
        block_hash: block.hash.clone(),
        previous_hash: block.header.previous_hash.clone(),
        generator_id: block.header.generator_id.clone(),
        transaction_count: block.transactions.len() as i64,
        weighted_performance_sum: block.header.weighted_performance_sum,
        threshold: block.header.threshold,
        extra,
    });
    let mut m = Message::new(key.peer_id(), Timestamp::now_utc(), &payload);
    m.sign(key);
    m.to_wire_json().into_bytes()
}

/// A commitment block by `key` on the tip of `state`, stamped `at`: valid by every rule
/// once `at` is a target block time after the tip.
fn commitment_block(state: &ChainState, key: &Identity, domain: &str, at: Timestamp) -> Block {
    let hash = doin_primitives::hash::sha256_hex(format!("candidate at height {}", state.height()));
    let c = OptimaeCommitment::sealed(key, domain, &hash, at);
    state
        .build_block_with_commitments(key, Vec::new(), Vec::new(), Vec::new(), &[c], at)
        .expect("a commitment block")
}

#[test]
fn a_pushed_block_is_imported_without_a_sync_and_a_broken_one_costs_its_sender() {
    let rt = runtime();
    rt.block_on(async {
        let mut template = minting_template(0, 0.5);
        for d in &mut template.domains {
            d.optimize = false;
        }
        let domain = template.domains[0].domain_id.clone();
        let mut state = ChainState::new(chain_params(&template));
        let net = TestNet::start(1, &template).await.expect("a node");
        let node = net.node(0);
        let p2p = node.p2p.clone().expect("libp2p");
        let addr = net.p2p_addr(0).await.expect("its address");

        let key = Identity::generate();
        let peer = P2pNode::start(
            &key,
            P2pConfig {
                bootstrap: vec![addr.parse().expect("multiaddr")],
                discovery: false,
                ..P2pConfig::loopback()
            },
        )
        .expect("the peer's libp2p node");
        let peer_id = peer.handle.local_peer();

        // A valid block on the node's tip: imported from the announcement alone (the
        // peer answers no sync request).
        let block = commitment_block(&state, &key, &domain, Timestamp::now_utc());
        let mut views = node.chain.watch();
        let start = Instant::now();
        while peer
            .handle
            .publish(GossipKind::Block, None, announcement(&key, &block))
            .await
            .is_err()
        {
            assert!(
                start.elapsed() < DEADLINE,
                "the node never joined the blocks topic"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let adopted =
            tokio::time::timeout(DEADLINE, views.wait_for(|v| v.tip_hash == block.hash)).await;
        assert!(
            matches!(adopted, Ok(Ok(_))),
            "the pushed block was not imported: tip {}",
            node.chain.view().tip_hash
        );

        // A block on that tip that breaks a rule (its threshold altered, the hash and
        // seal made right again): it passes the stateless checks, the chain refuses it.
        state.apply_block(&block).expect("the pushed block applies");
        // Stamped two block times later (within the drift a validator allows), so that
        // only the altered threshold is wrong with it.
        let at = Timestamp::from_unix_micros(state.tip_time_micros() + 2_000_000);
        let mut broken = commitment_block(&state, &key, &domain, at);
        broken.header.threshold *= 2.0;
        broken.hash = broken.header.compute_hash();
        broken.seal = Some(key.seal(SealKind::Block, &broken.hash));
        peer.handle
            .publish(GossipKind::Block, None, announcement(&key, &broken))
            .await
            .expect("published");
        let score = loop {
            let peers = p2p.peers().await;
            if let Some(p) = peers.iter().find(|p| p.peer == peer_id) {
                if p.app_score < 0.0 {
                    break p.app_score;
                }
            }
            assert!(
                start.elapsed() < DEADLINE,
                "the sender was never scored down: {peers:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // One valid block earned 1, the invalid one costs 30.
        assert!(score <= -28.0, "an invalid block costs 30, got {score}");
        assert_eq!(
            node.chain.view().tip_hash,
            block.hash,
            "the broken block was kept"
        );
        peer.handle.shutdown().await;
        let _ = peer.task.await;
        net.shutdown().await;
    });
}
