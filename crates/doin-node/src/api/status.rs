//! `/health`, `/status`, `/api/monitor`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::channels::ChannelTotals;
use super::ApiState;

/// Base units as DOIN, the float the reference's DOIN-valued keys carry.
pub(crate) fn coins(units: u64) -> f64 {
    doin_primitives::models::transfer::units_to_doin(i64::try_from(units).unwrap_or(i64::MAX))
}

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `healthy`.
    pub status: &'static str,
    /// The node's HTTP port.
    pub port: u16,
}

/// `GET /health`.
#[utoipa::path(get, path = "/health", tag = "node", summary = "Liveness",
    responses((status = 200, body = Health)))]
pub async fn health(State(s): State<ApiState>) -> Json<Health> {
    Json(Health {
        status: "healthy",
        port: s.info.port,
    })
}

/// `GET /status`: the reference's keys; those marked DOIN are extra keys the reference
/// does not send (its parsers ignore them).
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeStatus {
    /// Always `healthy`.
    pub status: &'static str,
    /// The first 12 characters of the peer id.
    pub peer_id: String,
    /// HTTP port.
    pub port: u16,
    /// Number of blocks, genesis included.
    pub chain_height: i64,
    /// `sqlite`.
    pub storage_backend: String,
    /// `gossipsub` or `flooding`.
    pub network_protocol: String,
    /// Each domain this node serves.
    pub domains: BTreeMap<String, DomainStatus>,
    /// Known peer endpoints.
    pub peers: usize,
    /// Each peer on each transport: its transport (`http` or `libp2p`), address and score
    /// (DOIN; as `/peers` lists them).
    #[schema(required = false)]
    pub peer_transports: Vec<PeerTransport>,
    /// The task queue's counts.
    pub task_queue: TaskCounts,
    /// Inference requests' counts (DOIN).
    #[schema(required = false)]
    pub inference: InferenceCounts,
    /// Finality and reputation.
    pub security: Security,
    /// Domains this node optimizes.
    pub optimizer_domains: Vec<String>,
    /// Domains this node evaluates.
    pub evaluator_domains: Vec<String>,
    /// Supply and balances.
    pub coin: CoinStatus,
    /// The difficulty rule's state.
    pub difficulty: Difficulty,
    /// Chain facts (DOIN).
    #[schema(required = false)]
    pub chain: ChainFacts,
    /// The full peer id (DOIN).
    #[schema(required = false)]
    pub peer_id_full: String,
}

/// A domain in `/status`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DomainStatus {
    /// Optimizes here.
    pub optimize: bool,
    /// Evaluates here.
    pub evaluate: bool,
    /// Has a synthetic-data generator.
    pub synthetic: bool,
    /// The domain's target.
    pub target_performance: Option<f64>,
    /// The best performance this node knows.
    pub best_performance: Option<f64>,
    /// Whether the target is reached.
    pub converged: bool,
    /// Optimizer rounds run (DOIN).
    #[schema(required = false)]
    pub round: u64,
    /// Optimae committed (DOIN).
    #[schema(required = false)]
    pub optimae_committed: u64,
    /// Optimae accepted (DOIN).
    #[schema(required = false)]
    pub optimae_accepted: u64,
    /// Optimae rejected (DOIN).
    #[schema(required = false)]
    pub optimae_rejected: u64,
    /// The best performance on chain (DOIN).
    pub chain_best_performance: Option<f64>,
}

/// The task queue's counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskCounts {
    /// Waiting.
    pub pending: usize,
    /// Claimed.
    pub claimed: usize,
    /// Completed (still remembered).
    pub completed: usize,
}

/// Inference requests' counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct InferenceCounts {
    /// Waiting.
    pub queued: usize,
    /// Running.
    pub running: usize,
    /// Completed (still remembered).
    pub completed: usize,
}

