//! `/inference/channels*`: the payment channels this node is paid through for inference
//! (see [`crate::inference::settlement`]).
//!
//! * `GET /inference/channels` — the channels with a voucher not yet paid out:
//!   `{"channels": [voucher…]}`.
//! * `GET /inference/channels/{id}` — the newest voucher held for a channel (settled or
//!   not); `404` when none.
//! * `POST /inference/channels/{id}/close` — closes the channel on chain with the newest
//!   voucher held (signed with the node's key); the node's watcher settles it once the
//!   dispute period has passed in chain time. `200 {"status":"submitted","operation_id",
//!   "channel_id","nonce","paid_units","dispute_period_secs"}`; `404` no voucher held;
//!   `409` the channel is not open; `400` the pool refused the operation (the rule).
//!
//! A voucher is `{"channel_id","sender","deposit_units","nonce","paid_units","requests",
//! "updated_at","settled","update"}` with `update` the sender's sealed wire JSON.
//! These paths answer the node's operator only: a caller from another host gets `403`
//! (closing is the node's decision, and vouchers tell who pays how much before the chain
//! does); the operator calls them on the node's host, over loopback.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::Json;
use doin_primitives::models::WireModel;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use crate::inference::settlement::{SettleError, Settlement};
use crate::inference::vouchers::HeldVoucher;

/// The routes and their documentation; the node's settlement side is their state.
pub fn routes() -> OpenApiRouter<Settlement> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(one))
        .routes(routes!(close))
}

/// A voucher this node holds: the newest update a channel's sender sealed for it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Voucher {
    /// The channel.
    pub channel_id: String,
    /// Who pays.
    pub sender: String,
    /// The channel's deposit, base units.
    pub deposit_units: u64,
    /// The update's nonce.
    pub nonce: i64,
    /// What it pays this node, base units.
    pub paid_units: u64,
    /// Requests paid through the channel.
    pub requests: u64,
    /// When it was last updated (ISO 8601).
    pub updated_at: String,
    /// Whether it is paid out on chain.
    pub settled: bool,
    /// The sender's sealed update, wire JSON.
    #[schema(value_type = Object)]
    pub update: serde_json::Value,
}

impl Voucher {
    fn of(v: &HeldVoucher) -> Self {
        Voucher {
            channel_id: v.update.channel_id.clone(),
            sender: v.sender.clone(),
            deposit_units: v.deposit,
            nonce: v.update.nonce,
            paid_units: v.paid(),
            requests: v.requests,
            updated_at: v.updated_at.wire(),
            settled: v.settled,
            update: serde_json::from_str(&v.update.to_wire_json())
                .unwrap_or(serde_json::Value::Null),
        }
    }
}

/// `GET /inference/channels`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Vouchers {
    /// The vouchers not yet paid out.
    pub channels: Vec<Voucher>,
}

/// `POST /inference/channels/{channel_id}/close`: the close is submitted.
#[derive(Debug, Serialize, ToSchema)]
pub struct CloseSubmitted {
    /// Always `submitted`.
    pub status: &'static str,
    /// The close operation's id.
    pub operation_id: String,
    /// The channel.
    pub channel_id: String,
    /// The voucher's nonce.
    pub nonce: i64,
    /// What the voucher pays this node, base units.
    pub paid_units: u64,
    /// Seconds of chain time before the close can be settled.
    pub dispute_period_secs: u64,
}

/// Refuses callers that are not on the node's host.
fn operator_only(client: &SocketAddr) -> Result<(), ApiError> {
    if client.ip().is_loopback() {
        return Ok(());
    }
    Err(ApiError {
        status: StatusCode::FORBIDDEN,
        detail: "the node's payment channels answer its operator only: call from the node's \
                 host (loopback)"
            .into(),
    })
}

fn checked_id(id: &str) -> Result<(), ApiError> {
    if id.len() > 128 {
        return Err(ApiError::bad_request("channel_id is too long"));
    }
    Ok(())
}

