//! The adversary of the attack tests: an in-process network of honest nodes (the arena) and
//! an attacker identity that crafts and seals commitments, reveals, votes and blocks, hands
//! blocks to every node the way block sync does (`ChainHandle::import`, which validates them
//! exactly as a peer's blocks), talks to the nodes' task API over HTTP as a remote evaluator
//! does, and can serve tasks of its own to honest evaluators (a [`TaskServer`]).
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use doin_consensus::accepted::AcceptedOptimae;
use doin_consensus::commitment::OptimaeCommitment;
use doin_consensus::vote::VoteSubject;
use doin_consensus::{ChainParams, ChainState, QuorumVote};
use doin_node::chain_params::chain_params;
use doin_node::chain_service::ImportOutcome;
use doin_node::config::NodeConfig;
use doin_node::task_queue::{QueuedTask, TaskQueue};
pub use doin_node::testnet::runtime;
use doin_node::testnet::{describe, minting_template, TestNet};
use doin_primitives::identity::Identity;
use doin_primitives::merkle::merkle_root;
use doin_primitives::models::{Block, BlockHeader, Transaction};
use doin_primitives::seal::SealKind;
use doin_primitives::value::Value;
use doin_primitives::Timestamp;

/// The domain the arena optimizes.
pub const DOMAIN: &str = "quadratic";

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

/// An attacker: a key of its own, never seen on chain.
pub struct Attacker {
    /// Its identity.
    pub id: Identity,
}

impl Default for Attacker {
    fn default() -> Self {
        Self::new()
    }
}

impl Attacker {
    /// A fresh attacker.
    pub fn new() -> Self {
        Attacker {
            id: Identity::generate(),
        }
    }

    /// Its peer id.
    pub fn peer_id(&self) -> &str {
        self.id.peer_id()
    }

    /// A block on top of `state` carrying `txs`, sealed by the attacker, with the header an
    /// honest generator would write (height, parent, time, merkle root, threshold) and the
    /// weighted sum the transactions claim. Nothing in the transactions is checked.
    pub fn forge_block(&self, state: &ChainState, txs: Vec<Transaction>) -> Block {
        let time = Timestamp::now_utc()
            .unix_micros()
            .max(state.tip_time_micros() + 1);
        self.forge_block_at(state, txs, time)
    }

    /// As [`Attacker::forge_block`], dated `time` (µs since the epoch): one second after
    /// the parent keeps the chain out of a stall, so the quorum is the plain
    /// `ChainState::quorum_for` one whenever the parent is.
    pub fn forge_block_at(&self, state: &ChainState, txs: Vec<Transaction>, time: i64) -> Block {
        let sum = txs
            .iter()
            .filter_map(|tx| AcceptedOptimae::from_tx(tx).ok())
            .map(|a| a.effective_increment)
            .sum();
        let ids: Vec<String> = txs.iter().map(Transaction::compute_id).collect();
        let header = BlockHeader {
            index: state.height() as i64 + 1,
            previous_hash: state.tip_hash().to_owned(),
            timestamp: Timestamp::from_unix_micros(time),
            merkle_root: merkle_root(&ids),
            generator_id: self.peer_id().to_owned(),
            weighted_performance_sum: sum,
            threshold: state.next_threshold(),
        };
        let mut block = Block::new(header, txs);
        block.seal = Some(self.id.seal(SealKind::Block, &block.hash));
        block
    }

    /// `optimae` as the attacker's own: its optimizer id, a fresh optimae id and timestamp,
    /// sealed by the attacker.
    pub fn own(&self, optimae: &AcceptedOptimae) -> AcceptedOptimae {
        let timestamp = Timestamp::now_utc();
        AcceptedOptimae {
            optimizer_id: self.peer_id().to_owned(),
            optimae_id: doin_consensus::accepted::optimae_id(
                &optimae.domain_id,
                self.peer_id(),
                &optimae.parameters,
                &timestamp,
            ),
            timestamp,
            ..optimae.clone()
        }
    }

    /// `optimae` as the attacker's own (see [`Self::own`]) with `parameters`, a fresh nonce
    /// and its commitment, committed at `commit_height`, without votes.
    pub fn commit(
        &self,
        optimae: &AcceptedOptimae,
        parameters: doin_primitives::value::Map,
        commit_height: u64,
    ) -> AcceptedOptimae {
        let mut bytes = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
        let nonce = hex::encode(bytes);
        let mut mine = self.own(&AcceptedOptimae {
            parameters,
            ..optimae.clone()
        });
        mine.commitment_hash =
            doin_consensus::reference::compute_commitment(&mine.parameters, &nonce);
        mine.nonce = nonce;
        mine.commit_height = commit_height;
        mine.votes = Vec::new();
        mine
    }

