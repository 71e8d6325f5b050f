//! Load shedding before a handler runs: at most so many requests in flight, and at most so
//! many bytes of request bodies being received. A request over either gets `503` with a
//! JSON error at once; nothing queues, so a flood cannot build a backlog of waiting
//! requests. Permits are held until the handler has produced its response: a streamed
//! body (the dashboard's events, an export) does not keep one.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::api::error::ApiError;

/// Body bytes are counted in units of this size (a semaphore holds at most `u32::MAX`).
const BODY_UNIT: usize = 1024;

/// The shared budgets.
#[derive(Debug, Clone)]
pub struct Admission {
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    body_units: Arc<Semaphore>,
    max_body_units: usize,
    body_limit: usize,
}

impl Admission {
    /// `max_in_flight` requests, `max_body_bytes` of bodies; an undeclared (chunked) body
    /// is counted as `body_limit` bytes, the most it may be.
    pub fn new(max_in_flight: usize, max_body_bytes: usize, body_limit: usize) -> Self {
        let max_body_units = max_body_bytes
            .div_ceil(BODY_UNIT)
            .clamp(1, u32::MAX as usize);
        let max_in_flight = max_in_flight.clamp(1, Semaphore::MAX_PERMITS);
        Admission {
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            max_in_flight,
            body_units: Arc::new(Semaphore::new(max_body_units)),
            max_body_units,
            body_limit,
        }
    }

    /// Bytes a request's body will take, as far as its headers tell.
    fn body_bytes(&self, req: &Request) -> usize {
        if let Some(n) = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
        {
            return n.min(self.body_limit);
        }
        if req.headers().contains_key(TRANSFER_ENCODING) {
            return self.body_limit;
        }
        0
    }
}

/// The middleware: admits the request or answers `503`.
pub async fn admit(State(a): State<Admission>, req: Request, next: Next) -> Response {
    let Ok(_request) = a.in_flight.clone().try_acquire_owned() else {
        return busy(format!(
            "the node is handling its maximum of {} requests; retry shortly",
            a.max_in_flight
        ));
    };
    let units = a.body_bytes(&req).div_ceil(BODY_UNIT).min(a.max_body_units);
    let _body = if units == 0 {
        None
    } else {
        match a.body_units.clone().try_acquire_many_owned(units as u32) {
            Ok(p) => Some(p),
            Err(_) => {
                return busy(format!(
                    "the node is receiving its maximum of {} KiB of request bodies; retry shortly",
                    a.max_body_units
                ))
            }
        }
    };
    next.run(req).await
}

fn busy(detail: String) -> Response {
    tracing::debug!("request shed: {detail}");
    ApiError::unavailable(detail).into_response()
}
