//! The HTTP API on the node's one port: the reference's paths and JSON shapes.
//!
//! * [`chain`] — `/chain/status`, `/chain/blocks`, `/chain/block/{index}` (sync and users).
//! * [`message`] — `POST /message`, the peer inbox.
//! * [`status`] — `/health`, `/status`, `/api/monitor` (what the reference's dashboard
//!   asks of every peer); [`peers`] — `/peers`.
//! * [`coin`] — `/fees`, `POST /transfers`, `/balance/{address}` (DOIN's coin).
//! * [`commitments`] — `POST /commitments`, `/commitments/{optimizer_id}/{bound}` (optimizers' commitments,
//!   on chain before their reveals).
//! * [`channels`] — `POST /channels`, `/channels/{id}`, `/channels`, `POST /channels/check`
//!   (payment channels on chain).
//! * [`tasks`] — `/tasks/pending`, `/tasks/claim`, `/tasks/complete` (pull-based evaluators).
//! * [`inference`] — `POST /inference`, `GET /inference/{task_id}` (requests served by a
//!   domain's best model; merged by the node with the inference service as state).
//! * [`inference_channels`] — `/inference/channels`, `/inference/channels/{id}`, `POST
//!   /inference/channels/{id}/close` (the channels paying this node for inference).
//! * [`stats`] — `/stats`, `/stats/experiments`, `/stats/rounds`, `/stats/chain-metrics`,
//!   `/stats/export` (experiment tracking, read from the OLAP database).
//! * [`openapi`] — `/openapi.json`, the document describing all of the above.
//! * [`metrics`] — `/metrics`, the Prometheus exposition of [`crate::metrics`]' counters
//!   and the node's state; `/dashboard*` is [`crate::dashboard`]'s.
//!
//! Every answer is a typed response struct (`serde::Serialize` + `utoipa::ToSchema`) in
//! its handler's module, in the reference's JSON shape; blocks, tasks and inference
//! records go out as their stored wire JSON and are described by [`wire_schema`]. Every
//! handler carries `#[utoipa::path]`, and [`app`] is the one route table: the router and
//! the OpenAPI document are the two halves of what it builds, so neither can list a path
//! the other lacks.
//!
//! Handlers read snapshots ([`crate::view`]) and a read-only store connection; none of them
//! waits on block production. Bad parameters get `400` with a JSON error body.

pub mod chain;
pub mod channels;
pub mod coin;
pub mod commitments;
pub mod inference;
pub mod inference_channels;
pub mod message;
pub mod metrics;
pub mod openapi;
pub mod peers;
pub mod stats;
mod stats_rows;
pub mod status;
pub mod tasks;
pub mod wire_schema;

use std::sync::Arc;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use crate::api_state::{ApiState, DomainInfo, NodeInfo};
pub use crate::block_source::BlockSource;
use crate::dashboard::DashboardState;
pub use crate::http_error as error;
pub use crate::http_server::MAX_BODY_BYTES;
use crate::inference::settlement::Settlement;
use crate::inference::InferenceService;

/// The node's API without the inference paths (API-only tests and benches).
pub fn router(state: ApiState) -> Router {
    app(state, None)
}

/// Every route the node serves, from one table that yields both the router and the OpenAPI
/// document (served at `/openapi.json`); the inference paths when `inference` is given.
pub fn app(state: ApiState, inference: Option<(Arc<InferenceService>, Settlement)>) -> Router {
    let core = api_routes()
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state.clone());
    let mut table = OpenApiRouter::with_openapi(openapi::base())
        .merge(core)
        .merge(crate::dashboard::routes().with_state(DashboardState::start(&state)));
    if let Some((service, settlement)) = inference {
        table = table
            .merge(inference::routes().with_state(service))
            .merge(inference_channels::routes().with_state(settlement));
    }
    let (router, document) = table.split_for_parts();
    router
        .layer(axum::Extension(openapi::Document::new(&document)))
        .layer(axum::middleware::from_fn(crate::metrics::http_latency))
}

/// The routes on [`ApiState`].
fn api_routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(message::message))
        .routes(routes!(status::health))
        .routes(routes!(status::status))
        .routes(routes!(peers::peers))
        .routes(routes!(status::monitor))
        .routes(routes!(coin::fees))
        .routes(routes!(coin::submit_transfer))
        .routes(routes!(coin::balance))
        .routes(routes!(commitments::submit))
        .routes(routes!(commitments::lookup))
        .routes(routes!(channels::submit, channels::summary))
        .routes(routes!(channels::check))
        .routes(routes!(channels::channel))
        .routes(routes!(chain::chain_status))
        .routes(routes!(chain::chain_blocks))
        .routes(routes!(chain::chain_block))
        .routes(routes!(tasks::pending))
        .routes(routes!(tasks::claim))
        .routes(routes!(tasks::complete))
        .routes(routes!(stats::summary))
        .routes(routes!(stats::experiments))
        .routes(routes!(stats::rounds))
        .routes(routes!(stats::chain_metrics))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(stats::export))
                .layer(axum::Extension(stats::ExportSlots::default())),
        )
        .routes(routes!(openapi::openapi))
        .routes(routes!(metrics::metrics))
}