/// `GET /inference/channels`.
#[utoipa::path(get, path = "/inference/channels", tag = "inference",
    summary = "The payment channels paying this node for inference whose newest voucher is not yet paid out on chain",
    responses((status = 200, body = Vouchers), (status = 403, description = "not called from the node's host", body = ErrorBody)))]
pub async fn list(
    State(s): State<Settlement>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
) -> Result<Json<Vouchers>, ApiError> {
    operator_only(&client)?;
    let service = s.service().clone();
    let held = tokio::task::spawn_blocking(move || service.unsettled_vouchers())
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Json(Vouchers {
        channels: held.iter().map(Voucher::of).collect(),
    }))
}

/// `GET /inference/channels/{channel_id}`.
#[utoipa::path(get, path = "/inference/channels/{channel_id}", tag = "inference",
    summary = "The newest voucher this node holds for a channel",
    params(("channel_id" = String, Path, description = "the channel")),
    responses((status = 200, body = Voucher), (status = 400, description = "channel_id too long", body = ErrorBody),
        (status = 403, description = "not called from the node's host", body = ErrorBody),
        (status = 404, description = "no voucher held for the channel", body = ErrorBody)))]
pub async fn one(
    State(s): State<Settlement>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Path(channel_id): Path<String>,
) -> Result<Json<Voucher>, ApiError> {
    operator_only(&client)?;
    checked_id(&channel_id)?;
    let service = s.service().clone();
    let id = channel_id.clone();
    let held = tokio::task::spawn_blocking(move || service.held_voucher(&id))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    match held {
        Some(v) => Ok(Json(Voucher::of(&v))),
        None => Err(ApiError::not_found(
            SettleError::NoVoucher(channel_id).to_string(),
        )),
    }
}

/// `POST /inference/channels/{channel_id}/close`.
#[utoipa::path(post, path = "/inference/channels/{channel_id}/close", tag = "inference",
    summary = "Close the channel on chain with the newest voucher held (signed with the node's key); the node settles it once the dispute period has passed, and disputes a stale close by the client automatically",
    params(("channel_id" = String, Path, description = "the channel")),
    responses((status = 200, body = CloseSubmitted),
        (status = 400, description = "the channel pool refused the operation", body = ErrorBody),
        (status = 403, description = "not called from the node's host", body = ErrorBody),
        (status = 404, description = "no voucher held for the channel", body = ErrorBody),
        (status = 409, description = "the channel is not open on chain", body = ErrorBody),
        (status = 503, description = "the node is stopping", body = ErrorBody)))]
pub async fn close(
    State(s): State<Settlement>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Path(channel_id): Path<String>,
) -> Result<Json<CloseSubmitted>, ApiError> {
    operator_only(&client)?;
    checked_id(&channel_id)?;
    match s.close(&channel_id).await {
        Ok(done) => Ok(Json(CloseSubmitted {
            status: "submitted",
            operation_id: done.operation_id,
            channel_id,
            nonce: done.nonce,
            paid_units: done.paid,
            dispute_period_secs: done.dispute_period_secs,
        })),
        Err(e) => Err(match &e {
            SettleError::NoVoucher(_) => ApiError::not_found(e.to_string()),
            SettleError::NotOpen(_) => ApiError::conflict(e.to_string()),
            SettleError::Refused(_) => ApiError::bad_request(e.to_string()),
            SettleError::Stopped => ApiError::unavailable(e.to_string()),
            SettleError::Storage(_) => ApiError::internal(e.to_string()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_nodes_host_may_call() {
        assert!(operator_only(&"127.0.0.1:5000".parse().expect("addr")).is_ok());
        assert!(operator_only(&"[::1]:5000".parse().expect("addr")).is_ok());
        let far = operator_only(&"192.0.2.7:5000".parse().expect("addr")).unwrap_err();
        assert_eq!(far.status, StatusCode::FORBIDDEN);
    }
}
