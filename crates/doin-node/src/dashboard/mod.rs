//! The dashboard the node serves itself: one page, its assets embedded in the binary.
//!
//! * `GET /dashboard` — the page (HTML, CSS and plain JavaScript drawing SVG charts);
//! * `GET /dashboard/snapshot` — the first paint, bounded ([`feed::BLOCK_WINDOW`] blocks,
//!   [`feed::ROUND_WINDOW`] round samples per domain, accepted optimae counted per node,
//!   and the experiments imported from reference chains, `doin-node import-reference`);
//! * `GET /dashboard/events` — server-sent events with deltas only: `block`, `round`,
//!   `status`, and `resync` (after a reorganisation, or when a slow client fell behind);
//! * `GET /dashboard/fleet` and `/dashboard/fleet/data` — several nodes side by side
//!   ([`fleet`]).

pub mod feed;
pub mod fleet;

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::stream::Stream;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use crate::api::ApiState;

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

/// The dashboard routes; starts the feed that follows `state`.
pub fn routes(state: &ApiState) -> Router {
    let feed = Feed::start(state);
    Router::new()
        .route("/dashboard", get(page))
        .route("/dashboard/dashboard.js", get(script))
        .route("/dashboard/dashboard.css", get(style))
        .route("/dashboard/snapshot", get(snapshot))
        .route("/dashboard/events", get(events))
        .route("/dashboard/fleet", get(fleet_page))
        .route("/dashboard/fleet/data", get(fleet::data))
        .with_state(DashboardState {
            api: state.clone(),
            feed,
        })
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

async fn fleet_page() -> Html<&'static str> {
    Html(FLEET_PAGE)
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
}

async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}

/// `GET /dashboard/snapshot`.
async fn snapshot(State(s): State<DashboardState>) -> Json<Value> {
    let mut doc = s.feed.snapshot();
    doc["accepted_by_node"] = accepted_by_node(&s.api).await;
    doc["imported"] = imported_history(&s.api).await;
    Json(doc)
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
