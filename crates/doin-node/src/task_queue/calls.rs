//! The bodies of evaluators' task calls, read the same way whether they come over HTTP
//! (`/tasks/claim`, `/tasks/complete`) or libp2p (`/doin/tasks/1`).

use doin_primitives::value::Value as DoinValue;

use super::Completion;

/// Reads a `/tasks/complete` body (also a libp2p task call's): the task and the
/// evaluator's completion; the error says what is missing or wrong.
pub fn completion_of(body: &[u8]) -> Result<(String, Completion), String> {
    let v =
        doin_primitives::json::parse_bytes(body).map_err(|e| format!("invalid JSON body: {e}"))?;
    let Some(m) = v.as_object() else {
        return Err("request body must be a JSON object".into());
    };
    let text = |key: &str| {
        m.get(key)
            .and_then(DoinValue::as_str)
            .filter(|s| !s.is_empty())
    };
    let Some(task_id) = text("task_id") else {
        return Err("task_id required".into());
    };
    let evaluator = text("evaluator_id").unwrap_or_default().to_owned();
    let perf = match m.get("verified_performance") {
        None | Some(DoinValue::Null) => return Err("verified_performance required".into()),
        Some(p) => p
            .as_f64()
            .filter(|p| p.is_finite())
            .ok_or("verified_performance must be a finite number")?,
    };
    let vote = match m.get("vote") {
        None | Some(DoinValue::Null) => None,
        Some(vote) => Some(vote.clone()),
    };
    Ok((
        task_id.to_owned(),
        Completion {
            evaluator_id: evaluator,
            verified_performance: perf,
            vote,
        },
    ))
}

/// Reads a `/tasks/claim` body (a libp2p task call's): the task id and the evaluator id.
pub fn claim_request(body: &[u8]) -> Result<(String, String), String> {
    let v =
        doin_primitives::json::parse_bytes(body).map_err(|e| format!("invalid JSON body: {e}"))?;
    let m = v.as_object().ok_or("request body must be a JSON object")?;
    let text = |key: &str| {
        m.get(key)
            .and_then(DoinValue::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    match (text("task_id"), text("evaluator_id")) {
        (Some(task), Some(evaluator)) => Ok((task, evaluator)),
        _ => Err("task_id and evaluator_id required".into()),
    }
}
