//! `/chain/status`, `/chain/blocks`, `/chain/block/{index}`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use doin_primitives::models::WireModel;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::wire_schema::Block;
use super::ApiState;
pub use crate::view::{status_of, ChainStatus};

/// Most blocks one `/chain/blocks` answer carries.
pub const MAX_BLOCKS_PER_REQUEST: i64 = 50;

/// `GET /chain/blocks`: a page of blocks. Served from the stored wire JSON of each block
/// (no parse and re-encode); this type documents the page.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlocksPage {
    /// The caller's `request_id`, echoed (empty when none).
    pub request_id: String,
    /// The blocks `from..=to`, in order.
    pub blocks: Vec<Block>,
    /// Whether the chain goes on past `to`.
    pub has_more: bool,
}

/// `GET /chain/status`.
#[utoipa::path(get, path = "/chain/status", tag = "chain",
    summary = "Chain height, tip and finality",
    responses((status = 200, body = ChainStatus)))]
pub async fn chain_status(State(s): State<ApiState>) -> Json<ChainStatus> {
    Json(status_of(&s.chain_view()))
}

fn int_param(q: &HashMap<String, String>, key: &str) -> Result<Option<i64>, ApiError> {
    match q.get(key) {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => s
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("{key} must be an integer, got {s:?}"))),
    }
}

/// `GET /chain/blocks?from=&to=&request_id=`: at most 50 blocks, `has_more` when the chain
/// goes on past `to`.
#[utoipa::path(get, path = "/chain/blocks", tag = "chain",
    summary = "A range of blocks (at most 50)",
    params(
        ("from" = Option<i64>, Query, description = "first index (default 0)"),
        ("to" = Option<i64>, Query, description = "last index, inclusive (default tip; capped to from+49)"),
        ("request_id" = Option<String>, Query, description = "echoed in the answer"),
    ),
    responses((status = 200, body = BlocksPage), (status = 400, description = "bad parameter", body = ErrorBody)))]
pub async fn chain_blocks(
    State(s): State<ApiState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let height = s.chain_view().height;
    let from = int_param(&q, "from")?.unwrap_or(0);
    let to = int_param(&q, "to")?.unwrap_or(height - 1);
    if from < 0 {
        return Err(ApiError::bad_request("from must be >= 0"));
    }
    let to = to.min(from.saturating_add(MAX_BLOCKS_PER_REQUEST - 1));
    let request_id = q.get("request_id").cloned().unwrap_or_default();
    let blocks = if to >= from {
        let source = s.blocks.clone();
        tokio::task::spawn_blocking(move || source.blocks_json(from, to))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
            .map_err(ApiError::internal)?
    } else {
        Vec::new()
    };
    // The stored wire JSON of each block goes out as is (no parse and re-encode).
    let mut body = String::with_capacity(64 + blocks.iter().map(String::len).sum::<usize>());
    body.push_str("{\"request_id\":");
    body.push_str(&serde_json::Value::from(request_id).to_string());
    body.push_str(",\"blocks\":[");
    for (i, b) in blocks.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(b);
    }
    body.push_str("],\"has_more\":");
    body.push_str(if to < height - 1 { "true" } else { "false" });
    body.push('}');
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

/// `GET /chain/block/{index}`: a block, or 404.
#[utoipa::path(get, path = "/chain/block/{index}", tag = "chain",
    summary = "One block",
    params(("index" = i64, Path, description = "the block's index")),
    responses((status = 200, body = Block), (status = 400, description = "bad index", body = ErrorBody),
        (status = 404, description = "no such block", body = ErrorBody)))]
pub async fn chain_block(
    State(s): State<ApiState>,
    Path(index): Path<String>,
) -> Result<Response, ApiError> {
    let index: i64 = index.parse().map_err(|_| {
        ApiError::bad_request(format!("block index must be an integer, got {index:?}"))
    })?;
    let source = s.blocks.clone();
    let block = tokio::task::spawn_blocking(move || source.block(index))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(ApiError::internal)?;
    match block {
        Some(b) => Ok(Json(b.to_value()).into_response()),
        None => Err(ApiError::not_found(format!("block {index} not found"))),
    }
}
