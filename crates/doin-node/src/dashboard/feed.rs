//! The dashboard's feed: bounded in-memory history (the last blocks, the last rounds per
//! domain) and a broadcast of deltas for `/dashboard/events`.
//!
//! One task follows the chain snapshot and the domain board. On a new tip it reads only the
//! new blocks (at most [`BLOCK_WINDOW`]) from the read-only store; once a second it samples
//! each domain's round and best performance and the node's status. Each change becomes one
//! [`Update`] serialized once and shared by every subscriber. Nothing ever scans the chain:
//! memory and per-update bytes stay the same on a 10,000-block chain as on a 10-block one.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use doin_consensus::accepted::AcceptedOptimae;
use doin_primitives::models::{Block, TransactionType};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::api_state::ApiState;

/// Blocks kept for the first paint and read per new tip.
pub const BLOCK_WINDOW: usize = 50;
/// Round samples kept per domain.
pub const ROUND_WINDOW: usize = 240;
/// Updates a slow subscriber may fall behind before it is told to resync.
const CHANNEL_CAPACITY: usize = 256;
/// How often rounds and status are sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// Peers listed in a status update.
const MAX_PEERS_SHOWN: usize = 32;

/// One accepted optimae as a block carries it.
#[derive(Debug, Clone, Serialize)]
pub struct OptimaeSummary {
    /// Domain.
    pub domain: String,
    /// Optimizer peer id (first 12 characters).
    pub optimizer: String,
    /// Verified performance.
    pub performance: f64,
    /// Effective increment it contributed.
    pub increment: f64,
}

/// What the dashboard shows of a block.
#[derive(Debug, Clone, Serialize)]
pub struct BlockSummary {
    /// Index.
    pub index: i64,
    /// Hash (first 16 characters).
    pub hash: String,
    /// Header timestamp, Unix seconds.
    pub time: f64,
    /// Generator peer id (first 12 characters).
    pub generator: String,
    /// Threshold the block met.
    pub threshold: f64,
    /// Weighted performance sum.
    pub sum: f64,
    /// Its accepted optimae.
    pub optimae: Vec<OptimaeSummary>,
}

