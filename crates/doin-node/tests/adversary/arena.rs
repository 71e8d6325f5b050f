//! The arena: honest in-process nodes on one network chain, and what the tests read from
//! and offer to them (chains, keys, endpoints, imports everywhere, landed commitments).

use std::time::{Duration, Instant};

use doin_consensus::accepted::AcceptedOptimae;
use doin_consensus::commitment::OptimaeCommitment;
use doin_consensus::{ChainParams, ChainState};
use doin_node::chain_params::chain_params;
use doin_node::chain_service::ImportOutcome;
use doin_node::config::NodeConfig;
use doin_node::testnet::{describe, minting_template, TestNet};
use doin_primitives::identity::Identity;
use doin_primitives::models::Block;

use super::{Attacker, Http};

/// A network chain with quorums of `k` other nodes that keeps minting for minutes
/// ([`minting_template`], two rounds a second); finality deep enough that a forged block one
/// or two below the tip is still weighed as a fork.
pub fn template(k: u32) -> NodeConfig {
    let mut c = minting_template(k, 0.5);
    c.finality_confirmation_depth = 30;
    c
}

/// Honest nodes on one network chain, and that chain's parameters.
pub struct Arena {
    /// The nodes.
    pub net: TestNet,
    /// The chain's parameters.
    pub params: ChainParams,
}