    /// The attacker's sealed commitment to `optimae`'s commitment hash (for
    /// [`Arena::land`]).
    pub fn commitment(&self, optimae: &AcceptedOptimae) -> OptimaeCommitment {
        OptimaeCommitment::sealed(
            &self.id,
            &optimae.domain_id,
            &optimae.commitment_hash,
            Timestamp::now_utc(),
        )
    }

    /// The transaction carrying `optimae`, sealed by the attacker.
    pub fn seal(&self, optimae: &AcceptedOptimae) -> Transaction {
        optimae.to_tx(&self.id)
    }
}

/// A vote of `evaluator_id` on `subject` measuring `performance`, with the synthetic seed
/// the rule gives that evaluator, sealed by `signer`.
pub fn vote(
    signer: &Identity,
    evaluator_id: &str,
    subject: &VoteSubject<'_>,
    performance: f64,
) -> QuorumVote {
    QuorumVote {
        optimae_id: subject.optimae_id.to_owned(),
        domain_id: subject.domain_id.to_owned(),
        evaluator_id: evaluator_id.to_owned(),
        verified_performance: performance,
        synthetic_seed: doin_consensus::quorum::synthetic_seed(
            subject.commitment_hash,
            subject.domain_id,
            evaluator_id,
            subject.seed_block_hash,
        ),
        synthetic_data_hash: String::new(),
        timestamp: Timestamp::now_utc(),
        seal: None,
    }
    .sealed(signer)
}

/// What the votes on `optimae` must be about, its seeds derived from `seed_block_hash`.
pub fn subject<'a>(optimae: &'a AcceptedOptimae, seed_block_hash: &'a str) -> VoteSubject<'a> {
    VoteSubject {
        optimae_id: &optimae.optimae_id,
        domain_id: &optimae.domain_id,
        commitment_hash: &optimae.commitment_hash,
        seed_block_hash,
    }
}

/// What the votes on a queued verification task must be about.
pub fn task_subject(task: &QueuedTask) -> VoteSubject<'_> {
    VoteSubject {
        optimae_id: &task.optimae_id,
        domain_id: &task.domain_id,
        commitment_hash: &task.commitment_hash,
        seed_block_hash: &task.seed_block_hash,
    }
}

/// The claim `requester` seals on `optimae` (its reveal and the stake an honest optimizer
/// names at `base_fee`).
pub fn claim_of(
    optimae: &AcceptedOptimae,
    requester: &Identity,
    base_fee: u64,
) -> doin_consensus::rejection::OptimaeClaim {
    let reveal = doin_consensus::accepted::Reveal {
        domain_id: optimae.domain_id.clone(),
        parameters: optimae.parameters.clone(),
        nonce: optimae.nonce.clone(),
        reported_performance: optimae.reported_performance,
        commit_height: optimae.commit_height,
        timestamp: optimae.timestamp,
    };
    doin_consensus::rejection::OptimaeClaim::sealed(
        requester,
        &reveal,
        doin_consensus::rejection::claim_stake(base_fee),
    )
}

/// The verification task `requester` queues for `optimae` (one task for the whole
/// `quorum`), its seeds derived from `seed_block_hash`, with `requester`'s sealed claim.
pub fn verification_task(
    optimae: &AcceptedOptimae,
    requester: &Identity,
    seed_block_hash: &str,
    quorum: &[String],
) -> QueuedTask {
    let requester_id = requester.peer_id();
    let claim = claim_of(optimae, requester, doin_consensus::fee_market::MIN_BASE_FEE);
    QueuedTask {
        id: doin_primitives::hash::sha256_hex(format!("{}:{requester_id}", optimae.optimae_id)),
        kind: doin_node::task_queue::TaskKind::OptimaeVerification,
        domain_id: optimae.domain_id.clone(),
        state: doin_node::task_queue::TaskState::Pending,
        requester_id: requester_id.to_owned(),
        evaluator_id: None,
        parameters: optimae.parameters.clone(),
        optimae_id: optimae.optimae_id.clone(),
        reported_performance: Some(optimae.reported_performance),
        created_at: Timestamp::now_utc(),
        claimed_at: None,
        completed_at: None,
        priority: 0,
        verified_performance: None,
        commitment_hash: optimae.commitment_hash.clone(),
        seed_block_hash: seed_block_hash.to_owned(),
        quorum: quorum.to_vec(),
        claim: Some(claim.to_value()),
    }
}

/// The HTTP side of a remote evaluator.
pub struct Http(reqwest::Client);

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

impl Http {
    /// A client with short timeouts.
    pub fn new() -> Self {
        Http(
            reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("client"),
        )
    }

