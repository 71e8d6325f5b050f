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
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::coin::service;
use super::error::{rejection, ApiError, ErrorBody};
use super::status::coins;
use super::ApiState;
use crate::channel_pool::ChannelPoolError;

fn stopping() -> ApiError {
    ApiError::unavailable("the node is stopping")
}

/// The channel totals: the reference's `get_stats()` keys (DOIN floats) plus base units
/// and the dispute count.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelTotals {
    /// Channels ever opened.
    pub total_channels: u64,
    /// Channels open or closing.
    pub active_channels: u64,
    /// Deposits locked, DOIN.
    pub total_locked: f64,
    /// Paid out by settlements, DOIN.
    pub total_settled: f64,
    /// Fees paid by channel operations, DOIN.
    pub total_fees: f64,
    /// Deposits locked, base units.
    pub total_locked_units: u64,
    /// Paid out, base units.
    pub total_settled_units: u64,
    /// Fees, base units.
    pub total_fees_units: u64,
    /// Disputes so far.
    pub disputes: u64,
}

impl ChannelTotals {
    /// The totals of `s`.
    pub fn of(s: &ChannelStats) -> Self {
        ChannelTotals {
            total_channels: s.total_channels,
            active_channels: s.active_channels,
            total_locked: coins(s.total_locked),
            total_settled: coins(s.total_settled),
            total_fees: coins(s.total_fees),
            total_locked_units: s.total_locked,
            total_settled_units: s.total_settled,
            total_fees_units: s.total_fees,
            disputes: s.disputes,
        }
    }
}

/// `GET /channels?address=`: the totals, operations pending, and an address's nonces.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelSummary {
    /// The totals.
    #[serde(flatten)]
    pub totals: ChannelTotals,
    /// Channel operations pending.
    pub pending_operations: usize,
    /// The address asked about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Its last used channel-operation nonce.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_nonce: Option<u64>,
    /// The nonce its next channel operation takes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_channel_nonce: Option<u64>,
}

/// A channel (the reference's `PaymentChannel` keys where they exist), and the tip's time.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    /// The open operation's id.
    pub channel_id: String,
    /// Who pays.
    pub sender_id: String,
    /// Who is paid.
    pub receiver_id: String,
    /// `open`, `closing` or `closed`.
    pub state: String,
    /// Deposit, DOIN.
    pub deposit: f64,
    /// Deposit, base units.
    pub deposit_units: u64,
    /// The sender's side, DOIN.
    pub sender_balance: f64,
    /// The sender's side, base units.
    pub sender_balance_units: u64,
    /// The receiver's side, DOIN.
    pub receiver_balance: f64,
    /// The receiver's side, base units.
    pub receiver_balance_units: u64,
    /// Paid to the receiver so far, base units.
    pub total_paid_units: u64,
    /// The latest update's nonce on chain.
    pub nonce: u64,
    /// Dispute period, seconds of chain time.
    pub dispute_period: u64,
    /// When a close becomes final, Unix seconds (0 unless closing).
    pub dispute_deadline: f64,
    /// The same in microseconds.
    pub dispute_deadline_micros: i64,
    /// Who started the close (empty unless closing).
    pub closed_by: String,
    /// The height the channel opened at.
    pub opened_height: u64,
    /// The tip's time, Unix microseconds.
    pub tip_time_micros: i64,
}

impl ChannelView {
    /// `c` as of a tip at `tip_time_micros`.
    pub fn of(c: &Channel, tip_time_micros: i64) -> Self {
        let (closer, deadline) = match &c.status {
            ChannelStatus::Closing {
                closer,
                deadline_micros,
            } => (closer.as_str(), *deadline_micros),
            _ => ("", 0),
        };
        ChannelView {
            channel_id: c.channel_id.clone(),
            sender_id: c.sender.clone(),
            receiver_id: c.receiver.clone(),
            state: c.status.name().to_owned(),
            deposit: coins(c.deposit),
            deposit_units: c.deposit,
            sender_balance: coins(c.sender_balance),
            sender_balance_units: c.sender_balance,
            receiver_balance: coins(c.receiver_balance),
            receiver_balance_units: c.receiver_balance,
            total_paid_units: c.receiver_balance,
            nonce: c.nonce,
            dispute_period: c.dispute_period_secs,
            dispute_deadline: deadline as f64 / 1e6,
            dispute_deadline_micros: deadline,
            closed_by: closer.to_owned(),
            opened_height: c.opened_height,
            tip_time_micros,
        }
    }
}

/// `POST /channels`: the operation is pooled.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperationAccepted {
    /// Always `accepted`.
    pub status: &'static str,
    /// The operation's id.
    pub operation_id: String,
    /// The channel it concerns.
    pub channel_id: String,
    /// Channel operations pending now.
    pub pending: usize,
}

