//! A hostile peer for adversarial tests: a small HTTP server on `127.0.0.1:0` that serves
//! `/chain/status` and `/chain/blocks` as a node does, but from whatever chain the test
//! hands it (forged, heavier-but-invalid, or below the victim's finality), plus helpers to
//! build such chains with the real consensus code and to drive a real node.
#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::Router;
use doin_consensus::accepted::{AcceptedOptimae, Experiment, Reveal};
use doin_consensus::commitment::OptimaeCommitment;
use doin_consensus::{ChainParams, ChainState, QuorumVote};
use doin_node::config::NodeConfig;
use doin_node::node::RunningNode;
use doin_node::sync::SyncClient;
pub use doin_node::testnet::runtime;
use doin_node::testnet::{describe, minting_template};
use doin_primitives::identity::Identity;
use doin_primitives::models::{Block, WireModel};
use doin_primitives::value::{Map, Value};
use doin_primitives::Timestamp;

/// The domain every test chain uses.
pub const DOMAIN: &str = "quadratic";

/// A solo chain (quorums of one) that mints a block every second or so and does not run
/// out of improvements for minutes, with finality `depth` blocks deep.
///
/// [`minting_template`] at ten rounds a second (the default 10 parameters at 50 rounds a
/// second converged within a few seconds and stopped the chain), a block needing 5 % of the
/// best loss.
pub fn solo_template(depth: u32) -> NodeConfig {
    let mut c = minting_template(0, 0.1);
    c.initial_threshold = 0.05;
    c.finality_confirmation_depth = depth;
    c
}

#[derive(Clone)]
struct Served {
    params_hash: String,
    /// Blocks 1..; genesis is implicit.
    blocks: Arc<RwLock<Vec<Block>>>,
    /// The fork-choice weight `/chain/status` claims, if any.
    claimed_work: Arc<RwLock<Option<f64>>>,
    /// The finalized height `/chain/status` claims, if any.
    claimed_finalized: Arc<RwLock<Option<i64>>>,
}

/// The hostile peer's server.
pub struct HostilePeer {
    /// `127.0.0.1:<port>`.
    pub endpoint: String,
    served: Served,
    task: tokio::task::JoinHandle<()>,
}

#[derive(serde::Deserialize)]
struct Range {
    from: i64,
    to: i64,
}

async fn chain_status(State(s): State<Served>) -> String {
    let blocks = s.blocks.read().unwrap_or_else(|p| p.into_inner());
    let tip = blocks
        .last()
        .map_or(Block::genesis().hash, |b| b.hash.clone());
    let mut status = serde_json::json!({
        "chain_height": blocks.len() + 1,
        "tip_hash": tip,
        "params_hash": s.params_hash,
    });
    if let Some(w) = *s.claimed_work.read().unwrap_or_else(|p| p.into_inner()) {
        status["cumulative_work"] = w.into();
    }
    if let Some(f) = *s
        .claimed_finalized
        .read()
        .unwrap_or_else(|p| p.into_inner())
    {
        status["finalized_height"] = f.into();
    }
    status.to_string()
}

async fn chain_blocks(State(s): State<Served>, Query(r): Query<Range>) -> String {
    let blocks = s.blocks.read().unwrap_or_else(|p| p.into_inner());
    let genesis = Block::genesis();
    let wire: Vec<String> = (r.from.max(0)..=r.to.min(r.from + 49))
        .filter_map(|i| match i {
            0 => Some(&genesis),
            i => blocks.get(usize::try_from(i - 1).ok()?),
        })
        .map(WireModel::to_wire_json)
        .collect();
    format!("{{\"blocks\":[{}]}}", wire.join(","))
}

