//! Errors of the node's HTTP surfaces (the API, the dashboard, the server's admission): a
//! status code and the reference's `{"status":"error","detail":...}` body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error answer: `{"status": "error", "detail": …}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Always `error`.
    #[schema(pattern = "^error$")]
    pub status: &'static str,
    /// What went wrong, for the caller.
    pub detail: String,
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// What went wrong, for the caller.
    pub detail: String,
}

impl ApiError {
    /// 400 with a detail.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            detail: detail.into(),
        }
    }

    /// 404 with a detail.
    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            detail: detail.into(),
        }
    }

    /// 409 with a detail.
    pub fn conflict(detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::CONFLICT,
            detail: detail.into(),
        }
    }

    /// 429: the caller is over its rate limit.
    pub fn too_many(detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            detail: detail.into(),
        }
    }

    /// 500 with a detail (storage failures and the like).
    pub fn internal(detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            detail: detail.into(),
        }
    }

    /// 503: the node is shutting down or overloaded.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            detail: detail.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                status: "error",
                detail: self.detail,
            }),
        )
            .into_response()
    }
}

/// Turns axum's query and body rejections into the JSON error shape.
pub(crate) fn rejection(detail: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(detail.to_string())
}
