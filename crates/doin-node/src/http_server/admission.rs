//! Load shedding before a handler runs: at most so many requests in flight, and at most so
//! many bytes of request bodies being received. A request over either gets `503` with a
//! JSON error at once; nothing queues, so a flood cannot build a backlog of waiting
//! requests. Permits are held until the handler has produced its response: a streamed
//! body (the dashboard's events, an export) does not keep one.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use axum::http::{Request, Response};
use axum::response::IntoResponse;
use tokio::sync::Semaphore;

use crate::http_error::ApiError;

/// Body bytes are counted in units of this size (a semaphore holds at most `u32::MAX`).
const BODY_UNIT: usize = 1024;

/// The shared budgets; a tower layer.
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
    fn body_bytes<B>(&self, req: &Request<B>) -> usize {
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

    /// The permits for `req`, or why it is refused.
    fn permits<B>(&self, req: &Request<B>) -> Result<Permits, String> {
        let Ok(request) = self.in_flight.clone().try_acquire_owned() else {
            return Err(format!(
                "the node is handling its maximum of {} requests; retry shortly",
                self.max_in_flight
            ));
        };
        let units = self
            .body_bytes(req)
            .div_ceil(BODY_UNIT)
            .min(self.max_body_units);
        let body = match units {
            0 => None,
            n => Some(
                self.body_units
                    .clone()
                    .try_acquire_many_owned(n as u32)
                    .map_err(|_| {
                        format!(
                            "the node is receiving its maximum of {} KiB of request bodies; \
                             retry shortly",
                            self.max_body_units
                        )
                    })?,
            ),
        };
        Ok((request, body))
    }
}

type Permits = (
    tokio::sync::OwnedSemaphorePermit,
    Option<tokio::sync::OwnedSemaphorePermit>,
);

fn busy(detail: String) -> Response<Body> {
    tracing::debug!("request shed: {detail}");
    ApiError::unavailable(detail).into_response()
}

impl<S> tower::Layer<S> for Admission {
    type Service = Admit<S>;

    fn layer(&self, inner: S) -> Admit<S> {
        Admit {
            inner,
            admission: self.clone(),
        }
    }
}

/// [`Admission`] applied to a service.
#[derive(Debug, Clone)]
pub struct Admit<S> {
    inner: S,
    admission: Admission,
}

impl<S, B> tower::Service<Request<B>> for Admit<S>
where
    S: tower::Service<Request<B>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        match self.admission.permits(&req) {
            Ok(permits) => {
                let handled = self.inner.call(req);
                Box::pin(async move {
                    let answer = handled.await;
                    drop(permits);
                    answer
                })
            }
            Err(why) => Box::pin(std::future::ready(Ok(busy(why)))),
        }
    }
}
