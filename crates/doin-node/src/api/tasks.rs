//! `/tasks/pending`, `/tasks/claim`, `/tasks/complete`: evaluators pull work.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{rejection, ApiError, ErrorBody};
use super::wire_schema::Task;
use super::ApiState;
use crate::task_queue::calls::completion_of;
use crate::task_queue::TaskError;

/// Largest `limit` a caller may ask for.
const MAX_LIMIT: usize = 500;

/// `GET /tasks/pending`. Tasks go out as their wire JSON (exact numbers).
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingTasks {
    /// The most urgent pending tasks.
    #[schema(value_type = Vec<Task>)]
    pub tasks: Vec<doin_primitives::Value>,
    /// All pending tasks of those domains.
    pub total_pending: usize,
}

/// `POST /tasks/claim`'s body (documentation: the handler reads it field by field, so a
/// missing or empty field gets its own error).
#[allow(dead_code)]
#[derive(Debug, ToSchema)]
pub struct ClaimRequest {
    /// The task.
    pub task_id: String,
    /// The claiming evaluator's peer id.
    pub evaluator_id: String,
}

/// `POST /tasks/claim`: the task is the caller's.
#[derive(Debug, Serialize, ToSchema)]
pub struct Claimed {
    /// Always `claimed`.
    pub status: &'static str,
    /// The task, claimed.
    #[schema(value_type = Task)]
    pub task: doin_primitives::Value,
}

/// `POST /tasks/complete`'s body (documentation: the handler reads it with DOIN's exact
/// JSON parser, so the vote's numbers reach the seal check as signed).
#[allow(dead_code)]
#[derive(Debug, ToSchema)]
pub struct CompleteRequest {
    /// The task.
    pub task_id: String,
    /// The evaluator's peer id.
    pub evaluator_id: Option<String>,
    /// The evaluator's figure (finite).
    pub verified_performance: f64,
    /// The evaluator's signed vote (required for verification tasks).
    pub vote: Option<Value>,
}

/// `POST /tasks/complete`: the task is done.
#[derive(Debug, Serialize, ToSchema)]
pub struct Completed {
    /// Always `completed`.
    pub status: &'static str,
    /// The task.
    pub task_id: String,
    /// Always `false`: blocks come from the quorum, not this call.
    pub block_generated: bool,
}

/// `GET /tasks/pending?domains=a,b&limit=10`.
#[utoipa::path(get, path = "/tasks/pending", tag = "tasks",
    summary = "Pending tasks, most urgent first",
    params(("domains" = Option<String>, Query, description = "comma-separated domain ids"),
        ("limit" = Option<u32>, Query, description = "most tasks returned (default 10, max 500)")),
    responses((status = 200, body = PendingTasks), (status = 400, description = "bad parameter", body = ErrorBody)))]
pub async fn pending(
    State(s): State<ApiState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<PendingTasks>, ApiError> {
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
    let tasks = tasks.iter().map(|t| t.to_value()).collect();
    Ok(Json(PendingTasks {
        tasks,
        total_pending: total,
    }))
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
#[utoipa::path(post, path = "/tasks/claim", tag = "tasks", summary = "Claim a pending task",
    request_body = ClaimRequest,
    responses((status = 200, body = Claimed), (status = 400, description = "missing fields", body = ErrorBody),
        (status = 409, description = "not claimable", body = ErrorBody)))]
pub async fn claim(
    State(s): State<ApiState>,
    b: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Claimed>, ApiError> {
    let v = body(b)?;
    let (Some(task_id), Some(evaluator)) =
        (str_field(&v, "task_id"), str_field(&v, "evaluator_id"))
    else {
        return Err(ApiError::bad_request("task_id and evaluator_id required"));
    };
    match s.tasks.claim(task_id, evaluator) {
        Ok(task) => Ok(Json(Claimed {
            status: "claimed",
            task: task.to_value(),
        })),
        Err(e @ TaskError::NotInQuorum(_)) => Err(ApiError::conflict(e.to_string())),
        Err(e) => Err(ApiError::conflict(e.to_string())),
    }
}

/// `POST /tasks/complete` `{"task_id", "evaluator_id", "verified_performance", "vote"?}`.
/// A verification task completes only with the evaluator's signed vote. The body is read
/// with DOIN's exact JSON parser: the vote's numbers must reach the seal check exactly as
/// the evaluator signed them.
#[utoipa::path(post, path = "/tasks/complete", tag = "tasks",
    summary = "Complete a claimed task with the evaluator's figure and signed vote",
    request_body = CompleteRequest,
    responses((status = 200, body = Completed), (status = 400, description = "missing or bad fields", body = ErrorBody),
        (status = 409, description = "not completable, or the vote refused (not the claimer's seal, another optimae, another seed)", body = ErrorBody)))]
pub async fn complete(State(s): State<ApiState>, body: Bytes) -> Result<Json<Completed>, ApiError> {
    let (task_id, completion) = completion_of(&body).map_err(ApiError::bad_request)?;
    let task_id = task_id.as_str();
    match s.tasks.complete(task_id, completion) {
        Ok(_) => Ok(Json(Completed {
            status: "completed",
            task_id: task_id.to_owned(),
            block_generated: false,
        })),
        Err(e) => Err(ApiError::conflict(e.to_string())),
    }
}
