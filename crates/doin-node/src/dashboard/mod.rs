//! The dashboard the node serves itself: one page, its assets embedded in the binary.
//!
//! * `GET /dashboard` — the page (HTML, CSS and plain JavaScript drawing SVG charts);
//! * `GET /dashboard/snapshot` — the first paint, bounded ([`feed::BLOCK_WINDOW`] blocks,
//!   [`feed::ROUND_WINDOW`] round samples per domain, accepted optimae counted per node,
//!   each domain's best on chain over time for the network and per node ([`progress`]),
//!   and the experiments imported from reference chains, `doin-node import-reference`);
//! * `GET /dashboard/events` — server-sent events with deltas only: `block`, `round`,
//!   `status`, and `resync` (after a reorganisation, or when a slow client fell behind);
//! * `GET /dashboard/fleet` and `/dashboard/fleet/data` — several nodes side by side
//!   ([`fleet`]).

pub mod feed;
pub mod fleet;
pub mod progress;

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse};
use axum::Json;
use futures_util::stream::Stream;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api_state::ApiState;

pub use feed::Feed;

const PAGE: &str = include_str!("assets/dashboard.html");
const SCRIPT: &str = include_str!("assets/dashboard.js");
const STYLE: &str = include_str!("assets/dashboard.css");
const FLEET_PAGE: &str = include_str!("assets/fleet.html");

/// The dashboard's state: the API's, plus the feed.
#[derive(Clone)]
pub struct DashboardState {
    api: ApiState,
    feed: Feed,
}

impl DashboardState {
    /// The dashboard's state for `api`; starts the feed that follows it.
    pub fn start(api: &ApiState) -> Self {
        DashboardState {
            api: api.clone(),
            feed: Feed::start(api),
        }
    }
}

/// The dashboard routes and their documentation.
pub fn routes() -> OpenApiRouter<DashboardState> {
    OpenApiRouter::new()
        .routes(routes!(page))
        .routes(routes!(script))
        .routes(routes!(style))
        .routes(routes!(snapshot))
        .routes(routes!(events))
        .routes(routes!(fleet_page))
        .routes(routes!(fleet::data))
}

/// `GET /dashboard`.
#[utoipa::path(get, path = "/dashboard", tag = "dashboard",
    summary = "The live dashboard (one HTML page)",
    responses((status = 200, description = "the page", content_type = "text/html", body = String)))]
async fn page() -> Html<&'static str> {
    Html(PAGE)
}

/// `GET /dashboard/fleet`.
#[utoipa::path(get, path = "/dashboard/fleet", tag = "dashboard",
    summary = "The fleet page: several nodes side by side",
    params(("nodes" = Option<String>, Query, description = "comma-separated host:port (default: this node and its peers; at most 32)")),
    responses((status = 200, description = "the page", content_type = "text/html", body = String)))]
async fn fleet_page() -> Html<&'static str> {
    Html(FLEET_PAGE)
}

/// `GET /dashboard/dashboard.js`.
#[utoipa::path(get, path = "/dashboard/dashboard.js", tag = "dashboard",
    summary = "The dashboard's script",
    responses((status = 200, description = "the script", content_type = "text/javascript", body = String)))]
async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
}

/// `GET /dashboard/dashboard.css`.
#[utoipa::path(get, path = "/dashboard/dashboard.css", tag = "dashboard",
    summary = "The dashboard's style sheet",
    responses((status = 200, description = "the style sheet", content_type = "text/css", body = String)))]
async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}

/// `GET /dashboard/snapshot`: the dashboard's first paint.
#[derive(Debug, Serialize, ToSchema)]
pub struct Snapshot {
    /// The server's clock, Unix seconds.
    pub server_time: f64,
    /// The latest `/status` sample (`null` before the first).
    #[schema(value_type = Option<Object>)]
    pub status: Value,
    /// The last blocks, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub blocks: Value,
    /// The last round samples per domain.
    #[schema(value_type = Object)]
    pub rounds: Value,
    /// Accepted optimae per domain and optimizer.
    #[schema(value_type = Vec<Object>)]
    pub accepted_by_node: Value,
    /// Each domain's best on chain over time, network-wide and per node
    /// ([`progress::shape`]).
    #[schema(value_type = Object)]
    pub best_over_time: Value,
    /// Optimae imported from reference chains.
    #[schema(value_type = Vec<Object>)]
    pub imported: Value,
}

