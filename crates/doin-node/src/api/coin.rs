//! DOIN's coin over HTTP: `/fees` (the reference's shape), `POST /transfers` and
//! `/balance/{address}` (DOIN additions; the reference serves no transfer or balance path).
//!
//! Amounts: the reference's keys carry DOIN as floats; every amount also appears in
//! integer base units under a `_units` key, and transfers are submitted in base units.

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::Json;
use doin_consensus::fee_market::{optimae_stake, suggested_fees};
use doin_consensus::transfer::is_peer_id;
use doin_primitives::models::{Transfer, WireModel};
use serde_json::{json, Value};

use super::error::{rejection, ApiError};
use super::status::coins;
use super::ApiState;
use crate::chain_service::{ChainHandle, SubmitTransferError};
use crate::mempool::MempoolError;

pub(super) fn service(s: &ApiState) -> Result<ChainHandle, ApiError> {
    s.chain_service
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("this node serves no chain"))?
        .upgrade()
        .ok_or_else(|| ApiError::unavailable("the node is stopping"))
}

/// `GET /fees`: `{base_fee, mempool_size, mempool_limit, total_burned, staked_optimae,
/// total_staked, suggested_fees: {base_fee, tip, total, optimae_stake}, enabled: true}`
/// (DOIN floats, as the reference), plus the same in base units and the suggestions per
/// priority. `staked_optimae` and `total_staked` are the claims in flight this node knows
/// of ([`crate::evidence::RejectionPool::in_flight`]); `total_burned` includes the stakes
/// burned by rejections.
pub async fn fees(State(s): State<ApiState>) -> Json<Value> {
    let v = s.chain_view();
    let staked = s
        .chain_service
        .as_ref()
        .map(|c| c.rejections().in_flight())
        .unwrap_or_default();
    let suggestions = suggested_fees(v.base_fee);
    let (_, tip, total) = suggestions[1];
    let by_priority: serde_json::Map<String, Value> = suggestions
        .iter()
        .map(|(name, tip, total)| {
            (
                (*name).to_owned(),
                json!({"tip_units": tip, "total_units": total, "tip": coins(*tip), "total": coins(*total)}),
            )
        })
        .collect();
    Json(json!({
        "base_fee": coins(v.base_fee),
        "mempool_size": v.mempool_size,
        "mempool_limit": v.mempool_limit,
        "total_burned": coins(v.total_burned),
        "staked_optimae": staked.claims,
        "total_staked": coins(staked.staked),
        "total_staked_units": staked.staked,
        "suggested_fees": {
            "base_fee": coins(v.base_fee),
            "tip": coins(tip),
            "total": coins(total),
            "optimae_stake": coins(optimae_stake(v.base_fee)),
        },
        "enabled": true,
        "base_fee_units": v.base_fee,
        "total_burned_units": v.total_burned,
        "total_supply_units": v.total_supply,
        "suggested_fees_units": by_priority,
        "payment_channels": super::channels::stats_json(&v.channel_stats),
    }))
}

/// `POST /transfers` with a signed wire transfer (amounts in base units): `200
/// {"status": "accepted", "transfer_id", "mempool_size"}` once in the mempool (and
/// gossiped); `400` with the rule it breaks, `409` if already pending, `429` over the
/// caller's rate limit, `503` when the mempool is full.
pub async fn submit_transfer(
    State(s): State<ApiState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(v) = body.map_err(|e| rejection(e.body_text()))?;
    let text = v.to_string();
    let transfer = Transfer::from_wire_json(&text)
        .map_err(|e| ApiError::bad_request(format!("not a transfer: {e}")))?;
    let chain = service(&s)?;
    let source = format!("http:{}", client.ip());
    match chain.submit_transfer(transfer, &source, true).await {
        Ok(id) => Ok(Json(json!({
            "status": "accepted",
            "transfer_id": id,
            "mempool_size": chain.view().mempool_size,
        }))),
        Err(SubmitTransferError::Stopped) => Err(ApiError::unavailable("the node is stopping")),
        Err(SubmitTransferError::Refused(e)) => Err(match e {
            MempoolError::AlreadyPending(_) => ApiError::conflict(e.to_string()),
            MempoolError::RateLimited { .. } => ApiError::too_many(e.to_string()),
            MempoolError::Full { .. } => ApiError::unavailable(e.to_string()),
            MempoolError::Invalid(_) => ApiError::bad_request(e.to_string()),
        }),
    }
}

/// `GET /balance/{address}`: `{address, balance, balance_units, nonce, next_nonce,
/// pending_transfers}`; `nonce` is the last one used on chain, `next_nonce` the one the
/// address's next transfer takes (after its pending ones).
pub async fn balance(
    State(s): State<ApiState>,
    Path(address): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !is_peer_id(&address) {
        return Err(ApiError::bad_request(format!(
            "{address:?} is not a peer id (40 lowercase hex characters)"
        )));
    }
    let info = service(&s)?
        .account(&address)
        .await
        .map_err(ApiError::unavailable)?;
    Ok(Json(json!({
        "address": address,
        "balance": coins(info.account.balance),
        "balance_units": info.account.balance,
        "nonce": info.account.nonce,
        "next_nonce": info.next_nonce,
        "pending_transfers": info.pending,
    })))
}