/// `/status`'s `security`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Security {
    /// Height of the last final checkpoint.
    pub finalized_height: i64,
    /// Peers with a reputation entry.
    pub reputation_tracked_peers: usize,
    /// The highest on-chain reputations, in points, by peer id (DOIN).
    #[schema(required = false)]
    pub reputations: BTreeMap<String, f64>,
    /// Syncs refused per peer endpoint (DOIN).
    #[schema(required = false)]
    pub sync_refusals: BTreeMap<String, SyncRefusal>,
    /// Commitments waiting for their reveal.
    pub pending_commitments: u64,
    /// Quorums still evaluating.
    pub pending_quorums: usize,
}

/// Syncs a peer refused.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncRefusal {
    /// Refusals since start-up.
    pub count: u64,
    /// The latest reason.
    pub last_error: String,
}

/// `/status`'s `coin`: DOIN floats under the reference's keys, base units under `_units`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CoinStatus {
    /// Coins minted.
    pub total_supply: f64,
    /// This node's balance.
    pub my_balance: f64,
    /// The largest balances, `[peer id, DOIN]`.
    pub top_holders: Vec<(String, f64)>,
    /// Coins minted, base units (DOIN).
    #[schema(required = false)]
    pub total_supply_units: u64,
    /// This node's balance, base units (DOIN).
    #[schema(required = false)]
    pub my_balance_units: u64,
    /// Coins burned, base units (DOIN).
    #[schema(required = false)]
    pub total_burned_units: u64,
    /// The next block's base fee, base units (DOIN).
    #[schema(required = false)]
    pub base_fee_units: u64,
    /// Payment-channel totals (DOIN).
    #[schema(required = false)]
    pub payment_channels: ChannelTotals,
}

/// `/status`'s `difficulty`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Difficulty {
    /// The threshold the next block must reach.
    pub threshold: f64,
    /// Target block time, seconds.
    pub target_block_time: f64,
    /// EMA of block times, seconds.
    pub ema_block_time: f64,
    /// Blocks into the current epoch.
    pub blocks_in_epoch: u64,
    /// Epoch length.
    pub epoch_length: u64,
    /// Epoch retargets so far.
    pub total_adjustments: u64,
    /// `ema_block_time / target_block_time`.
    pub deviation: f64,
}

/// `/status`'s `chain` (DOIN).
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainFacts {
    /// Whether this node mints alone.
    pub solo: bool,
    /// What `solo` means.
    pub mode: &'static str,
    /// Hash of the chain parameters.
    pub params_hash: String,
    /// Hash of the tip.
    pub tip_hash: String,
    /// Accepted optimae waiting for a block.
    pub pending_optimae: usize,
    /// Sum of their effective increments.
    pub pending_sum: f64,
    /// Transactions on chain.
    pub total_transactions: u64,
}

/// A peer in `/status`'s `peer_transports`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeerTransport {
    /// Its DOIN peer id (`host:port` while unknown).
    pub peer_id: String,
    /// `http` or `libp2p`.
    pub transport: String,
    /// `host:port`, or the multiaddr of its libp2p connection.
    pub address: String,
    /// Its application score, where one is kept.
    pub score: Option<f64>,
}

/// `GET /status`: the reference's shape, with `chain` facts DOIN adds (solo chain, params
/// hash) in extra keys.
#[utoipa::path(get, path = "/status", tag = "node",
    summary = "Node status: domains, chain, task queue, coin (with payment_channels totals), difficulty",
    responses((status = 200, body = NodeStatus)))]