/// `GET /dashboard/snapshot`.
#[utoipa::path(get, path = "/dashboard/snapshot", tag = "dashboard",
    summary = "The dashboard's first paint: status, the last 50 blocks, the last 240 round samples per domain, accepted optimae per node, each domain's best over time",
    responses((status = 200, body = Snapshot)))]
async fn snapshot(State(s): State<DashboardState>) -> Json<Snapshot> {
    let mut doc = s.feed.snapshot();
    Json(Snapshot {
        server_time: doc["server_time"].as_f64().unwrap_or_default(),
        status: doc["status"].take(),
        blocks: doc["blocks"].take(),
        rounds: doc["rounds"].take(),
        accepted_by_node: accepted_by_node(&s.api).await,
        best_over_time: progress::best_over_time(&s.api).await,
        imported: imported_history(&s.api).await,
    })
}

/// Accepted optimae per domain and optimizer, counted by the OLAP database (an indexed
/// aggregate, bounded by domains × optimizers, not a chain scan); empty without stats.
async fn accepted_by_node(s: &ApiState) -> Value {
    stats_rows(
        s,
        "SELECT domain_id AS domain, substr(optimizer_id, 1, 12) AS optimizer, \
         COUNT(*) AS accepted FROM fact_chain_optimae WHERE imported_from IS NULL \
         GROUP BY domain_id, optimizer_id ORDER BY accepted DESC LIMIT 100",
    )
    .await
}

/// The optimae imported from reference chains, per domain, optimizer and experiment, with
/// the last (best) verified performance and the archive they came from; newest first,
/// at most 100 rows; empty without stats.
async fn imported_history(s: &ApiState) -> Value {
    stats_rows(
        s,
        "SELECT domain_id AS domain, substr(optimizer_id, 1, 12) AS optimizer, \
         experiment_id AS experiment, COUNT(*) AS optimae, \
         MIN(block_height) AS first_block, MAX(block_height) AS last_block, \
         (SELECT verified_performance FROM fact_chain_optimae l \
          WHERE l.imported_from = f.imported_from AND l.domain_id = f.domain_id \
          AND l.optimizer_id = f.optimizer_id \
          AND l.experiment_id IS f.experiment_id \
          ORDER BY l.block_height DESC, l.rowid DESC LIMIT 1) AS last_performance, \
         MAX(block_timestamp) AS last_time, \
         substr(imported_from, 1, 16) AS source \
         FROM fact_chain_optimae f WHERE imported_from IS NOT NULL \
         GROUP BY imported_from, domain_id, optimizer_id, experiment_id \
         ORDER BY last_time DESC LIMIT 100",
    )
    .await
}

/// The rows of a read-only OLAP query, off the async runtime; empty without stats or on
/// an error (the dashboard shows what it can).
async fn stats_rows(s: &ApiState, sql: &'static str) -> Value {
    let Some(stats) = s.stats.clone() else {
        return json!([]);
    };
    let rows =
        tokio::task::spawn_blocking(move || stats.reader().and_then(|r| r.query_json(sql, &[])))
            .await;
    match rows {
        Ok(Ok(rows)) => Value::Array(rows),
        _ => json!([]),
    }
}

/// `GET /dashboard/events`.
#[utoipa::path(get, path = "/dashboard/events", tag = "dashboard",
    summary = "Server-sent events with deltas: block, round, status, resync",
    responses((status = 200, description = "the event stream", content_type = "text/event-stream", body = String)))]
async fn events(
    State(s): State<DashboardState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = s.feed.subscribe();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let event = match rx.recv().await {
            Ok(u) => Event::default().event(u.kind).data(&*u.data),
            Err(RecvError::Lagged(_)) => Event::default().event("resync").data("{}"),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(event), rx))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