fn short(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

impl BlockSummary {
    /// The summary of a block.
    pub fn of(b: &Block) -> Self {
        let optimae = b
            .transactions
            .iter()
            .filter(|tx| tx.tx_type == TransactionType::OptimaeAccepted)
            .filter_map(|tx| AcceptedOptimae::from_tx(tx).ok())
            .map(|a| OptimaeSummary {
                domain: a.domain_id,
                optimizer: short(&a.optimizer_id, 12),
                performance: a.verified_performance,
                increment: a.effective_increment,
            })
            .collect();
        BlockSummary {
            index: b.header.index,
            hash: short(&b.hash, 16),
            time: b.header.timestamp.unix_secs_f64(),
            generator: short(&b.header.generator_id, 12),
            threshold: b.header.threshold,
            sum: b.header.weighted_performance_sum,
            optimae,
        }
    }
}

/// One round sample: `[round, best performance (null before the first), Unix seconds]`.
pub type RoundPoint = (u64, Option<f64>, f64);

/// A delta sent to subscribers: the SSE event name and its JSON data.
#[derive(Debug, Clone)]
pub struct Update {
    /// `block`, `round`, `status` or `resync`.
    pub kind: &'static str,
    /// The serialized data.
    pub data: Arc<str>,
}

#[derive(Debug, Default)]
struct History {
    blocks: VecDeque<BlockSummary>,
    /// Full hash of the last block in `blocks` (summaries carry a short one).
    last_hash: String,
    rounds: BTreeMap<String, VecDeque<RoundPoint>>,
    status: Value,
}

/// The feed: history for snapshots and a broadcast of updates.
#[derive(Clone)]
pub struct Feed {
    history: Arc<RwLock<History>>,
    updates: broadcast::Sender<Update>,
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn update(kind: &'static str, value: &impl Serialize) -> Update {
    let data = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
    Update {
        kind,
        data: data.into(),
    }
}

impl Feed {
    /// Starts the feed task for `state`; it ends when the chain service closes its snapshot
    /// channel. Outside a tokio runtime the feed stays empty.
    pub fn start(state: &ApiState) -> Self {
        let feed = Feed {
            history: Arc::default(),
            updates: broadcast::channel(CHANNEL_CAPACITY).0,
        };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(feed.clone().run(state.clone()));
        }
        feed
    }

    /// A receiver of every update from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Update> {
        self.updates.subscribe()
    }

    /// The first-paint document: the status, the last blocks, the last rounds per domain.
    pub fn snapshot(&self) -> Value {
        let h = self.history.read().unwrap_or_else(|p| p.into_inner());
        json!({
            "server_time": now_secs(),
            "status": h.status,
            "blocks": h.blocks,
            "rounds": h.rounds,
        })
    }

    fn publish(&self, u: Update) {
        // No subscriber is not an error.
        let _ = self.updates.send(u);
    }

    async fn run(self, state: ApiState) {
        let mut chain = state.chain.clone();
        self.reload_blocks(&state).await;
        self.sample(&state).await;
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                changed = chain.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    self.follow_tip(&state).await;
                }
                _ = tick.tick() => self.sample(&state).await,
            }
        }
    }

    /// Reads blocks `from..=to` off the async runtime.
    async fn read(state: &ApiState, from: i64, to: i64) -> Vec<Block> {
        let blocks = state.blocks.clone();
        match tokio::task::spawn_blocking(move || blocks.blocks(from, to)).await {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => {
                tracing::debug!("dashboard: cannot read blocks {from}..={to}: {e}");
                Vec::new()
            }
            Err(_) => Vec::new(),
        }
    }

    async fn reload_blocks(&self, state: &ApiState) {
        let tip = state.chain_view().tip_index;
        let from = (tip - BLOCK_WINDOW as i64 + 1).max(0);
        let blocks = Self::read(state, from, tip).await;
        let mut h = self.history.write().unwrap_or_else(|p| p.into_inner());
        h.blocks = blocks.iter().map(BlockSummary::of).collect();
        h.last_hash = blocks.last().map(|b| b.hash.clone()).unwrap_or_default();
    }

    /// A new chain snapshot: send the new blocks, or a resync after a reorganisation.
    async fn follow_tip(&self, state: &ApiState) {
        let view = state.chain_view();
        let last = {
            let h = self.history.read().unwrap_or_else(|p| p.into_inner());
            h.blocks.back().map(|b| (b.index, h.last_hash.clone()))
        };
        let Some((last_index, last_hash)) = last else {
            self.reload_blocks(state).await;
            return;
        };
        if view.tip_index == last_index && view.tip_hash == last_hash {
            return;
        }
        let from = (last_index + 1).max(view.tip_index - BLOCK_WINDOW as i64 + 1);
        let blocks = if view.tip_index > last_index {
            Self::read(state, from, view.tip_index).await
        } else {
            Vec::new()
        };
        // A tip more than a window ahead leaves a gap the client cannot draw across:
        // resync as after a reorganisation.
        let extends = from == last_index + 1
            && blocks
                .first()
                .is_some_and(|b| b.header.previous_hash == last_hash);
        if !extends {
            self.reload_blocks(state).await;
            self.publish(update("resync", &json!({"tip_index": view.tip_index})));
            return;
        }
        for b in &blocks {
            let summary = BlockSummary::of(b);
            {
                let mut h = self.history.write().unwrap_or_else(|p| p.into_inner());
                h.blocks.push_back(summary.clone());
                h.last_hash = b.hash.clone();
                while h.blocks.len() > BLOCK_WINDOW {
                    h.blocks.pop_front();
                }
            }
            self.publish(update("block", &summary));
        }
    }

    /// Samples rounds and status; publishes what changed.
    async fn sample(&self, state: &ApiState) {
        let t = now_secs();
        let board = state.board.snapshot();
        let mut rounds = Vec::new();
        {
            let mut h = self.history.write().unwrap_or_else(|p| p.into_inner());
            for (domain, p) in &board {
                let ring = h.rounds.entry(domain.clone()).or_default();
                let point: RoundPoint = (p.round, p.best_performance, t);
                let changed = ring
                    .back()
                    .is_none_or(|last| last.0 != point.0 || last.1 != point.1);
                if p.round > 0 && changed {
                    ring.push_back(point);
                    while ring.len() > ROUND_WINDOW {
                        ring.pop_front();
                    }
                    rounds.push(json!({"domain": domain, "point": point}));
                }
            }
        }
        for r in rounds {
            self.publish(update("round", &r));
        }
        let status = status(state).await;
        let changed = {
            let mut h = self.history.write().unwrap_or_else(|p| p.into_inner());
            let changed = h.status != status;
            if changed {
                h.status = status.clone();
            }
            changed
        };
        if changed {
            self.publish(update("status", &status));
        }
    }
}