pub async fn status(State(s): State<ApiState>) -> Json<NodeStatus> {
    let peer_transports: Vec<PeerTransport> = super::peers::peer_list(&s)
        .await
        .peers
        .into_iter()
        .map(|p| PeerTransport {
            address: match p.port {
                Some(port) => format!("{}:{port}", p.address),
                None => p.address,
            },
            peer_id: p.peer_id,
            transport: p.transport.unwrap_or_else(|| "http".into()),
            score: p.score,
        })
        .collect();
    // The board before the chain view, both after the last await: an optimizer marks a
    // domain converged from a chain view, so the view read afterwards is at least as new
    // and its chain best has reached the target too (read the other way round, a block
    // adopted in between showed `converged` beside the older chain best).
    let board = s.board.snapshot();
    let v = s.chain_view();
    let mut domains = BTreeMap::new();
    for d in &s.info.domains {
        let progress = board.get(&d.domain_id).cloned().unwrap_or_default();
        let best = progress
            .best_performance
            .or_else(|| v.domain_best.get(&d.domain_id).copied());
        domains.insert(
            d.domain_id.clone(),
            DomainStatus {
                optimize: d.optimize,
                evaluate: d.evaluate,
                synthetic: d.synthetic,
                target_performance: d.target_performance,
                best_performance: best,
                converged: progress.converged,
                round: progress.round,
                optimae_committed: progress.committed,
                optimae_accepted: progress.accepted,
                optimae_rejected: progress.rejected,
                chain_best_performance: v.domain_best.get(&d.domain_id).copied(),
            },
        );
    }
    let counts = s.tasks.counts();
    let inference = s
        .tasks
        .counts_of(crate::task_queue::TaskKind::InferenceRequest);
    let pick = |f: fn(&super::DomainInfo) -> bool| {
        s.info
            .domains
            .iter()
            .filter(|d| f(d))
            .map(|d| d.domain_id.clone())
            .collect::<Vec<_>>()
    };
    let deviation = if v.target_block_time > 0.0 {
        v.ema_block_time / v.target_block_time
    } else {
        0.0
    };
    Json(NodeStatus {
        status: "healthy",
        peer_id: s.info.peer_id.chars().take(12).collect(),
        port: s.info.port,
        chain_height: v.height,
        storage_backend: s.info.storage_backend.clone(),
        network_protocol: s.info.network_protocol.clone(),
        domains,
        peers: s.peers.endpoints().len(),
        peer_transports,
        task_queue: TaskCounts {
            pending: counts.pending,
            claimed: counts.claimed,
            completed: counts.completed,
        },
        inference: InferenceCounts {
            queued: inference.pending,
            running: inference.claimed,
            completed: inference.completed,
        },
        security: Security {
            finalized_height: v.finalized_height,
            reputation_tracked_peers: v.reputation_tracked_peers,
            reputations: top_reputations(&v.reputations),
            sync_refusals: s
                .peers
                .sync_refusals()
                .iter()
                .map(|(endpoint, r)| {
                    (
                        endpoint.clone(),
                        SyncRefusal {
                            count: r.count,
                            last_error: r.last.to_string(),
                        },
                    )
                })
                .collect(),
            pending_commitments: 0,
            pending_quorums: counts.pending + counts.claimed,
        },
        optimizer_domains: pick(|d| d.optimize),
        evaluator_domains: pick(|d| d.evaluate),
        coin: CoinStatus {
            total_supply: coins(v.total_supply),
            my_balance: coins(v.my_balance),
            top_holders: v
                .top_holders
                .iter()
                .map(|(p, a)| (p.clone(), coins(*a)))
                .collect(),
            total_supply_units: v.total_supply,
            my_balance_units: v.my_balance,
            total_burned_units: v.total_burned,
            base_fee_units: v.base_fee,
            payment_channels: ChannelTotals::of(&v.channel_stats),
        },
        difficulty: Difficulty {
            threshold: v.threshold,
            target_block_time: v.target_block_time,
            ema_block_time: v.ema_block_time,
            blocks_in_epoch: v.blocks_in_epoch,
            epoch_length: v.epoch_length,
            total_adjustments: v.total_adjustments,
            deviation,
        },
        chain: ChainFacts {
            solo: v.solo,
            mode: if v.solo {
                "solo: this node verifies its own optimae on independently seeded synthetic data"
            } else {
                "network"
            },
            params_hash: v.params_hash.clone(),
            tip_hash: v.tip_hash.clone(),
            pending_optimae: v.pending_optimae,
            pending_sum: v.pending_sum,
            total_transactions: v.total_transactions,
        },
        peer_id_full: s.info.peer_id.clone(),
    })
}

/// Most reputations `/status` lists (the highest).
const MAX_LISTED_REPUTATIONS: usize = 100;

