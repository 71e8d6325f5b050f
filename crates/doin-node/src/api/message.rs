//! `POST /message`: the peer inbox. The body is a Message envelope (raw, or wrapped as
//! `{"type":"message","data":...}`) or a gossip control frame; it is answered at once with
//! `{"status":"ok"}` and processed by the network service, or refused: `400` (malformed,
//! unsigned, bad seal, replayed or mis-dated), `413` (too large), `429` (over the rate),
//! `403` (the sending address or peer is banned).

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::Json;
use doin_net::service::InboundError;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::ApiState;

/// `POST /message`'s answer: taken, to be processed.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageTaken {
    /// Always `ok`.
    pub status: &'static str,
}

/// `POST /message`.
#[utoipa::path(post, path = "/message", tag = "peers",
    summary = "Peer inbox: a Message envelope (raw or {type: message, data}) or a gossip control frame",
    request_body(content = Value, description = "a Message envelope or a gossip control frame"),
    responses((status = 200, body = MessageTaken),
        (status = 400, description = "invalid message: malformed, unsigned, bad seal, replayed or mis-dated", body = ErrorBody),
        (status = 403, description = "the sending address or peer is banned", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 429, description = "rate limited", body = ErrorBody),
        (status = 503, description = "busy, or this node takes no peer messages", body = ErrorBody)))]
pub async fn message(
    State(s): State<ApiState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<MessageTaken>, ApiError> {
    let Some(net) = &s.net else {
        return Err(ApiError::unavailable(
            "this node does not take peer messages",
        ));
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            // Over the HTTP body limit (or unreadable): the address pays as for any body
            // the network refuses.
            net.charge_address(remote, doin_net::Verdict::Oversize);
            crate::metrics::METRICS.gossip_inbound(false);
            return Err(ApiError {
                status: e.status(),
                detail: e.body_text(),
            });
        }
    };
    let inbound = net.inbound(&body, remote).await;
    crate::metrics::METRICS.gossip_inbound(inbound.is_ok());
    match inbound {
        Ok(()) => Ok(Json(MessageTaken { status: "ok" })),
        Err(InboundError::RateLimited | InboundError::RelayRateLimited) => Err(ApiError {
            status: axum::http::StatusCode::TOO_MANY_REQUESTS,
            detail: "rate limited".into(),
        }),
        Err(InboundError::Banned) => Err(ApiError {
            status: axum::http::StatusCode::FORBIDDEN,
            detail: "banned: too many bad messages".into(),
        }),
        Err(e @ InboundError::TooLarge { .. }) => Err(ApiError {
            status: axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            detail: e.to_string(),
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
