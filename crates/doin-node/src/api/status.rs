//! `/health`, `/status`, `/peers`, `/api/monitor`.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};

use super::ApiState;

/// Base units as DOIN, the float the reference's DOIN-valued keys carry.
pub(crate) fn coins(units: u64) -> f64 {
    doin_primitives::models::transfer::units_to_doin(i64::try_from(units).unwrap_or(i64::MAX))
}

/// `GET /health`.
pub async fn health(State(s): State<ApiState>) -> Json<Value> {
    Json(json!({"status": "healthy", "port": s.info.port}))
}

/// `GET /status`: the reference's shape, with `chain` facts DOIN adds (solo chain, params
/// hash) in extra keys.
pub async fn status(State(s): State<ApiState>) -> Json<Value> {
    let v = s.chain_view();
    let board = s.board.snapshot();
    let mut domains = Map::new();
    for d in &s.info.domains {
        let progress = board.get(&d.domain_id).cloned().unwrap_or_default();
        let best = progress
            .best_performance
            .or_else(|| v.domain_best.get(&d.domain_id).copied());
        domains.insert(
            d.domain_id.clone(),
            json!({
                "optimize": d.optimize,
                "evaluate": d.evaluate,
                "synthetic": d.synthetic,
                "target_performance": d.target_performance,
                "best_performance": best,
                "converged": progress.converged,
                "round": progress.round,
                "optimae_committed": progress.committed,
                "optimae_accepted": progress.accepted,
                "optimae_rejected": progress.rejected,
                "chain_best_performance": v.domain_best.get(&d.domain_id),
            }),
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
    Json(json!({
        "status": "healthy",
        "peer_id": s.info.peer_id.chars().take(12).collect::<String>(),
        "port": s.info.port,
        "chain_height": v.height,
        "storage_backend": s.info.storage_backend,
        "network_protocol": s.info.network_protocol,
        "domains": domains,
        "peers": s.peers.endpoints().len(),
        "task_queue": {"pending": counts.pending, "claimed": counts.claimed, "completed": counts.completed},
        "inference": {
            "queued": inference.pending,
            "running": inference.claimed,
            "completed": inference.completed,
        },
        "security": {
            "finalized_height": v.finalized_height,
            "reputation_tracked_peers": v.reputation_tracked_peers,
            "reputations": top_reputations(&v.reputations),
            "sync_refusals": s.peers.sync_refusals().iter().map(|(endpoint, r)| {
                (endpoint.clone(), json!({"count": r.count, "last_error": r.last.to_string()}))
            }).collect::<Map<String, Value>>(),
            "pending_commitments": 0,
            "pending_quorums": counts.pending + counts.claimed,
        },
        "optimizer_domains": pick(|d| d.optimize),
        "evaluator_domains": pick(|d| d.evaluate),
        "coin": {
            "total_supply": coins(v.total_supply),
            "my_balance": coins(v.my_balance),
            "top_holders": v.top_holders.iter().map(|(p, a)| json!([p, coins(*a)])).collect::<Vec<_>>(),
            "total_supply_units": v.total_supply,
            "my_balance_units": v.my_balance,
            "total_burned_units": v.total_burned,
            "base_fee_units": v.base_fee,
            "payment_channels": super::channels::stats_json(&v.channel_stats),
        },
        "difficulty": {
            "threshold": v.threshold,
            "target_block_time": v.target_block_time,
            "ema_block_time": v.ema_block_time,
            "blocks_in_epoch": v.blocks_in_epoch,
            "epoch_length": v.epoch_length,
            "total_adjustments": v.total_adjustments,
            "deviation": deviation,
        },
        "chain": {
            "solo": v.solo,
            "mode": if v.solo { "solo: this node verifies its own optimae on independently seeded synthetic data" } else { "network" },
            "params_hash": v.params_hash,
            "tip_hash": v.tip_hash,
            "pending_optimae": v.pending_optimae,
            "pending_sum": v.pending_sum,
            "total_transactions": v.total_transactions,
        },
        "peer_id_full": s.info.peer_id,
    }))
}

/// Most reputations `/status` lists (the highest).
const MAX_LISTED_REPUTATIONS: usize = 100;

/// The highest on-chain reputations, in points, by peer id.
fn top_reputations(all: &std::collections::BTreeMap<String, u64>) -> Map<String, Value> {
    let mut top: Vec<(&String, &u64)> = all.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    top.into_iter()
        .take(MAX_LISTED_REPUTATIONS)
        .map(|(p, micro)| (p.clone(), json!(*micro as f64 / 1e6)))
        .collect()
}

/// `GET /peers`.
pub async fn peers(State(s): State<ApiState>) -> Json<Value> {
    if let Some(net) = &s.net {
        if let Ok(v) = net.peers_json().await {
            return Json(v);
        }
    }
    let peers: Vec<Value> = s
        .peers
        .endpoints()
        .into_iter()
        .map(|e| {
            let (address, port) = e.rsplit_once(':').unwrap_or((e.as_str(), ""));
            json!({"peer_id": e, "address": address, "port": port.parse::<u16>().ok()})
        })
        .collect();
    Json(json!({
        "self": {"peer_id": s.info.peer_id, "port": s.info.port},
        "peers": peers,
    }))
}

/// `GET /api/monitor`: the reference's compact node snapshot (`_local_monitor_snapshot`),
/// which its dashboard's network view asks of every peer; a peer without it shows there
/// as offline. DOIN has no candidate leases or alerts: those keys are empty.
pub async fn monitor(State(s): State<ApiState>) -> Json<Value> {
    let v = s.chain_view();
    let board = s.board.snapshot();
    let mut best = Map::new();
    let mut rounds = 0u64;
    for d in &s.info.domains {
        let progress = board.get(&d.domain_id).cloned().unwrap_or_default();
        rounds += progress.round;
        let b = progress
            .best_performance
            .or_else(|| v.domain_best.get(&d.domain_id).copied());
        if let Some(b) = b {
            best.insert(d.domain_id.clone(), json!(b));
        }
    }
    let hostname = crate::stats::hostname();
    let uptime = s.info.started.map_or(0.0, |t| t.elapsed().as_secs_f64());
    Json(json!({
        "node_label": format!("{hostname}:{}", s.info.port),
        "hostname": hostname,
        "peer_id": s.info.peer_id,
        "port": s.info.port,
        "known_endpoints": [],
        "status": "online",
        "uptime_s": (uptime * 10.0).round() / 10.0,
        "chain_height": v.height,
        "domains": s.info.domains.iter().map(|d| d.domain_id.as_str()).collect::<Vec<_>>(),
        "versions": {"doin-node": env!("CARGO_PKG_VERSION")},
        "candidate": {},
        "optimization_history": {
            "candidate_evaluations_total": rounds,
            "candidates_per_hour": 0.0,
            "domains": {},
        },
        "best_performance": best,
        "alerts": [],
        "alerts_count": 0,
        "alerts_unseen": 0,
        "checked_at": doin_primitives::Timestamp::now_utc().isoformat(),
    }))
}
