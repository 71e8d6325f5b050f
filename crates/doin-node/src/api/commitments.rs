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
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::coin::service;
use super::error::{rejection, ApiError, ErrorBody};
use super::ApiState;
use crate::commitment_pool::CommitmentPoolError;

/// `POST /commitments`: the commitment is pooled.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommitmentAccepted {
    /// Always `accepted`.
    pub status: &'static str,
    /// Its bound commitment.
    pub bound_commitment: String,
}

/// `GET /commitments/{optimizer_id}/{bound}`: the block carrying the commitment.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommitmentOnChain {
    /// The bound commitment.
    pub bound_commitment: String,
    /// The block's index.
    pub height: u64,
    /// The block's hash.
    pub block_hash: String,
    /// The optimizer.
    pub optimizer_id: String,
    /// The domain.
    pub domain_id: String,
}

/// `POST /commitments` with a sealed wire commitment `{optimizer_id, domain_id,
/// bound_commitment, timestamp, public_key, signature}`: `200 {"status": "accepted",
/// "bound_commitment"}` once pooled; `400` with the rule it breaks, `409` if pending or on
/// chain already, `429` when its optimizer has too many pending, `503` when the pool is
/// full.
#[utoipa::path(post, path = "/commitments", tag = "commitments",
    summary = "Submit an optimizer's sealed commitment {optimizer_id, domain_id, bound_commitment, timestamp, public_key, signature}; blocks carry it before its reveal",
    request_body(content = Value, description = "the sealed wire commitment"),
    responses((status = 200, body = CommitmentAccepted),
        (status = 400, description = "the rule the commitment breaks", body = ErrorBody),
        (status = 409, description = "pending or on chain already", body = ErrorBody),
        (status = 429, description = "too many pending for its optimizer", body = ErrorBody),
        (status = 503, description = "commitment pool full, or the node is stopping", body = ErrorBody)))]
pub async fn submit(
    State(s): State<ApiState>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<CommitmentAccepted>, ApiError> {
    let Json(v) = body.map_err(|e| rejection(e.body_text()))?;
    let c = OptimaeCommitment::from_wire_json(&v.to_string())
        .map_err(|e| ApiError::bad_request(format!("not a commitment: {e}")))?;
    let hash = c.bound_commitment.clone();
    match service(&s)?.submit_commitment(c, true).await {
        Ok(()) => Ok(Json(CommitmentAccepted {
            status: "accepted",
            bound_commitment: hash,
        })),
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
#[utoipa::path(get, path = "/commitments/{optimizer_id}/{bound}", tag = "commitments",
    summary = "Where an optimizer's bound commitment is on chain",
    params(("optimizer_id" = String, Path, description = "the optimizer's peer id"),
        ("bound" = String, Path, description = "the bound commitment (64 lowercase hex characters)")),
    responses((status = 200, body = CommitmentOnChain),
        (status = 400, description = "not a peer id or not a commitment hash", body = ErrorBody),
        (status = 404, description = "not on chain", body = ErrorBody),
        (status = 503, description = "this node serves no chain, or is stopping", body = ErrorBody)))]
pub async fn lookup(
    State(s): State<ApiState>,
    Path((optimizer_id, hash)): Path<(String, String)>,
) -> Result<Json<CommitmentOnChain>, ApiError> {
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
    Ok(Json(CommitmentOnChain {
        bound_commitment: hash,
        height: at.height,
        block_hash: at.block_hash,
        optimizer_id: at.optimizer_id,
        domain_id: at.domain_id,
    }))
}
