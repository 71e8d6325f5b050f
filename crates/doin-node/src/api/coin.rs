//! DOIN's coin over HTTP: `/fees` (the reference's shape), `POST /transfers` and
//! `/balance/{address}` (DOIN additions; the reference serves no transfer or balance path).
//!
//! Amounts: the reference's keys carry DOIN as floats; every amount also appears in
//! integer base units under a `_units` key, and transfers are submitted in base units.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::Json;
use doin_consensus::fee_market::{optimae_stake, suggested_fees};
use doin_consensus::transfer::is_peer_id;
use doin_primitives::models::{Transfer, WireModel};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::channels::ChannelTotals;
use super::error::{rejection, ApiError, ErrorBody};
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

/// `GET /fees`. A reference node with the fee market off answers `{"enabled": false}`
/// alone, hence every other key is optional in the schema; this node always sends all.
#[derive(Debug, Serialize, ToSchema)]
pub struct Fees {
    /// The next block's base fee, DOIN.
    #[schema(required = false)]
    pub base_fee: f64,
    /// Transfers pending.
    #[schema(required = false)]
    pub mempool_size: usize,
    /// The mempool's capacity.
    #[schema(required = false)]
    pub mempool_limit: usize,
    /// Coins burned, DOIN.
    #[schema(required = false)]
    pub total_burned: f64,
    /// Optimae claims in flight this node knows of.
    #[schema(required = false)]
    pub staked_optimae: usize,
    /// Their stakes, DOIN.
    #[schema(required = false)]
    pub total_staked: f64,
    /// Their stakes, base units (DOIN).
    #[schema(required = false)]
    pub total_staked_units: u64,
    /// The suggestion at normal priority, DOIN.
    #[schema(required = false)]
    pub suggested_fees: SuggestedFees,
    /// Whether the fee market is on.
    pub enabled: bool,
    /// The base fee, base units (DOIN).
    #[schema(required = false)]
    pub base_fee_units: u64,
    /// Coins burned, base units (DOIN).
    #[schema(required = false)]
    pub total_burned_units: u64,
    /// Coins minted, base units (DOIN).
    #[schema(required = false)]
    pub total_supply_units: u64,
    /// The suggestions per priority (`low`, `normal`, `high`, `urgent`) (DOIN).
    #[schema(required = false)]
    pub suggested_fees_units: BTreeMap<String, PriorityFee>,
    /// Payment-channel totals (DOIN).
    #[schema(required = false)]
    pub payment_channels: ChannelTotals,
}

/// `/fees`'s `suggested_fees` (DOIN floats).
#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestedFees {
    /// Base fee.
    pub base_fee: f64,
    /// Tip at normal priority.
    pub tip: f64,
    /// Base fee plus tip.
    pub total: f64,
    /// The stake an optimae claim locks.
    pub optimae_stake: f64,
}

/// A fee suggestion at one priority.
#[derive(Debug, Serialize, ToSchema)]
pub struct PriorityFee {
    /// Tip, base units.
    pub tip_units: u64,
    /// Base fee plus tip, base units.
    pub total_units: u64,
    /// Tip, DOIN.
    pub tip: f64,
    /// Base fee plus tip, DOIN.
    pub total: f64,
}

/// `GET /fees`: `{base_fee, mempool_size, mempool_limit, total_burned, staked_optimae,
/// total_staked, suggested_fees: {base_fee, tip, total, optimae_stake}, enabled: true}`
/// (DOIN floats, as the reference), plus the same in base units and the suggestions per
/// priority. `staked_optimae` and `total_staked` are the claims in flight this node knows
/// of ([`crate::evidence::RejectionPool::in_flight`]); `total_burned` includes the stakes
/// burned by rejections.
#[utoipa::path(get, path = "/fees", tag = "coin",
    summary = "Fee market: base fee, suggested fees, mempool size, burned and staked totals (DOIN, and base units in *_units keys)",
    responses((status = 200, body = Fees)))]
