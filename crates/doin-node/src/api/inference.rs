//! `POST /inference` and `GET /inference/{task_id}`: inference requests and their results
//! (see [`crate::inference`]).
//!
//! The request is the reference's `{"domain_id", "input_data"?: {}, "client_id"?:
//! "anonymous"}` plus DOIN's optional `payment` (a voucher for the node's payment check).
//! Answers: `200 {"status":"queued","task_id","domain_id","client_id","price",
//! "amount_paid"}`; `400` malformed (`domain_id required`, bad input); `402` payment
//! refused; `404 unknown domain: X`; `409` not served here or no model on chain yet; `429`
//! over the rate limit of the source address (or of the paying channel); `503` queue full. Every error is
//! `{"status":"error","detail":…}` and nothing is recorded for it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::Json;
use doin_primitives::cjson::to_cjson;
use doin_primitives::Value;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use crate::inference::{
    InferenceRequest, InferenceService, Refusal, ANONYMOUS, MAX_CLIENT_ID_CHARS, MAX_VOUCHER_BYTES,
};

/// Largest request body on these paths (the input limit plus a voucher, with room).
const MAX_BODY: usize = 256 * 1024;

/// The inference routes and their documentation; the service is their state.
pub fn routes() -> OpenApiRouter<Arc<InferenceService>> {
    OpenApiRouter::new()
        .routes(routes!(submit))
        .routes(routes!(fetch))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
}

/// `POST /inference`'s body (documentation: the handler reads it with DOIN's exact JSON
/// parser, [`parse_request`], so a voucher's numbers reach the payment check as signed).
#[allow(dead_code)]
#[derive(Debug, ToSchema)]
pub struct InferenceAsk {
    /// The domain whose best model answers.
    pub domain_id: String,
    /// The model's input (wine_quality: `{wine: {...11 measurements}}` or `{wines: [...]}`;
    /// simple_quadratic: `{x: [...]}` or `{}`).
    #[schema(value_type = Option<Object>)]
    pub input_data: Option<serde_json::Value>,
    /// Who asks (default `anonymous`).
    pub client_id: Option<String>,
    /// A payment channel update (its wire JSON, sealed by the channel's sender) paying
    /// this node at least the domain's price more than the previous one; needed when the
    /// domain has an `inference_price`.
    #[schema(value_type = Option<Object>)]
    pub payment: Option<serde_json::Value>,
}

/// `POST /inference`: the request is queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct InferenceQueued {
    /// Always `queued`.
    pub status: &'static str,
    /// Fetch the answer with `GET /inference/{task_id}`.
    pub task_id: String,
    /// The domain.
    pub domain_id: String,
    /// Who asked.
    pub client_id: String,
    /// The domain's price, base units.
    pub price: u64,
    /// What the voucher paid, base units.
    pub amount_paid: u64,
}

/// `GET /inference/{task_id}`: an inference request's record, served as its wire JSON
/// (exact numbers); this type documents it.
#[allow(dead_code)]
#[derive(Debug, ToSchema)]
pub struct InferenceRecord {
    /// The request's id.
    pub task_id: String,
    /// Always `inference_request`.
    pub task_type: String,
    /// The domain.
    pub domain_id: String,
    /// Who asked.
    pub client_id: String,
    /// `queued`, `running`, `completed` or `failed`.
    pub status: String,
    /// Why it failed.
    pub detail: Option<String>,
    /// The model's answer.
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    /// SHA-256 of the canonical input.
    pub input_hash: String,
    /// The price, base units.
    pub price: u64,
    /// What the voucher paid, base units.
    pub amount_paid: u64,
    /// The model used.
    pub model: Option<ModelUsed>,
    /// When it was queued (ISO 8601).
    pub submitted_at: String,
    /// When it started.
    pub started_at: Option<String>,
    /// When it finished.
    pub finished_at: Option<String>,
    /// How long the model ran, milliseconds.
    pub run_ms: Option<f64>,
}

/// The model an inference ran: the best optimae on chain when it started.
#[allow(dead_code)]
#[derive(Debug, ToSchema)]
pub struct ModelUsed {
    /// The optimae's parameters.
    #[schema(value_type = Object)]
    pub parameters: serde_json::Value,
    /// SHA-256 of the canonical parameters.
    pub parameters_hash: String,
    /// Its verified performance.
    pub best_performance: Option<f64>,
    /// The chain height it was read at.
    pub chain_height: i64,
    /// The tip then.
    pub tip_hash: String,
    /// The optimae's id.
    pub optimae_id: Option<String>,
    /// The block that accepted it.
    pub optimae_block: Option<i64>,
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        let status = match &r {
            Refusal::BadRequest(_) => StatusCode::BAD_REQUEST,
            Refusal::UnknownDomain(_) => StatusCode::NOT_FOUND,
            Refusal::NotServed(_) => StatusCode::CONFLICT,
            Refusal::PaymentRequired(_) => StatusCode::PAYMENT_REQUIRED,
            Refusal::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Refusal::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError {
            status,
            detail: r.to_string(),
        }
    }
}

