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
use axum::routing::{get, post};
use axum::{Json, Router};
use doin_primitives::models::WireModel;
use serde_json::json;

use super::error::ApiError;
use crate::inference::settlement::{SettleError, Settlement};
use crate::inference::vouchers::HeldVoucher;

/// The routes, with the node's settlement side as their state.
pub fn routes(settlement: Settlement) -> Router {
    Router::new()
        .route("/inference/channels", get(list))
        .route("/inference/channels/{channel_id}", get(one))
        .route("/inference/channels/{channel_id}/close", post(close))
        .with_state(settlement)
}

fn voucher_json(v: &HeldVoucher) -> serde_json::Value {
    let update: serde_json::Value =
        serde_json::from_str(&v.update.to_wire_json()).unwrap_or(serde_json::Value::Null);
    json!({
        "channel_id": v.update.channel_id,
        "sender": v.sender,
        "deposit_units": v.deposit,
        "nonce": v.update.nonce,
        "paid_units": v.paid(),
        "requests": v.requests,
        "updated_at": v.updated_at.wire(),
        "settled": v.settled,
        "update": update,
    })
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
pub async fn list(
    State(s): State<Settlement>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
) -> Result<Json<serde_json::Value>, ApiError> {
    operator_only(&client)?;
    let service = s.service().clone();
    let held = tokio::task::spawn_blocking(move || service.unsettled_vouchers())
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let channels: Vec<_> = held.iter().map(voucher_json).collect();
    Ok(Json(json!({ "channels": channels })))
}

/// `GET /inference/channels/{channel_id}`.
pub async fn one(
    State(s): State<Settlement>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Path(channel_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    operator_only(&client)?;
    checked_id(&channel_id)?;
    let service = s.service().clone();
    let id = channel_id.clone();
    let held = tokio::task::spawn_blocking(move || service.held_voucher(&id))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    match held {
        Some(v) => Ok(Json(voucher_json(&v))),
        None => Err(ApiError::not_found(
            SettleError::NoVoucher(channel_id).to_string(),
        )),
    }
}

/// `POST /inference/channels/{channel_id}/close`.
pub async fn close(
    State(s): State<Settlement>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Path(channel_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    operator_only(&client)?;
    checked_id(&channel_id)?;
    match s.close(&channel_id).await {
        Ok(done) => Ok(Json(json!({
            "status": "submitted",
            "operation_id": done.operation_id,
            "channel_id": channel_id,
            "nonce": done.nonce,
            "paid_units": done.paid,
            "dispute_period_secs": done.dispute_period_secs,
        }))),
        Err(e) => Err(match &e {
            SettleError::NoVoucher(_) => ApiError::not_found(e.to_string()),
            SettleError::NotOpen(_) => ApiError::conflict(e.to_string()),
            SettleError::Refused(_) => ApiError::bad_request(e.to_string()),
            SettleError::Stopped => ApiError::unavailable(e.to_string()),
            SettleError::Storage(_) => ApiError::internal(e.to_string()),
        }),
    }
}

/// The OpenAPI entries of these paths.
pub fn openapi_paths() -> serde_json::Value {
    let error = |d: &str| json!({"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let ok = |d: &str| json!({"description": d, "content": {"application/json": {"schema": {"type": "object"}}}});
    let id = json!([{"name": "channel_id", "in": "path", "required": true, "schema": {"type": "string"}}]);
    let voucher = "{channel_id, sender, deposit_units, nonce, paid_units, requests, updated_at, settled, update}";
    json!({
        "/inference/channels": {"get": {
            "summary": "The payment channels paying this node for inference whose newest voucher is not yet paid out on chain",
            "responses": {"200": ok(&format!("{{channels: [{voucher}]}}")), "403": error("not called from the node's host")}}},
        "/inference/channels/{channel_id}": {"get": {
            "summary": "The newest voucher this node holds for a channel",
            "parameters": id.clone(),
            "responses": {"200": ok(voucher), "403": error("not called from the node's host"), "404": error("no voucher held for the channel")}}},
        "/inference/channels/{channel_id}/close": {"post": {
            "summary": "Close the channel on chain with the newest voucher held (signed with the node's key); the node settles it once the dispute period has passed, and disputes a stale close by the client automatically",
            "parameters": id,
            "responses": {"200": ok("{status: submitted, operation_id, channel_id, nonce, paid_units, dispute_period_secs}"),
                "400": error("the channel pool refused the operation"),
                "403": error("not called from the node's host"),
                "404": error("no voucher held for the channel"),
                "409": error("the channel is not open on chain"),
                "503": error("the node is stopping")}}}
    })
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