/// The highest on-chain reputations, in points, by peer id.
fn top_reputations(all: &BTreeMap<String, u64>) -> BTreeMap<String, f64> {
    let mut top: Vec<(&String, &u64)> = all.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    top.into_iter()
        .take(MAX_LISTED_REPUTATIONS)
        .map(|(p, micro)| (p.clone(), *micro as f64 / 1e6))
        .collect()
}

/// `GET /api/monitor`: the reference's compact node snapshot.
#[derive(Debug, Serialize, ToSchema)]
pub struct Monitor {
    /// `hostname:port`.
    pub node_label: String,
    /// The host's name.
    pub hostname: String,
    /// Full peer id.
    pub peer_id: String,
    /// HTTP port.
    pub port: u16,
    /// Always empty (DOIN keeps no candidate leases).
    pub known_endpoints: Vec<String>,
    /// Always `online`.
    pub status: &'static str,
    /// Seconds since start, one decimal.
    pub uptime_s: f64,
    /// Number of blocks.
    pub chain_height: i64,
    /// Domain ids served.
    pub domains: Vec<String>,
    /// Component versions.
    pub versions: BTreeMap<String, String>,
    /// Always `{}`.
    pub candidate: BTreeMap<String, Value>,
    /// Rounds run.
    pub optimization_history: OptimizationHistory,
    /// Best performance per domain.
    pub best_performance: BTreeMap<String, f64>,
    /// Always empty.
    pub alerts: Vec<Value>,
    /// Always 0.
    pub alerts_count: u64,
    /// Always 0.
    pub alerts_unseen: u64,
    /// When this snapshot was taken (ISO 8601).
    pub checked_at: String,
}

/// `/api/monitor`'s `optimization_history`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OptimizationHistory {
    /// Optimizer rounds over all domains.
    pub candidate_evaluations_total: u64,
    /// Always 0.
    pub candidates_per_hour: f64,
    /// Always `{}`.
    pub domains: BTreeMap<String, Value>,
}

/// `GET /api/monitor`: the reference's compact node snapshot (`_local_monitor_snapshot`),
/// which its dashboard's network view asks of every peer; a peer without it shows there
/// as offline. DOIN has no candidate leases or alerts: those keys are empty.
#[utoipa::path(get, path = "/api/monitor", tag = "node",
    summary = "This node as the reference dashboard's network view reads each peer",
    responses((status = 200, body = Monitor)))]
pub async fn monitor(State(s): State<ApiState>) -> Json<Monitor> {
    let v = s.chain_view();
    let board = s.board.snapshot();
    let mut best = BTreeMap::new();
    let mut rounds = 0u64;
    for d in &s.info.domains {
        let progress = board.get(&d.domain_id).cloned().unwrap_or_default();
        rounds += progress.round;
        let b = progress
            .best_performance
            .or_else(|| v.domain_best.get(&d.domain_id).copied());
        if let Some(b) = b {
            best.insert(d.domain_id.clone(), b);
        }
    }
    let hostname = crate::stats::hostname();
    let uptime = s.info.started.map_or(0.0, |t| t.elapsed().as_secs_f64());
    Json(Monitor {
        node_label: format!("{hostname}:{}", s.info.port),
        hostname,
        peer_id: s.info.peer_id.clone(),
        port: s.info.port,
        known_endpoints: Vec::new(),
        status: "online",
        uptime_s: (uptime * 10.0).round() / 10.0,
        chain_height: v.height,
        domains: s.info.domains.iter().map(|d| d.domain_id.clone()).collect(),
        versions: BTreeMap::from([("doin-node".to_owned(), env!("CARGO_PKG_VERSION").to_owned())]),
        candidate: BTreeMap::new(),
        optimization_history: OptimizationHistory {
            candidate_evaluations_total: rounds,
            candidates_per_hour: 0.0,
            domains: BTreeMap::new(),
        },
        best_performance: best,
        alerts: Vec::new(),
        alerts_count: 0,
        alerts_unseen: 0,
        checked_at: doin_primitives::Timestamp::now_utc().isoformat(),
    })
}