/// Reads a request body from `source`: DOIN's exact JSON parser, so that a voucher's
/// numbers reach the payment check exactly as the client signed them.
pub fn parse_request(body: &[u8], source: IpAddr) -> Result<InferenceRequest, Refusal> {
    let bad = |d: &str| Refusal::BadRequest(d.to_owned());
    let v = doin_primitives::json::parse_bytes(body)
        .map_err(|e| Refusal::BadRequest(format!("invalid JSON body: {e}")))?;
    let Value::Object(m) = v else {
        return Err(bad("request body must be a JSON object"));
    };
    let domain_id = match m.get("domain_id") {
        Some(Value::Str(s)) if !s.is_empty() => s.clone(),
        _ => return Err(bad("domain_id required")),
    };
    let input = match m.get("input_data") {
        None | Some(Value::Null) => doin_primitives::Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(other) => {
            return Err(Refusal::BadRequest(format!(
                "input_data must be a JSON object, got {}",
                other.type_name()
            )))
        }
    };
    let client_id = match m.get("client_id") {
        None | Some(Value::Null) => ANONYMOUS.to_owned(),
        Some(Value::Str(s))
            if !s.is_empty()
                && s.chars().count() <= MAX_CLIENT_ID_CHARS
                && !s.chars().any(char::is_control) =>
        {
            s.clone()
        }
        Some(_) => {
            return Err(Refusal::BadRequest(format!(
                "client_id must be a string of 1 to {MAX_CLIENT_ID_CHARS} printable characters"
            )))
        }
    };
    let payment = match m.get("payment") {
        None | Some(Value::Null) => None,
        Some(p) if to_cjson(p).len() > MAX_VOUCHER_BYTES => {
            return Err(Refusal::BadRequest(format!(
                "payment is larger than {MAX_VOUCHER_BYTES} bytes"
            )))
        }
        Some(p) => Some(p.clone()),
    };
    Ok(InferenceRequest {
        domain_id,
        input,
        client_id,
        payment,
        source,
    })
}

/// `POST /inference`.
#[utoipa::path(post, path = "/inference", tag = "inference",
    summary = "Ask a domain's best model (the best optimae on chain) for an answer; queued, then fetched by task id",
    request_body = InferenceAsk,
    responses((status = 200, body = InferenceQueued),
        (status = 400, description = "domain_id required, or bad input_data, client_id or payment", body = ErrorBody),
        (status = 402, description = "payment refused: no voucher for a priced domain, or the rule the voucher breaks (chain check, receiver, nonce not newer than the one held, underpaying)", body = ErrorBody),
        (status = 404, description = "unknown domain", body = ErrorBody),
        (status = 409, description = "this node does not serve the domain, or it has no model on chain yet", body = ErrorBody),
        (status = 429, description = "the client is over its rate limit", body = ErrorBody),
        (status = 503, description = "the inference queue is full", body = ErrorBody)))]
pub async fn submit(
    State(service): State<Arc<InferenceService>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Result<Json<InferenceQueued>, ApiError> {
    let request = match parse_request(&body, client.ip()) {
        Ok(r) => r,
        Err(e) => {
            crate::inference::COUNTERS
                .refused
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(e.into());
        }
    };
    let (domain_id, client_id) = (request.domain_id.clone(), request.client_id.clone());
    let accepted = tokio::task::spawn_blocking(move || service.submit(request))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok(Json(InferenceQueued {
        status: "queued",
        task_id: accepted.task_id,
        domain_id,
        client_id,
        price: accepted.price,
        amount_paid: accepted.amount_paid,
    }))
}

/// `GET /inference/{task_id}`.
#[utoipa::path(get, path = "/inference/{task_id}", tag = "inference",
    summary = "An inference request's record: status (queued, running, completed, failed with detail), result, the model used, price and timings",
    params(("task_id" = String, Path, description = "the id POST /inference answered")),
    responses((status = 200, body = InferenceRecord),
        (status = 400, description = "task_id too long", body = ErrorBody),
        (status = 404, description = "unknown inference task", body = ErrorBody)))]
pub async fn fetch(
    State(service): State<Arc<InferenceService>>,
    Path(task_id): Path<String>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    if task_id.len() > 128 {
        return Err(ApiError::bad_request("task_id is too long"));
    }
    let id = task_id.clone();
    let record = tokio::task::spawn_blocking(move || service.get(&id))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    match record {
        Some(r) => Ok((
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            doin_primitives::json::to_wire_json(&r.to_value()),
        )),
        None => Err(ApiError::not_found(format!(
            "unknown inference task: {task_id}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn refused(body: &str) -> String {
        match parse_request(body.as_bytes(), LOCAL) {
            Err(Refusal::BadRequest(d)) => d,
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn requests_read_as_the_reference_sends_them_and_bad_ones_say_why() {
        let r = parse_request(br#"{"domain_id":"d"}"#, LOCAL).unwrap();
        assert_eq!(r.client_id, ANONYMOUS);
        assert!(r.input.is_empty() && r.payment.is_none());
        let r = parse_request(
            br#"{"domain_id":"d","input_data":{"x":[1.5]},"client_id":"c","payment":{"n":1}}"#,
            LOCAL,
        )
        .unwrap();
        assert_eq!(r.client_id, "c");
        assert!(r.input.contains_key("x") && r.payment.is_some());
        assert_eq!(refused("{}"), "domain_id required");
        assert_eq!(refused(r#"{"domain_id":""}"#), "domain_id required");
        assert!(refused(r#"{"domain_id":"d","input_data":[1]}"#).contains("input_data"));
        assert!(refused(r#"{"domain_id":"d","client_id":7}"#).contains("client_id"));
        let long = "c".repeat(MAX_CLIENT_ID_CHARS + 1);
        assert!(
            refused(&format!(r#"{{"domain_id":"d","client_id":"{long}"}}"#)).contains("client_id")
        );
        let voucher = "9".repeat(MAX_VOUCHER_BYTES);
        assert!(
            refused(&format!(r#"{{"domain_id":"d","payment":"{voucher}"}}"#)).contains("payment")
        );
        assert!(refused("[1]").contains("object"));
        assert!(refused("not json").contains("invalid JSON"));
    }
}