pub async fn fees(State(s): State<ApiState>) -> Json<Fees> {
    let v = s.chain_view();
    let staked = s
        .chain_service
        .as_ref()
        .map(|c| c.rejections().in_flight())
        .unwrap_or_default();
    let suggestions = suggested_fees(v.base_fee);
    let (_, tip, total) = suggestions[1];
    let by_priority = suggestions
        .iter()
        .map(|(name, tip, total)| {
            (
                (*name).to_owned(),
                PriorityFee {
                    tip_units: *tip,
                    total_units: *total,
                    tip: coins(*tip),
                    total: coins(*total),
                },
            )
        })
        .collect();
    Json(Fees {
        base_fee: coins(v.base_fee),
        mempool_size: v.mempool_size,
        mempool_limit: v.mempool_limit,
        total_burned: coins(v.total_burned),
        staked_optimae: staked.claims,
        total_staked: coins(staked.staked),
        total_staked_units: staked.staked,
        suggested_fees: SuggestedFees {
            base_fee: coins(v.base_fee),
            tip: coins(tip),
            total: coins(total),
            optimae_stake: coins(optimae_stake(v.base_fee)),
        },
        enabled: true,
        base_fee_units: v.base_fee,
        total_burned_units: v.total_burned,
        total_supply_units: v.total_supply,
        suggested_fees_units: by_priority,
        payment_channels: ChannelTotals::of(&v.channel_stats),
    })
}

/// `POST /transfers`: the transfer is in the mempool.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransferAccepted {
    /// Always `accepted`.
    pub status: &'static str,
    /// The transfer's id.
    pub transfer_id: String,
    /// Transfers pending now.
    pub mempool_size: usize,
}

/// `GET /balance/{address}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Balance {
    /// The peer id asked about.
    pub address: String,
    /// Balance, DOIN.
    pub balance: f64,
    /// Balance, base units.
    pub balance_units: u64,
    /// The last nonce used on chain.
    pub nonce: u64,
    /// The nonce its next transfer takes (after its pending ones).
    pub next_nonce: u64,
    /// Its transfers in the mempool.
    pub pending_transfers: usize,
}

/// `POST /transfers` with a signed wire transfer (amounts in base units): `200
/// {"status": "accepted", "transfer_id", "mempool_size"}` once in the mempool (and
/// gossiped); `400` with the rule it breaks, `409` if already pending, `429` over the
/// caller's rate limit, `503` when the mempool is full.
#[utoipa::path(post, path = "/transfers", tag = "coin",
    summary = "Submit a signed transfer {sender, recipient, amount, fee, nonce, timestamp, public_key, signature} (amount and fee in base units; 1 DOIN = 10^8)",
    request_body(content = Value, description = "the signed wire transfer"),
    responses((status = 200, body = TransferAccepted),
        (status = 400, description = "the rule the transfer breaks", body = ErrorBody),
        (status = 409, description = "already pending", body = ErrorBody),
        (status = 429, description = "rate limited", body = ErrorBody),
        (status = 503, description = "mempool full, or the node is stopping", body = ErrorBody)))]
pub async fn submit_transfer(
    State(s): State<ApiState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<TransferAccepted>, ApiError> {
    let Json(v) = body.map_err(|e| rejection(e.body_text()))?;
    let text = v.to_string();
    let transfer = Transfer::from_wire_json(&text)
        .map_err(|e| ApiError::bad_request(format!("not a transfer: {e}")))?;
    let chain = service(&s)?;
    let source = format!("http:{}", client.ip());
    match chain.submit_transfer(transfer, &source, true).await {
        Ok(id) => Ok(Json(TransferAccepted {
            status: "accepted",
            transfer_id: id,
            mempool_size: chain.view().mempool_size,
        })),
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
#[utoipa::path(get, path = "/balance/{address}", tag = "coin",
    summary = "An address's balance, last used nonce, next nonce and pending transfers",
    params(("address" = String, Path, description = "a peer id (40 lowercase hex characters)")),
    responses((status = 200, body = Balance), (status = 400, description = "not a peer id", body = ErrorBody),
        (status = 503, description = "this node serves no chain, or is stopping", body = ErrorBody)))]
pub async fn balance(
    State(s): State<ApiState>,
    Path(address): Path<String>,
) -> Result<Json<Balance>, ApiError> {
    if !is_peer_id(&address) {
        return Err(ApiError::bad_request(format!(
            "{address:?} is not a peer id (40 lowercase hex characters)"
        )));
    }
    let info = service(&s)?
        .account(&address)
        .await
        .map_err(ApiError::unavailable)?;
    Ok(Json(Balance {
        address,
        balance: coins(info.account.balance),
        balance_units: info.account.balance,
        nonce: info.account.nonce,
        next_nonce: info.next_nonce,
        pending_transfers: info.pending,
    }))
}
