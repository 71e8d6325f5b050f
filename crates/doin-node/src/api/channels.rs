//! Payment channels over HTTP (DOIN additions; the reference serves no channel path):
//! `POST /channels` submits a signed channel operation, `GET /channels/{id}` reads a
//! channel, `GET /channels?address=` the totals and an address's channel-operation
//! nonces, and `POST /channels/check` checks an off-chain update the way its receiver
//! should before delivering a service.
//!
//! Amounts: under the reference's keys in DOIN floats, and in integer base units under
//! `_units` keys; operations and updates are submitted in base units.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::Json;
use doin_consensus::channel::{Channel, ChannelError, ChannelStats, ChannelStatus};
use doin_consensus::transfer::is_peer_id;
use doin_primitives::models::{ChannelAction, ChannelOp, ChannelUpdate, WireModel};
use serde_json::{json, Value};

use super::coin::service;
use super::error::{rejection, ApiError};
use super::status::coins;
use super::ApiState;
use crate::channel_pool::ChannelPoolError;

fn stopping() -> ApiError {
    ApiError::unavailable("the node is stopping")
}

/// The channel totals as JSON: the reference's `get_stats()` keys (DOIN floats) plus base
/// units and the dispute count.
pub fn stats_json(s: &ChannelStats) -> Value {
    json!({
        "total_channels": s.total_channels,
        "active_channels": s.active_channels,
        "total_locked": coins(s.total_locked),
        "total_settled": coins(s.total_settled),
        "total_fees": coins(s.total_fees),
        "total_locked_units": s.total_locked,
        "total_settled_units": s.total_settled,
        "total_fees_units": s.total_fees,
        "disputes": s.disputes,
    })
}

/// A channel as JSON (the reference's `PaymentChannel` keys where they exist).
pub fn channel_json(c: &Channel) -> Value {
    let (closer, deadline) = match &c.status {
        ChannelStatus::Closing {
            closer,
            deadline_micros,
        } => (closer.as_str(), *deadline_micros),
        _ => ("", 0),
    };
    json!({
        "channel_id": c.channel_id,
        "sender_id": c.sender,
        "receiver_id": c.receiver,
        "state": c.status.name(),
        "deposit": coins(c.deposit),
        "deposit_units": c.deposit,
        "sender_balance": coins(c.sender_balance),
        "sender_balance_units": c.sender_balance,
        "receiver_balance": coins(c.receiver_balance),
        "receiver_balance_units": c.receiver_balance,
        "total_paid_units": c.receiver_balance,
        "nonce": c.nonce,
        "dispute_period": c.dispute_period_secs,
        "dispute_deadline": deadline as f64 / 1e6,
        "dispute_deadline_micros": deadline,
        "closed_by": closer,
        "opened_height": c.opened_height,
    })
}

fn is_channel_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `POST /channels` with a signed wire channel operation: `200 {"status": "accepted",
/// "operation_id", "channel_id", "pending"}` once in the pool (and gossiped); `400` with
/// the rule it breaks, `409` if already pending, `429` over the caller's rate limit,
/// `503` when the pool is full.
pub async fn submit(
    State(s): State<ApiState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(v) = body.map_err(|e| rejection(e.body_text()))?;
    let op = ChannelOp::from_wire_json(&v.to_string())
        .map_err(|e| ApiError::bad_request(format!("not a channel operation: {e}")))?;
    let channel_id = match &op.action {
        ChannelAction::Open { .. } => op.compute_id(),
        other => other.channel_id().unwrap_or_default().to_owned(),
    };
    let chain = service(&s)?;
    let source = format!("http:{}", client.ip());
    match chain.submit_channel_op(op, &source, true).await {
        Ok(id) => {
            let info = chain
                .channel_info(None, None)
                .await
                .map_err(ApiError::unavailable)?;
            Ok(Json(json!({
                "status": "accepted",
                "operation_id": id,
                "channel_id": channel_id,
                "pending": info.pending,
            })))
        }
        Err(None) => Err(stopping()),
        Err(Some(e)) => Err(match e {
            ChannelPoolError::AlreadyPending(_) => ApiError::conflict(e.to_string()),
            ChannelPoolError::RateLimited { .. } => ApiError::too_many(e.to_string()),
            ChannelPoolError::Full { .. } => ApiError::unavailable(e.to_string()),
            ChannelPoolError::Invalid(_) => ApiError::bad_request(e.to_string()),
        }),
    }
}

/// `GET /channels/{id}`: the channel ([`channel_json`]) and the tip's time; `404` when the
/// chain has no such channel.
pub async fn channel(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !is_channel_id(&id) {
        return Err(ApiError::bad_request(format!(
            "{id:?} is not a channel id (64 lowercase hex characters)"
        )));
    }
    let info = service(&s)?
        .channel_info(Some(&id), None)
        .await
        .map_err(ApiError::unavailable)?;
    let c = info
        .channel
        .ok_or_else(|| ApiError::not_found(format!("unknown channel {id}")))?;
    let mut out = channel_json(&c);
    out["tip_time_micros"] = json!(info.tip_time_micros);
    Ok(Json(out))
}

/// `GET /channels?address=`: the totals ([`stats_json`]), operations pending, and with an
/// address its last used channel-operation nonce and the next one to use.
pub async fn summary(
    State(s): State<ApiState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let address = q.get("address").map(String::as_str);
    if let Some(a) = address.filter(|a| !is_peer_id(a)) {
        return Err(ApiError::bad_request(format!(
            "{a:?} is not a peer id (40 lowercase hex characters)"
        )));
    }
    let info = service(&s)?
        .channel_info(None, address)
        .await
        .map_err(ApiError::unavailable)?;
    let mut out = stats_json(&info.stats);
    out["pending_operations"] = json!(info.pending);
    if let (Some(a), Some((nonce, next))) = (address, info.nonces) {
        out["address"] = json!(a);
        out["channel_nonce"] = json!(nonce);
        out["next_channel_nonce"] = json!(next);
    }
    Ok(Json(out))
}

/// `POST /channels/check` with a wire channel update: `200 {"valid": true, "channel_id",
/// "nonce", "paid_units", "deposit_units"}` when the chain's tip makes it a valid payment
/// to the channel's receiver; `400` with the reason otherwise (unknown or closing channel,
/// balances off the deposit, not the sender's seal, nonce not above the chain's).
pub async fn check(
    State(s): State<ApiState>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(v) = body.map_err(|e| rejection(e.body_text()))?;
    let update = ChannelUpdate::from_wire_json(&v.to_string())
        .map_err(|e| ApiError::bad_request(format!("not a channel update: {e}")))?;
    match service(&s)?.check_channel_update(update).await {
        Ok(ok) => Ok(Json(json!({
            "valid": true,
            "channel_id": ok.channel.channel_id,
            "nonce": ok.nonce,
            "paid_units": ok.paid,
            "deposit_units": ok.channel.deposit,
        }))),
        Err(None) => Err(stopping()),
        Err(Some(e @ ChannelError::UnknownChannel(_))) => Err(ApiError::not_found(e.to_string())),
        Err(Some(e)) => Err(ApiError::bad_request(e.to_string())),
    }
}