/// `POST /channels/check`: the update pays the receiver.
#[derive(Debug, Serialize, ToSchema)]
pub struct UpdateValid {
    /// Always `true`.
    pub valid: bool,
    /// The channel.
    pub channel_id: String,
    /// The update's nonce.
    pub nonce: u64,
    /// What the update pays the receiver, base units.
    pub paid_units: u64,
    /// The channel's deposit, base units.
    pub deposit_units: u64,
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
#[utoipa::path(post, path = "/channels", tag = "channels",
    summary = "Submit a signed channel operation {op: open|close|dispute|settle, actor, fee, nonce, receiver, deposit, dispute_period, channel_id, update, public_key, signature} (base units; dispute_period in seconds of chain time)",
    request_body(content = Value, description = "the signed wire channel operation"),
    responses((status = 200, body = OperationAccepted),
        (status = 400, description = "the rule the operation breaks", body = ErrorBody),
        (status = 409, description = "already pending", body = ErrorBody),
        (status = 429, description = "rate limited", body = ErrorBody),
        (status = 503, description = "channel pool full, or the node is stopping", body = ErrorBody)))]
pub async fn submit(
    State(s): State<ApiState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<OperationAccepted>, ApiError> {
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
            Ok(Json(OperationAccepted {
                status: "accepted",
                operation_id: id,
                channel_id,
                pending: info.pending,
            }))
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

/// `GET /channels/{id}`: the channel and the tip's time; `404` when the chain has no such
/// channel.
#[utoipa::path(get, path = "/channels/{id}", tag = "channels",
    summary = "A channel: participants, state (open, closing, closed), deposit, balances, nonce, dispute deadline",
    params(("id" = String, Path, description = "64 hex characters: the open operation's id")),
    responses((status = 200, body = ChannelView),
        (status = 400, description = "not a channel id", body = ErrorBody),
        (status = 404, description = "unknown channel", body = ErrorBody),
        (status = 503, description = "this node serves no chain, or is stopping", body = ErrorBody)))]
pub async fn channel(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<ChannelView>, ApiError> {
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
    Ok(Json(ChannelView::of(&c, info.tip_time_micros)))
}

/// `GET /channels?address=`: the totals, operations pending, and with an address its last
/// used channel-operation nonce and the next one to use.
#[utoipa::path(get, path = "/channels", tag = "channels",
    summary = "Channel totals {total_channels, active_channels, total_locked, total_settled, total_fees, disputes, pending_operations} and an address's channel-operation nonces",
    params(("address" = Option<String>, Query, description = "a peer id: its channel-operation nonces are reported")),
    responses((status = 200, body = ChannelSummary),
        (status = 400, description = "not a peer id", body = ErrorBody),
        (status = 503, description = "this node serves no chain, or is stopping", body = ErrorBody)))]
pub async fn summary(
    State(s): State<ApiState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<ChannelSummary>, ApiError> {
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
    let mut out = ChannelSummary {
        totals: ChannelTotals::of(&info.stats),
        pending_operations: info.pending,
        address: None,
        channel_nonce: None,
        next_channel_nonce: None,
    };
    if let (Some(a), Some((nonce, next))) = (address, info.nonces) {
        out.address = Some(a.to_owned());
        out.channel_nonce = Some(nonce);
        out.next_channel_nonce = Some(next);
    }
    Ok(Json(out))
}

/// `POST /channels/check` with a wire channel update: `200 {"valid": true, "channel_id",
/// "nonce", "paid_units", "deposit_units"}` when the chain's tip makes it a valid payment
/// to the channel's receiver; `400` with the reason otherwise (unknown or closing channel,
/// balances off the deposit, not the sender's seal, nonce not above the chain's).
#[utoipa::path(post, path = "/channels/check", tag = "channels",
    summary = "Check an off-chain channel update {channel_id, nonce, sender_balance, receiver_balance, public_key, signature} against the chain's tip",
    request_body(content = Value, description = "the sender's sealed wire channel update"),
    responses((status = 200, body = UpdateValid),
        (status = 400, description = "why the update pays nothing", body = ErrorBody),
        (status = 404, description = "unknown channel", body = ErrorBody),
        (status = 503, description = "this node serves no chain, or is stopping", body = ErrorBody)))]
pub async fn check(
    State(s): State<ApiState>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<UpdateValid>, ApiError> {
    let Json(v) = body.map_err(|e| rejection(e.body_text()))?;
    let update = ChannelUpdate::from_wire_json(&v.to_string())
        .map_err(|e| ApiError::bad_request(format!("not a channel update: {e}")))?;
    match service(&s)?.check_channel_update(update).await {
        Ok(ok) => Ok(Json(UpdateValid {
            valid: true,
            channel_id: ok.channel.channel_id,
            nonce: ok.nonce,
            paid_units: ok.paid,
            deposit_units: ok.channel.deposit,
        })),
        Err(None) => Err(stopping()),
        Err(Some(e @ ChannelError::UnknownChannel(_))) => Err(ApiError::not_found(e.to_string())),
        Err(Some(e)) => Err(ApiError::bad_request(e.to_string())),
    }
}