/// The node's status as the dashboard shows it (no timestamps, so an idle node sends
/// nothing).
async fn status(state: &ApiState) -> Value {
    let v = state.chain_view();
    let board = state.board.snapshot();
    let domains: Vec<Value> = state
        .info
        .domains
        .iter()
        .map(|d| {
            let p = board.get(&d.domain_id).cloned().unwrap_or_default();
            json!({
                "domain_id": d.domain_id,
                "optimize": d.optimize,
                "evaluate": d.evaluate,
                "synthetic": d.synthetic,
                "target": d.target_performance,
                "round": p.round,
                "best": p.best_performance.or_else(|| v.domain_best.get(&d.domain_id).copied()),
                "chain_best": v.domain_best.get(&d.domain_id),
                "converged": p.converged,
                "committed": p.committed,
                "accepted": p.accepted,
                "rejected": p.rejected,
            })
        })
        .collect();
    let peers = match &state.net {
        Some(net) => match tokio::time::timeout(Duration::from_millis(500), net.peers_json()).await
        {
            Ok(Ok(v)) => v
                .get("peers")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .take(MAX_PEERS_SHOWN)
                        .map(|p| {
                            let mut p = p.clone();
                            let endpoint = format!(
                                "{}:{}",
                                p["address"].as_str().unwrap_or_default(),
                                p["port"].as_u64().unwrap_or_default()
                            );
                            if let (Some(ms), Some(m)) =
                                (state.peers.latency_ms(&endpoint), p.as_object_mut())
                            {
                                m.insert("latency_ms".into(), json!(ms));
                            }
                            p
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        },
        None => Vec::new(),
    };
    let endpoints = state.peers.endpoints();
    let counts = state.tasks.counts();
    json!({
        "peer_id": state.info.peer_id,
        "height": v.height,
        "tip_index": v.tip_index,
        "tip_hash": v.tip_hash,
        "finalized_height": v.finalized_height,
        "threshold": v.threshold,
        "target_block_time": v.target_block_time,
        "ema_block_time": v.ema_block_time,
        "pending_optimae": v.pending_optimae,
        "pending_sum": v.pending_sum,
        "solo": v.solo,
        "domains": domains,
        "endpoints": endpoints.iter().take(MAX_PEERS_SHOWN).collect::<Vec<_>>(),
        "peer_count": endpoints.len(),
        "peers": peers,
        "tasks": {"pending": counts.pending, "claimed": counts.claimed, "completed": counts.completed},
        "balance_units": v.my_balance,
        "supply_units": v.total_supply,
        "top_holders": v.top_holders.iter().take(10).map(|(p, a)| json!([short(p, 12), a])).collect::<Vec<_>>(),
        "sync_peer_height": crate::metrics::METRICS.sync_peer_height(),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use doin_primitives::models::Block;
    use tokio::sync::watch;

    use super::*;
    use crate::api_state::NodeInfo;
    use crate::block_source::BlockSource;
    use crate::view::ChainView;

    /// Blocks linked by hash; `fork` changes the hashes from a height on.
    fn chain(n: i64, fork: &str) -> Vec<Block> {
        let mut out = vec![Block::genesis()];
        for i in 1..n {
            let mut b = Block::genesis();
            b.header.index = i;
            b.header.previous_hash = out[(i - 1) as usize].hash.clone();
            b.hash = format!("{i:04}{fork:0>60}");
            out.push(b);
        }
        out
    }

    struct Store(Mutex<Vec<Block>>);

    impl BlockSource for Store {
        fn blocks(&self, from: i64, to: i64) -> Result<Vec<Block>, String> {
            let b = self.0.lock().map_err(|e| e.to_string())?;
            Ok(b.iter()
                .filter(|b| (from..=to).contains(&b.header.index))
                .cloned()
                .collect())
        }
        fn block(&self, index: i64) -> Result<Option<Block>, String> {
            Ok(self.blocks(index, index)?.pop())
        }
    }

    fn view_of(blocks: &[Block]) -> Arc<ChainView> {
        let tip = blocks.last().expect("a block");
        Arc::new(ChainView {
            height: blocks.len() as i64,
            tip_index: tip.header.index,
            tip_hash: tip.hash.clone(),
            ..ChainView::default()
        })
    }

    async fn next(rx: &mut broadcast::Receiver<Update>, kind: &str) -> Value {
        let wait = async {
            loop {
                let u = rx.recv().await.expect("an update");
                if u.kind == kind {
                    return serde_json::from_str::<Value>(&u.data).expect("json");
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(5), wait)
            .await
            .unwrap_or_else(|_| panic!("no {kind} update"))
    }

    #[tokio::test]
    async fn new_blocks_rounds_and_reorganisations_become_updates() {
        let store = Arc::new(Store(Mutex::new(chain(3, "a"))));
        let (tx, rx) = watch::channel(view_of(&chain(3, "a")));
        let state = ApiState {
            chain: rx,
            blocks: store.clone(),
            peers: crate::peers::PeerSet::new(&[]),
            net: None,
            p2p: None,
            tasks: Arc::new(crate::task_queue::TaskQueue::new()),
            board: crate::view::DomainBoard::default(),
            info: Arc::new(NodeInfo::default()),
            stats: None,
            chain_service: None,
        };
        let feed = Feed::start(&state);
        let mut updates = feed.subscribe();
        next(&mut updates, "status").await;
        assert_eq!(feed.snapshot()["blocks"].as_array().map(Vec::len), Some(3));

        // A block on top: one `block` update.
        *store.0.lock().expect("lock") = chain(4, "a");
        tx.send_replace(view_of(&chain(4, "a")));
        assert_eq!(next(&mut updates, "block").await["index"], 3);

        // A round: one `round` update with the sample.
        state.board.update("d", |p| {
            p.round = 7;
            p.best_performance = Some(-1.5);
        });
        let r = next(&mut updates, "round").await;
        assert_eq!(r["domain"], "d");
        assert_eq!(r["point"][0], 7);
        assert_eq!(r["point"][1], -1.5);

        // Another branch of the same height: `resync`, and the snapshot follows it.
        let fork: Vec<Block> = chain(4, "b");
        *store.0.lock().expect("lock") = fork.clone();
        tx.send_replace(view_of(&fork));
        next(&mut updates, "resync").await;
        let snap = feed.snapshot();
        let last = snap["blocks"].as_array().and_then(|b| b.last()).cloned();
        assert_eq!(
            last.map(|b| b["hash"].clone()),
            Some(json!(short(&fork[3].hash, 16)))
        );
        assert!(snap["rounds"]["d"].as_array().is_some_and(|r| r.len() == 1));
    }
}
