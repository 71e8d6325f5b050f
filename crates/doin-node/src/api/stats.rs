//! `/stats`, `/stats/experiments`, `/stats/rounds`, `/stats/chain-metrics`, `/stats/export`:
//! experiment tracking read from the OLAP database on read-only connections of their own
//! (never through the writer), in the reference's JSON shapes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use doin_stats::{OlapReader, StatsError};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{json, Map, Value};
use tokio::sync::Semaphore;
use tokio_util::io::ReaderStream;
use utoipa::ToSchema;

use super::error::{rejection, ApiError, ErrorBody};
use super::ApiState;

/// Rounds `/stats/rounds` returns when no `limit` is given (the reference's default).
pub const DEFAULT_ROUNDS_LIMIT: i64 = 1000;
/// Most rounds one `/stats/rounds` answer carries.
pub const MAX_ROUNDS_LIMIT: i64 = 100_000;

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

fn params(q: Params) -> Result<HashMap<String, String>, ApiError> {
    q.map(|Query(q)| q).map_err(rejection)
}

fn internal(e: StatsError) -> ApiError {
    ApiError::internal(e.to_string())
}

/// Runs `f` on a fresh read-only OLAP connection off the async threads.
async fn with_reader<T: Send + 'static>(
    s: &ApiState,
    f: impl FnOnce(&OlapReader) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let stats = s
        .stats
        .clone()
        .ok_or_else(|| ApiError::unavailable("experiment stats are not enabled on this node"))?;
    tokio::task::spawn_blocking(move || f(&stats.reader().map_err(internal)?))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
}

/// Whether this node serves `domain_id` or has stats of it.
fn domain_known(s: &ApiState, r: &OlapReader, domain_id: &str) -> Result<bool, ApiError> {
    Ok(s.info.domains.iter().any(|d| d.domain_id == domain_id)
        || r.domain_exists(domain_id).map_err(internal)?)
}

/// The tracker summary of a domain's latest experiment on this node (`{}` when none).
fn domain_summary(r: &OlapReader, domain_id: &str) -> Result<Value, ApiError> {
    let rows = r
        .query_json(
            "SELECT e.experiment_id, e.domain_id, \
             (SELECT COUNT(*) FROM fact_round f WHERE f.experiment_id = e.experiment_id) AS rounds, \
             l.best_performance, e.target_performance, \
             COALESCE(l.converged, e.converged) AS converged, l.time_to_target_seconds, \
             l.elapsed_seconds, e.optimizer_plugin, e.performance_metric, e.metric_schema, \
             e.higher_is_better, e.imported_from \
             FROM dim_experiment e LEFT JOIN fact_round l ON l.round_id = ( \
                SELECT round_id FROM fact_round WHERE experiment_id = e.experiment_id \
                ORDER BY round_number DESC LIMIT 1) \
             WHERE e.domain_id = ?1 ORDER BY e.started_at DESC, e.rowid DESC LIMIT 1",
            &[&domain_id],
        )
        .map_err(internal)?;
    let Some(Value::Object(mut row)) = rows.into_iter().next() else {
        return Ok(json!({}));
    };
    for key in ["converged", "higher_is_better"] {
        if let Some(v) = row.get(key).and_then(Value::as_i64) {
            row.insert(key.into(), Value::Bool(v != 0));
        }
    }
    Ok(Value::Object(row))
}

/// `GET /stats`: with `domain`, that domain's tracker summary keys (`experiment_id`,
/// `domain_id`, `rounds`, `best_performance`, …); without, each domain's summary under its
/// id; and `olap_summaries` either way.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsSummary {
    /// The summary's keys, or one summary per domain id.
    #[serde(flatten)]
    pub summary: Map<String, Value>,
    /// Finished experiments' summaries (rows of `fact_experiment_summary`).
    #[schema(schema_with = super::stats_rows::summaries)]
    pub olap_summaries: Vec<Value>,
}

/// `GET /stats/experiments`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Experiments {
    /// Every experiment (rows of `dim_experiment`).
    #[schema(schema_with = super::stats_rows::experiments)]
    pub experiments: Vec<Value>,
    /// Finished experiments' summaries (rows of `fact_experiment_summary`).
    #[schema(schema_with = super::stats_rows::summaries)]
    pub summaries: Vec<Value>,
}

/// `GET /stats/rounds`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rounds {
    /// The experiment's rounds (rows of `fact_round`) by round number.
    #[schema(schema_with = super::stats_rows::rounds)]
    pub rounds: Vec<Value>,
}

/// `GET /stats/chain-metrics`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainMetrics {
    /// How many rows follow.
    pub count: usize,
    /// Accepted optimae (rows of `fact_chain_optimae`).
    #[schema(schema_with = super::stats_rows::chain_optimae)]
    pub metrics: Vec<Value>,
}