impl Arena {
    /// Starts `n` honest nodes with quorums of `k` and waits until every node is past
    /// `height` and, when the nodes are more than `k`, the chain is past its bootstrap where
    /// [`Self::settled_chain`] ends, two blocks below the tip: that block's optimae verified
    /// by a full quorum of other nodes only.
    pub async fn start(n: usize, k: u32, height: i64) -> Arena {
        let config = template(k);
        let net = TestNet::start(n, &config).await.expect("network");
        let arena = Arena {
            net,
            params: chain_params(&config),
        };
        let start = Instant::now();
        loop {
            let views = arena.net.views();
            if views.iter().all(|v| v.height > height) {
                let (_, blocks) = arena.chain_of(0);
                // The settled chain holds an optimae (commitment blocks hold none).
                let accepted = blocks
                    .iter()
                    .rev()
                    .skip(2)
                    .any(|b| !accepted_txs(b).is_empty());
                let mature = accepted
                    && (n <= k as usize
                        || blocks.iter().rev().nth(2).is_some_and(|b| {
                            !accepted_txs(b).is_empty()
                                && accepted_txs(b).iter().all(|tx| {
                                    AcceptedOptimae::from_tx(tx).is_ok_and(|a| {
                                        a.votes.len() == k as usize
                                            && a.votes
                                                .iter()
                                                .all(|v| v.evaluator_id != a.optimizer_id)
                                    })
                                })
                        }));
                if mature {
                    return arena;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(40),
                "the arena did not mature: {:?}",
                views.iter().map(|v| describe(v)).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Node `i`'s stored chain replayed through full validation: its state and blocks.
    pub fn chain_of(&self, i: usize) -> (ChainState, Vec<Block>) {
        let reader = doin_store::ChainReader::open(&self.net.data_dir(i).join("chain.db"))
            .expect("chain.db");
        let (tip, _) = reader.tip().expect("tip");
        let blocks = reader.blocks(1, tip).expect("blocks");
        let state = ChainState::replay(self.params.clone(), &blocks).expect("valid chain");
        (state, blocks)
    }

    /// Where an attacker builds: node 0's chain two blocks below its tip, once every node
    /// holds the same block there (a block at the very tip may still lose a race
    /// between honest nodes, taking the attacker's parent with it; on a loaded machine the
    /// tips of a network minting every second may not agree for long); the state there and
    /// the blocks up to it.
    pub async fn settled_chain(&self) -> (ChainState, Vec<Block>) {
        let start = Instant::now();
        loop {
            // Two blocks below node 0's tip (heights count genesis, indices from 0), once
            // every node holds that block (the arena matured on node 0's chain there).
            let index = self.net.views().first().map_or(0, |v| v.height) - 3;
            if index >= 1 && self.net.common_block(index).expect("chain.db").is_some() {
                let (_, mut blocks) = self.chain_of(0);
                // `chain_of` lists blocks from index 1.
                blocks.truncate(usize::try_from(index).expect("index"));
                return (self.state_at(&blocks, blocks.len()), blocks);
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the nodes never settled on one history: {:?}",
                self.net
                    .views()
                    .iter()
                    .map(|v| describe(v))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The state after the first `height` blocks of `blocks`.
    pub fn state_at(&self, blocks: &[Block], height: usize) -> ChainState {
        ChainState::replay(self.params.clone(), &blocks[..height]).expect("valid chain")
    }

    /// Node `i`'s key (for a node that colludes, or whose key was stolen).
    pub fn key_of(&self, i: usize) -> Identity {
        let pem = std::fs::read_to_string(self.net.data_dir(i).join("identity.pem"))
            .expect("identity.pem");
        Identity::from_pem(&pem).expect("key")
    }

    /// Which node holds `peer_id`.
    pub fn index_of(&self, peer_id: &str) -> usize {
        (0..self.net.nodes.len())
            .find(|i| self.net.node(*i).peer_id == peer_id)
            .unwrap_or_else(|| panic!("{peer_id} is no node of the arena"))
    }

    /// HTTP endpoint of node `i`.
    pub fn endpoint(&self, i: usize) -> String {
        self.net.node(i).endpoint()
    }

    /// Hands `blocks` to every node as block sync does; each node's answer.
    pub async fn offer(&self, blocks: &[Block]) -> Vec<Result<ImportOutcome, String>> {
        let mut out = Vec::new();
        for n in self.net.nodes.iter().flatten() {
            out.push(
                n.chain
                    .import(blocks.to_vec())
                    .await
                    .map_err(|e| e.to_string()),
            );
        }
        out
    }

    /// Offers `block` to every node (once each holds its parent's height) and checks each
    /// one refuses it naming `reason`.
    pub async fn refused_everywhere(&self, what: &str, block: Block, reason: &str) {
        let parent = block.header.index - 1;
        self.net
            .wait_for(Duration::from_secs(20), "every node at the parent", |v| {
                v.iter().all(|v| v.tip_index >= parent)
            })
            .await
            .expect("nodes catch up");
        for (i, answer) in self.offer(&[block]).await.into_iter().enumerate() {
            match answer {
                Err(e) if e.contains(reason) => {}
                other => panic!(
                    "{what}: node {i} answered {other:?}, expected a refusal naming {reason:?}"
                ),
            }
        }
    }

    /// Waits until every node is `more` blocks past the highest height now and all hold
    /// the same block there (one history; the newest block may still be raced for).
    pub async fn keeps_minting(&self, more: i64) {
        let h = self.net.views().iter().map(|v| v.height).max().unwrap_or(0);
        self.net
            .wait_for(
                Duration::from_secs(30),
                "honest nodes to keep minting",
                |v| v.iter().all(|v| v.height >= h + more),
            )
            .await
            .expect("honest nodes keep minting");
        self.net
            .wait_for_common_block(h + more - 1, Duration::from_secs(30), "one history")
            .await
            .expect("honest nodes agree on their history");
    }
}

impl Arena {
    /// Puts `commitment` on chain the way an optimizer does: `POST /commitments` to node 0
    /// (which gossips it), then waits until every node's chain carries it at one height,
    /// which it returns.
    pub async fn land(&self, commitment: &OptimaeCommitment) -> u64 {
        let http = Http::new();
        let body = doin_primitives::json::to_wire_json(&commitment.to_value());
        let (status, answer) = http.post(&self.endpoint(0), "/commitments", body).await;
        assert_eq!(status, 200, "commitment refused: {answer}");
        let hash = &commitment.bound_commitment;
        let start = Instant::now();
        loop {
            let mut heights = Vec::new();
            for i in 0..self.net.nodes.len() {
                let url = format!(
                    "http://{}/commitments/{}/{hash}",
                    self.endpoint(i),
                    commitment.optimizer_id
                );
                let at = async {
                    let r = reqwest::get(&url).await.ok()?;
                    if !r.status().is_success() {
                        return None;
                    }
                    r.json::<serde_json::Value>().await.ok()?["height"].as_u64()
                }
                .await;
                heights.push(at);
            }
            if let Some(Some(h)) = heights.first() {
                if heights.iter().all(|x| *x == Some(*h)) {
                    return *h;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "commitment {hash} did not land on every node: {heights:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Arena {
    /// `optimae` with its commitment put on chain by `attacker` ([`Arena::land`]) and its
    /// commit height set to the block that carries it; and where the attacker builds once
    /// the settled chain ([`Arena::settled_chain`]) holds a block above that block: the
    /// state there and the blocks up to it.
    pub async fn committed(
        &self,
        attacker: &Attacker,
        mut optimae: AcceptedOptimae,
    ) -> (AcceptedOptimae, ChainState, Vec<Block>) {
        let at = self.land(&attacker.commitment(&optimae)).await;
        optimae.commit_height = at;
        let start = Instant::now();
        loop {
            let (state, blocks) = self.settled_chain().await;
            if state.height() > at {
                return (optimae, state, blocks);
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the chain did not settle above the commit block {at}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The last optimae on a chain and the height of its block (commitment blocks carry none).
pub fn last_optimae(blocks: &[Block]) -> (usize, AcceptedOptimae) {
    let (i, b) = blocks
        .iter()
        .enumerate()
        .rev()
        .find(|(_, b)| !accepted_txs(b).is_empty())
        .expect("a block with an optimae");
    let a = AcceptedOptimae::from_tx(&accepted_txs(b)[0]).expect("accepted optimae");
    (i + 1, a)
}

/// A block's OPTIMAE_ACCEPTED transactions (the first part of its layout).
pub fn accepted_txs(b: &Block) -> &[doin_primitives::models::Transaction] {
    b.check_layout().expect("block layout").accepted
}
