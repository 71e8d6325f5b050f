//! Commitments over HTTP (DOIN additions): `POST /commitments` takes an optimizer's sealed
//! commitment into the commitment pool (and gossips it), so that an optimizer outside the
//! node can commit; `GET /commitments/{optimizer_id}/{hash}` says where an optimizer's
//! commitment is on chain, which is what the optimizer waits for before it reveals
//! ([`doin_consensus::commitment`]).

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::Json;
use doin_consensus::commitment::OptimaeCommitment;
use doin_primitives::models::WireModel;
use serde_json::{json, Value};

use super::coin::service;
use super::error::{rejection, ApiError};
use super::ApiState;
use crate::commitment_pool::CommitmentPoolError;

/// `POST /commitments` with a sealed wire commitment `{optimizer_id, domain_id,
/// bound_commitment, timestamp, public_key, signature}`: `200 {"status": "accepted",
/// "bound_commitment"}` once pooled; `400` with the rule it breaks, `409` if pending or on
/// chain already, `429` when its optimizer has too many pending, `503` when the pool is
/// full.
pub async fn submit(
    State(s): State<ApiState>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(v) = body.map_err(|e| rejection(e.body_text()))?;
    let c = OptimaeCommitment::from_wire_json(&v.to_string())
        .map_err(|e| ApiError::bad_request(format!("not a commitment: {e}")))?;
    let hash = c.bound_commitment.clone();
    match service(&s)?.submit_commitment(c, true).await {
        Ok(()) => Ok(Json(
            json!({"status": "accepted", "bound_commitment": hash}),
        )),
        Err(None) => Err(ApiError::unavailable("the node is stopping")),
        Err(Some(e)) => Err(match e {
            CommitmentPoolError::Invalid(_) => ApiError::bad_request(e.to_string()),
            CommitmentPoolError::OnChain(_) | CommitmentPoolError::AlreadyPending(_) => {
                ApiError::conflict(e.to_string())
            }
            CommitmentPoolError::TooManyPending { .. } => ApiError::too_many(e.to_string()),
            CommitmentPoolError::Full(_) => ApiError::unavailable(e.to_string()),
        }),
    }
}

/// `GET /commitments/{optimizer_id}/{bound}`: `{bound_commitment, height, block_hash,
/// optimizer_id, domain_id}` when a recent block carries that optimizer's bound commitment
/// ([`doin_consensus::commitment::bound_commitment`]); `404`
/// otherwise (pending, expired, or never seen), `400` for a malformed id or hash.
pub async fn lookup(
    State(s): State<ApiState>,
    Path((optimizer_id, hash)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    if !doin_consensus::transfer::is_peer_id(&optimizer_id) {
        return Err(ApiError::bad_request(format!(
            "{optimizer_id:?} is not a peer id (40 lowercase hex characters)"
        )));
    }
    if hash.len() != 64 || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(ApiError::bad_request(format!(
            "{hash:?} is not a bound commitment (64 lowercase hex characters)"
        )));
    }
    let at = service(&s)?
        .commit_block(&hash, &optimizer_id)
        .await
        .ok_or_else(|| ApiError::not_found(format!("commitment {hash} is not on chain")))?;
    Ok(Json(json!({
        "bound_commitment": hash,
        "height": at.height,
        "block_hash": at.block_hash,
        "optimizer_id": at.optimizer_id,
        "domain_id": at.domain_id,
    })))
}