    /// `GET /tasks/pending` of `endpoint`.
    pub async fn pending(&self, endpoint: &str) -> Vec<QueuedTask> {
        let url = format!("http://{endpoint}/tasks/pending?domains={DOMAIN}&limit=50");
        let Ok(resp) = self.0.get(url).send().await else {
            return Vec::new();
        };
        let text = resp.text().await.unwrap_or_default();
        let Ok(v) = doin_primitives::json::parse(&text) else {
            return Vec::new();
        };
        v.as_object()
            .and_then(|m| m.get("tasks"))
            .and_then(Value::as_array)
            .map(|l| l.iter().filter_map(QueuedTask::from_value).collect())
            .unwrap_or_default()
    }

    /// Waits (bounded) for a pending verification task with a quorum on any of `endpoints`,
    /// other than those in `seen` (to which it is added).
    pub async fn next_quorum_task(
        &self,
        endpoints: &[String],
        seen: &mut std::collections::BTreeSet<String>,
    ) -> (String, QueuedTask) {
        self.next_task(endpoints, seen, true).await
    }

    /// As [`Self::next_quorum_task`], for a task with (`quorum`) or without a quorum (an
    /// open task of a young chain).
    pub async fn next_task(
        &self,
        endpoints: &[String],
        seen: &mut std::collections::BTreeSet<String>,
        quorum: bool,
    ) -> (String, QueuedTask) {
        let start = Instant::now();
        loop {
            for e in endpoints {
                if let Some(t) = self
                    .pending(e)
                    .await
                    .into_iter()
                    .find(|t| t.quorum.is_empty() != quorum && !seen.contains(&t.id))
                {
                    seen.insert(t.id.clone());
                    return (e.clone(), t);
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no verification task seen"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// POSTs `body` to `path` of `endpoint`: the status and the JSON answer.
    pub async fn post(&self, endpoint: &str, path: &str, body: String) -> (u16, serde_json::Value) {
        let resp = self
            .0
            .post(format!("http://{endpoint}{path}"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the node answers");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or_default())
    }

    /// `POST /tasks/claim` in the name of `evaluator_id`.
    pub async fn claim(
        &self,
        endpoint: &str,
        task_id: &str,
        evaluator_id: &str,
    ) -> (u16, serde_json::Value) {
        let body = serde_json::json!({"task_id": task_id, "evaluator_id": evaluator_id});
        self.post(endpoint, "/tasks/claim", body.to_string()).await
    }

    /// `POST /tasks/complete` in the name of `evaluator_id` with `vote`.
    pub async fn complete(
        &self,
        endpoint: &str,
        task_id: &str,
        evaluator_id: &str,
        vote: &QuorumVote,
    ) -> (u16, serde_json::Value) {
        let body = format!(
            r#"{{"task_id":{},"evaluator_id":{},"verified_performance":{},"vote":{}}}"#,
            serde_json::Value::from(task_id),
            serde_json::Value::from(evaluator_id),
            doin_primitives::json::to_wire_json(&vote.verified_performance.into()),
            doin_primitives::json::to_wire_json(&vote.to_value()),
        );
        self.post(endpoint, "/tasks/complete", body).await
    }
}

/// The attacker's own node front: a task queue served on the node API's routes, from which
/// honest evaluators pull verification tasks once they know its endpoint.
pub struct TaskServer {
    /// `127.0.0.1:port`.
    pub endpoint: String,
    /// The queue it serves.
    pub queue: Arc<TaskQueue>,
    server: tokio::task::JoinHandle<()>,
}

struct NoBlocks;

impl doin_node::api::BlockSource for NoBlocks {
    fn blocks(&self, _: i64, _: i64) -> Result<Vec<Block>, String> {
        Ok(Vec::new())
    }

    fn block(&self, _: i64) -> Result<Option<Block>, String> {
        Ok(None)
    }
}

impl TaskServer {
    /// Serves an empty queue on a free loopback port.
    pub async fn start() -> TaskServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let endpoint = listener.local_addr().expect("addr").to_string();
        let queue = Arc::new(TaskQueue::new());
        let (_, chain) =
            tokio::sync::watch::channel(Arc::new(doin_node::view::ChainView::default()));
        let state = doin_node::api::ApiState {
            chain,
            blocks: Arc::new(NoBlocks),
            peers: doin_node::peers::PeerSet::new(&[]),
            net: None,
            p2p: None,
            tasks: queue.clone(),
            board: doin_node::view::DomainBoard::default(),
            info: Arc::new(doin_node::api::NodeInfo::default()),
            stats: None,
            chain_service: None,
        };
        let app = doin_node::api::router(state);
        let server = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        TaskServer {
            endpoint,
            queue,
            server,
        }
    }
}

impl Drop for TaskServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}