impl HostilePeer {
    /// Starts serving an empty chain (genesis only) for a network of `params_hash`.
    pub async fn start(params_hash: &str) -> HostilePeer {
        let served = Served {
            params_hash: params_hash.to_owned(),
            blocks: Arc::default(),
            claimed_work: Arc::default(),
            claimed_finalized: Arc::default(),
        };
        let app = Router::new()
            .route("/chain/status", get(chain_status))
            .route("/chain/blocks", get(chain_blocks))
            .with_state(served.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let endpoint = listener.local_addr().expect("addr").to_string();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        HostilePeer {
            endpoint,
            served,
            task,
        }
    }

    /// Claims this fork-choice weight in `/chain/status` from now on.
    pub fn claim_work(&self, work: f64) {
        *self
            .served
            .claimed_work
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(work);
    }

    /// Claims this finalized height in `/chain/status` from now on.
    pub fn claim_finalized(&self, height: i64) {
        *self
            .served
            .claimed_finalized
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(height);
    }

    /// Serves `blocks` (heights 1..) from now on.
    pub fn serve(&self, blocks: Vec<Block>) {
        *self
            .served
            .blocks
            .write()
            .unwrap_or_else(|p| p.into_inner()) = blocks;
    }
}

impl Drop for HostilePeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A node's blocks `1..=to`, fetched over its API as a peer would.
pub async fn fetch_blocks(endpoint: &str, to: i64) -> Vec<Block> {
    let client = SyncClient::new();
    let mut out = Vec::new();
    let mut from = 1;
    while from <= to {
        let page = client
            .blocks(endpoint, from, (from + 49).min(to))
            .await
            .expect("blocks");
        assert!(!page.is_empty(), "{endpoint} has no block {from}");
        from += page.len() as i64;
        out.extend(page);
    }
    out
}

/// Valid blocks minted by `forger` on top of `prefix` (heights 1.. of a chain with
/// `params`), one target block time apart: a commitment block carrying the commitments of
/// the next block's optimae, then `n` blocks each holding as many optimae as its threshold
/// needs, each doubling the domain's best (the largest increment a rule allows), each
/// verified by the forger itself as a solo chain's quorum of one, and at least `min_txs`
/// optimae; each block also carries the commitments of the next one's. Every block is
/// valid, and a branch of them outweighs an honest chain of the same length (with a larger
/// `min_txs`, a longer one).
pub fn mint_on(
    params: &ChainParams,
    prefix: &[Block],
    forger: &Identity,
    n: usize,
    min_txs: usize,
) -> Vec<Block> {
    let mut state = ChainState::replay(params.clone(), prefix).expect("the prefix is valid");
    let higher = params.domain(DOMAIN).expect("domain").higher_is_better;
    let spacing = (params.target_block_time_secs * 1e6) as i64;
    // Optimae `k` reveals `{"forged": k}` under nonce `k`; a block commits to the next
    // block's candidates, `batch` of them (each doubles the best, so a few more than
    // `min_txs` reach any threshold; every commitment costs a signature and its check).
    let batch = i64::try_from(min_txs).unwrap_or(60) + 4;
    let reveal_of = |k: i64, perf: f64, commit_height: u64, timestamp: Timestamp| {
        let mut parameters = Map::new();
        parameters.insert("forged".into(), Value::Int(k));
        Reveal {
            domain_id: DOMAIN.into(),
            parameters,
            nonce: format!("{k:032x}"),
            reported_performance: perf,
            commit_height,
            timestamp,
        }
    };
    let commitments = |from: i64, ts: Timestamp| -> Vec<OptimaeCommitment> {
        (from..from + batch)
            .map(|k| {
                let hash = reveal_of(k, 0.0, 0, ts).commitment_hash();
                OptimaeCommitment::sealed(forger, DOMAIN, &hash, ts)
            })
            .collect()
    };
    let ts = Timestamp::from_unix_micros(state.tip_time_micros() + spacing);
    let lead = state
        .build_block_with_commitments(
            forger,
            Vec::new(),
            Vec::new(),
            Vec::new(),
            &commitments(1, ts),
            ts,
        )
        .expect("commitment block");
    state.apply_block(&lead).expect("valid");
    let mut out = vec![lead];
    // The next candidate, and the first of the batch committed in the last block.
    let mut k = 0i64;
    let mut batch_start = 1i64;
    for _ in 0..n {
        let ts = Timestamp::from_unix_micros(state.tip_time_micros() + spacing);
        let mut best = state.domain(DOMAIN).and_then(|d| d.best).unwrap_or(0.0);
        let mut txs = Vec::new();
        k = k.max(batch_start - 1);
        while txs.len() < min_txs
            || state.pending_sum_at(&txs, ts.unix_micros()).expect("valid") < state.next_threshold()
        {
            assert!(k + 1 < batch_start + batch, "cannot reach the threshold");
            k += 1;
            let gain = best.abs().max(1.0);
            let perf = if higher { best + gain } else { best - gain };
            let reveal = reveal_of(k, perf, state.height(), ts);
            let commitment = reveal.commitment_hash();
            let seed = state
                .synthetic_seed_for(&commitment, DOMAIN, forger.peer_id(), state.height())
                .expect("seed");
            let vote = QuorumVote {
                optimae_id: reveal.optimae_id(forger.peer_id()),
                domain_id: DOMAIN.into(),
                evaluator_id: forger.peer_id().to_string(),
                verified_performance: perf,
                synthetic_seed: seed,
                synthetic_data_hash: String::new(),
                timestamp: ts,
                seal: None,
            }
            .sealed(forger);
            let votes = vec![vote];
            let scoring = state
                .score_optimae_after(&txs, &reveal, forger.peer_id(), &votes, ts.unix_micros())
                .expect("scoring");
            txs.push(AcceptedOptimae::build(
                forger,
                &reveal,
                &scoring,
                &votes,
                &Experiment::default(),
            ));
            best = perf;
        }
        batch_start += batch;
        let block = state
            .build_block_with_commitments(
                forger,
                txs,
                Vec::new(),
                Vec::new(),
                &commitments(batch_start, ts),
                ts,
            )
            .expect("block");
        state.apply_block(&block).expect("valid");
        out.push(block);
    }
    out
}

/// Waits (polling every 50 ms) until `pred` holds, or panics after `timeout`.
pub async fn wait_until(timeout: Duration, what: &str, mut pred: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !pred() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `node` is at `height` or higher, or panics after `timeout` with its view.
pub async fn wait_for_height(node: &RunningNode, height: i64, timeout: Duration, what: &str) {
    let start = std::time::Instant::now();
    loop {
        let view = node.chain.view();
        if view.height >= height {
            return;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out waiting for {what} (height {height}): {}",
            describe(&view)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the node at `endpoint` holds `block` at its height, or panics after
/// `timeout`.
pub async fn wait_for_block(endpoint: &str, block: &Block, timeout: Duration) {
    assert!(
        holds_block_within(endpoint, block, timeout).await,
        "{endpoint} never held block {} {}",
        block.header.index,
        block.hash
    );
}

/// Whether the node at `endpoint` holds `block` at its height within `timeout`.
pub async fn holds_block_within(endpoint: &str, block: &Block, timeout: Duration) -> bool {
    let client = SyncClient::new();
    let i = block.header.index;
    let start = std::time::Instant::now();
    while start.elapsed() < timeout {
        if let Ok(found) = client.blocks(endpoint, i, i).await {
            if found.first().is_some_and(|b| b.hash == block.hash) {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