/// `GET /stats?domain=X`: one domain's tracker summary, or every domain's, plus
/// `olap_summaries` (finished experiments).
#[utoipa::path(get, path = "/stats", tag = "stats",
    summary = "Experiment tracker summary per domain (or of one), plus olap_summaries",
    params(("domain" = Option<String>, Query, description = "one domain")),
    responses((status = 200, body = StatsSummary), (status = 400, description = "bad query", body = ErrorBody),
        (status = 404, description = "unknown domain", body = ErrorBody),
        (status = 503, description = "experiment stats are not enabled on this node", body = ErrorBody)))]
pub async fn summary(State(s): State<ApiState>, q: Params) -> Result<Json<StatsSummary>, ApiError> {
    let q = params(q)?;
    let domain = q.get("domain").filter(|d| !d.is_empty()).cloned();
    let state = s.clone();
    let body = with_reader(&s, move |r| {
        let summaries = r.summaries(domain.as_deref()).map_err(internal)?;
        match domain {
            Some(d) => {
                if !domain_known(&state, r, &d)? {
                    return Err(ApiError::not_found(format!("unknown domain: {d}")));
                }
                let summary = match domain_summary(r, &d)? {
                    Value::Object(m) => m,
                    _ => Map::new(),
                };
                Ok(StatsSummary {
                    summary,
                    olap_summaries: summaries,
                })
            }
            None => {
                let mut out = Map::new();
                let mut domains: Vec<String> = state
                    .info
                    .domains
                    .iter()
                    .map(|d| d.domain_id.clone())
                    .collect();
                for e in r.experiments().map_err(internal)? {
                    if let Some(d) = e["domain_id"].as_str() {
                        domains.push(d.to_owned());
                    }
                }
                domains.sort();
                domains.dedup();
                for d in domains {
                    let v = domain_summary(r, &d)?;
                    if v.as_object().is_some_and(|m| !m.is_empty()) {
                        out.insert(d, v);
                    }
                }
                Ok(StatsSummary {
                    summary: out,
                    olap_summaries: summaries,
                })
            }
        }
    })
    .await?;
    Ok(Json(body))
}

/// `GET /stats/experiments`: every experiment and every finished experiment's summary.
#[utoipa::path(get, path = "/stats/experiments", tag = "stats",
    summary = "Experiments (dim_experiment) and finished summaries",
    responses((status = 200, body = Experiments),
        (status = 503, description = "experiment stats are not enabled on this node", body = ErrorBody)))]
pub async fn experiments(State(s): State<ApiState>) -> Result<Json<Experiments>, ApiError> {
    let body = with_reader(&s, |r| {
        Ok(Experiments {
            experiments: r.experiments().map_err(internal)?,
            summaries: r.summaries(None).map_err(internal)?,
        })
    })
    .await?;
    Ok(Json(body))
}

/// Whether an experiment id is well formed (ids are 32 hex characters; other nodes' ids
/// may differ, so any short id of letters, digits, `-`, `_` and `.` is accepted).
fn valid_experiment_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `GET /stats/rounds?experiment_id=&limit=1000`: the experiment's rounds by round number.
#[utoipa::path(get, path = "/stats/rounds", tag = "stats",
    summary = "An experiment's rounds (fact_round) by round number",
    params(("experiment_id" = String, Query, description = "the id /stats/experiments lists"),
        ("limit" = Option<i64>, Query, description = "most rounds returned (default 1000, max 100000, >= 0)")),
    responses((status = 200, body = Rounds),
        (status = 400, description = "missing or malformed experiment_id, bad limit", body = ErrorBody),
        (status = 404, description = "unknown experiment", body = ErrorBody),
        (status = 503, description = "experiment stats are not enabled on this node", body = ErrorBody)))]
pub async fn rounds(State(s): State<ApiState>, q: Params) -> Result<Json<Rounds>, ApiError> {
    let q = params(q)?;
    let id = match q.get("experiment_id").map(|s| s.trim()) {
        None | Some("") => return Err(ApiError::bad_request("experiment_id required")),
        Some(id) if !valid_experiment_id(id) => {
            return Err(ApiError::bad_request(format!(
                "malformed experiment_id {id:?}: use the id /stats/experiments lists"
            )))
        }
        Some(id) => id.to_owned(),
    };
    let limit = match q.get("limit").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => DEFAULT_ROUNDS_LIMIT,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if n >= 0 => n.min(MAX_ROUNDS_LIMIT),
            Ok(_) => {
                return Err(ApiError::bad_request(format!(
                    "limit must be >= 0, got {l}"
                )))
            }
            Err(_) => {
                return Err(ApiError::bad_request(format!(
                    "limit must be a non-negative integer, got {l:?}"
                )))
            }
        },
    };
    let body = with_reader(&s, move |r| {
        if !r.experiment_exists(&id).map_err(internal)? {
            return Err(ApiError::not_found(format!("unknown experiment: {id}")));
        }
        Ok(Rounds {
            rounds: r.rounds(&id, limit).map_err(internal)?,
        })
    })
    .await?;
    Ok(Json(body))
}

