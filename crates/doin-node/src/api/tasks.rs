//! `/tasks/pending`, `/tasks/claim`, `/tasks/complete`: evaluators pull work.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::Json;
use doin_primitives::value::Value as DoinValue;
use serde_json::{json, Value};

use super::error::{rejection, ApiError};
use super::ApiState;
use crate::task_queue::{Completion, TaskError};

/// Largest `limit` a caller may ask for.
const MAX_LIMIT: usize = 500;

/// `GET /tasks/pending?domains=a,b&limit=10`.
pub async fn pending(
    State(s): State<ApiState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let limit = match q.get("limit") {
        None => 10,
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| {
                ApiError::bad_request(format!("limit must be a non-negative integer, got {l:?}"))
            })?
            .min(MAX_LIMIT),
    };
    let domains: Vec<String> = q
        .get("domains")
        .map(|d| {
            d.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let (tasks, total) = s.tasks.pending(&domains, limit);
    let tasks: Vec<_> = tasks.iter().map(|t| t.to_value()).collect();
    Ok(Json(json!({"tasks": tasks, "total_pending": total})))
}

fn body(b: Result<Json<Value>, JsonRejection>) -> Result<Value, ApiError> {
    let Json(v) = b.map_err(|e| rejection(e.body_text()))?;
    if !v.is_object() {
        return Err(ApiError::bad_request("request body must be a JSON object"));
    }
    Ok(v)
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// `POST /tasks/claim` `{"task_id", "evaluator_id"}`.
pub async fn claim(
    State(s): State<ApiState>,
    b: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let v = body(b)?;
    let (Some(task_id), Some(evaluator)) =
        (str_field(&v, "task_id"), str_field(&v, "evaluator_id"))
    else {
        return Err(ApiError::bad_request("task_id and evaluator_id required"));
    };
    match s.tasks.claim(task_id, evaluator) {
        Ok(task) => Ok(Json(json!({"status": "claimed", "task": task.to_value()}))),
        Err(e @ TaskError::NotInQuorum(_)) => Err(ApiError::conflict(e.to_string())),
        Err(e) => Err(ApiError::conflict(e.to_string())),
    }
}

/// `POST /tasks/complete` `{"task_id", "evaluator_id", "verified_performance", "vote"?}`.
/// A verification task completes only with the evaluator's signed vote. The body is read
/// with DOIN's exact JSON parser: the vote's numbers must reach the seal check exactly as
/// the evaluator signed them.
pub async fn complete(State(s): State<ApiState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let v = doin_primitives::json::parse_bytes(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
    let Some(m) = v.as_object() else {
        return Err(ApiError::bad_request("request body must be a JSON object"));
    };
    let text = |key: &str| {
        m.get(key)
            .and_then(DoinValue::as_str)
            .filter(|s| !s.is_empty())
    };
    let Some(task_id) = text("task_id") else {
        return Err(ApiError::bad_request("task_id required"));
    };
    let evaluator = text("evaluator_id").unwrap_or_default().to_owned();
    let perf = match m.get("verified_performance") {
        None | Some(DoinValue::Null) => {
            return Err(ApiError::bad_request("verified_performance required"))
        }
        Some(p) => p
            .as_f64()
            .filter(|p| p.is_finite())
            .ok_or_else(|| ApiError::bad_request("verified_performance must be a finite number"))?,
    };
    let vote = match m.get("vote") {
        None | Some(DoinValue::Null) => None,
        Some(vote) => Some(vote.clone()),
    };
    let completion = Completion {
        evaluator_id: evaluator,
        verified_performance: perf,
        vote,
    };
    match s.tasks.complete(task_id, completion) {
        Ok(_) => Ok(Json(
            json!({"status": "completed", "task_id": task_id, "block_generated": false}),
        )),
        Err(e) => Err(ApiError::conflict(e.to_string())),
    }
}
