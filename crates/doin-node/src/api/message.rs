//! `POST /message`: the peer inbox. The body is a Message envelope (raw, or wrapped as
//! `{"type":"message","data":...}`) or a gossip control frame; it is answered at once with
//! `{"status":"ok"}` and processed by the network service.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::Json;
use doin_net::service::InboundError;
use serde_json::{json, Value};

use super::error::ApiError;
use super::ApiState;

/// `POST /message`.
pub async fn message(
    State(s): State<ApiState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let Some(net) = &s.net else {
        return Err(ApiError::unavailable(
            "this node does not take peer messages",
        ));
    };
    let inbound = net.inbound(&body, remote).await;
    crate::metrics::METRICS.gossip_inbound(inbound.is_ok());
    match inbound {
        Ok(()) => Ok(Json(json!({"status": "ok"}))),
        Err(InboundError::RateLimited) => Err(ApiError {
            status: axum::http::StatusCode::TOO_MANY_REQUESTS,
            detail: "rate limited".into(),
        }),
        Err(InboundError::Busy) | Err(InboundError::Closed) => {
            Err(ApiError::unavailable("node busy; retry later"))
        }
        Err(e) => {
            tracing::debug!(%remote, "refused a peer message: {e}");
            Err(ApiError::bad_request(format!("invalid message: {e}")))
        }
    }
}
