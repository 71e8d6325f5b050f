//! Commitment blocks go to the optimizer whose commitment they carry, not to whichever
//! node's stagger comes first (`doin_node::mint_schedule::mint_turns`): on a 4-node
//! in-process network where node 0 alone optimizes and the other three evaluate, every
//! node pools node 0's commitments, yet the commitment blocks of the agreed chain are
//! node 0's. Read from a node's store, as a chain property: with the stagger alone, each
//! of the four nodes minted about a quarter of them (a rival block at most heights).

use std::time::{Duration, Instant};

use doin_consensus::commitment::OptimaeCommitment;
use doin_node::config::NodeConfig;
use doin_node::testnet::{minting_template, runtime, TestNet};
use doin_plugins::PluginRegistry;
use doin_primitives::models::Block;

/// Commitment blocks the test reads from the agreed chain.
const COMMITMENT_BLOCKS: usize = 6;

/// Quorums of one other node and a threshold no optimae reaches: the chain grows by
/// commitment blocks alone, one a target block time (4 s, so that a turn, 0.4 s, is far
/// longer than a block takes to cross loopback on a loaded machine) while the optimizer
/// commits.
fn template() -> NodeConfig {
    let mut c = minting_template(1, 0.5);
    c.target_block_time = 4.0;
    c.initial_threshold = 1_000.0;
    c.network_protocol = "gossipsub".into();
    c
}

/// Whether `block` is a commitment block: commitments and no accepted optimae.
fn is_commitment_block(block: &Block) -> bool {
    let accepted = block.layout().map_or(0, |l| l.accepted.len());
    let commitments = OptimaeCommitment::read_block(block).map_or(0, |c| c.len());
    accepted == 0 && commitments > 0
}

#[test]
fn commitment_blocks_go_to_the_optimizer_whose_commitments_they_carry() {
    runtime().block_on(async {
        let net = TestNet::start_custom(4, &template(), |i, c| {
            if i > 0 {
                for d in &mut c.domains {
                    d.optimize = false;
                }
            }
            PluginRegistry::with_builtins()
        })
        .await
        .expect("network");
        let optimizer = net.identities()[0].peer_id().to_string();
        // The agreed chain (up to the block every node holds two below the lowest node's
        // tip: the newest blocks may still be arriving), read from node 1's store until it
        // holds enough commitment blocks.
        let deadline = Instant::now() + Duration::from_secs(180);
        let blocks =
            loop {
                let lowest = net.views().iter().map(|v| v.height).min().unwrap_or(0) - 2;
                if lowest > 0 && net.common_block(lowest).expect("stores").is_some() {
                    let reader = doin_store::ChainReader::open(&net.data_dir(1).join("chain.db"))
                        .expect("node 1's store");
                    let blocks: Vec<Block> = reader
                        .blocks(1, lowest)
                        .expect("blocks")
                        .into_iter()
                        .filter(is_commitment_block)
                        .collect();
                    if blocks.len() >= COMMITMENT_BLOCKS {
                        break blocks[..COMMITMENT_BLOCKS].to_vec();
                    }
                }
                assert!(
                Instant::now() < deadline,
                "fewer than {COMMITMENT_BLOCKS} commitment blocks agreed on within 180 s; nodes \
                 at {:?}, block {lowest} per node {:?}",
                net.views().iter().map(|v| v.height).collect::<Vec<_>>(),
                (0..4)
                    .map(|i| doin_store::ChainReader::open(&net.data_dir(i).join("chain.db"))
                        .and_then(|r| r.block_hash(lowest)))
                    .collect::<Vec<_>>()
            );
                tokio::time::sleep(Duration::from_millis(200)).await;
            };
        let by_optimizer = blocks
            .iter()
            .filter(|b| b.header.generator_id == optimizer)
            .count();
        eprintln!(
            "{by_optimizer} of {} commitment blocks minted by the optimizer",
            blocks.len()
        );
        // Another node mints one only when the optimizer's block reaches it later than a
        // turn (a tenth of the target block time) and its stagger: two in six are left for
        // a loaded two-core machine. With the stagger alone (each node first about a
        // quarter of the time), 4 of 6 came with odds of 1 in 26, 5 of 6 of 1 in 200.
        assert!(
            by_optimizer + 2 >= blocks.len(),
            "commitment blocks by generator: {:?}",
            blocks
                .iter()
                .map(|b| b.header.generator_id.clone())
                .collect::<Vec<_>>()
        );
        net.shutdown().await;
    });
}