/// `GET /stats/chain-metrics?domain_id=`: every accepted optimae on the chain (of one
/// domain), whoever optimized it: `{"metrics": [...], "count": n}`.
#[utoipa::path(get, path = "/stats/chain-metrics", tag = "stats",
    summary = "Every participant's accepted optimae from the chain (fact_chain_optimae)",
    params(("domain_id" = Option<String>, Query, description = "one domain")),
    responses((status = 200, body = ChainMetrics),
        (status = 404, description = "unknown domain", body = ErrorBody),
        (status = 503, description = "experiment stats are not enabled on this node", body = ErrorBody)))]
pub async fn chain_metrics(
    State(s): State<ApiState>,
    q: Params,
) -> Result<Json<ChainMetrics>, ApiError> {
    let q = params(q)?;
    let domain = q.get("domain_id").filter(|d| !d.is_empty()).cloned();
    let state = s.clone();
    let body = with_reader(&s, move |r| {
        if let Some(d) = &domain {
            if !domain_known(&state, r, d)? {
                return Err(ApiError::not_found(format!("unknown domain: {d}")));
            }
        }
        let metrics = r.chain_metrics(domain.as_deref()).map_err(internal)?;
        Ok(ChainMetrics {
            count: metrics.len(),
            metrics,
        })
    })
    .await?;
    Ok(Json(body))
}

/// Exports served at once; more are refused with `503` until one has been sent.
pub const MAX_CONCURRENT_EXPORTS: usize = 2;

/// The exports being served (a router's `Extension`): each holds a permit until its
/// download has finished or its client has gone.
#[derive(Debug, Clone)]
pub struct ExportSlots(Arc<Semaphore>);

impl Default for ExportSlots {
    fn default() -> Self {
        ExportSlots(Arc::new(Semaphore::new(MAX_CONCURRENT_EXPORTS)))
    }
}

/// `GET /stats/export`: a consistent copy of the OLAP database, taken with SQLite's
/// online backup API into an unlinked temporary file next to it while the node goes on
/// writing, then streamed from that file (never held in memory). At most
/// [`MAX_CONCURRENT_EXPORTS`] at a time; a client that stops reading is cut by the
/// server's write-stall timeout, which frees its slot and the file.
#[utoipa::path(get, path = "/stats/export", tag = "stats",
    summary = "A consistent copy of the OLAP database (SQLite online backup), streamed; at most two at a time",
    responses((status = 200, description = "olap.db", content_type = "application/vnd.sqlite3", body = Vec<u8>),
        (status = 503, description = "two exports are being sent already, or stats are off", body = ErrorBody)))]
pub async fn export(
    State(s): State<ApiState>,
    Extension(slots): Extension<ExportSlots>,
) -> Result<Response, ApiError> {
    let slot = slots.0.try_acquire_owned().map_err(|_| {
        ApiError::unavailable(format!(
            "{MAX_CONCURRENT_EXPORTS} exports are being sent already; retry when one has finished"
        ))
    })?;
    let stats = s.stats.clone();
    let file = with_reader(&s, move |r| {
        let olap = stats
            .as_ref()
            .map(|h| h.olap_path().to_path_buf())
            .unwrap_or_default();
        let io = |e: std::io::Error| ApiError::internal(format!("export: {e}"));
        let dir = olap
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let tmp = tempfile::Builder::new()
            .prefix(".olap-export-")
            .tempfile_in(dir)
            .map_err(io)?;
        r.backup_to(tmp.path()).map_err(internal)?;
        // Reopened after SQLite has written it, then unlinked: the open handle is all
        // that is left, and it goes when the download ends.
        tmp.reopen().map_err(io)
    })
    .await?;
    let len = file.metadata().map(|m| m.len()).ok();
    let chunks = ReaderStream::new(tokio::fs::File::from_std(file)).map(move |chunk| {
        let _sending = &slot;
        chunk
    });
    let mut response = (
        [
            (header::CONTENT_TYPE, "application/vnd.sqlite3"),
            (header::CONTENT_DISPOSITION, "attachment; filename=olap.db"),
        ],
        Body::from_stream(chunks),
    )
        .into_response();
    if let Some(len) = len {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, header::HeaderValue::from(len));
    }
    Ok(response)
}
