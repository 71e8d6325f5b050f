//! The node's one HTTP server: every route (the API, the peer inbox, inference, the
//! dashboard) behind the same limits, so that no path is left open to a slow or greedy
//! client.
//!
//! * accept loop ([`serve`]) — counts open connections ([`gate`]): past the per-address
//!   cap a new one is closed at once; past the total, it takes the place of an idle one
//!   that never sent a whole request, or is closed. The total is fitted under the file
//!   limit, raised to its hard value at start ([`limits::raise_fd_limit`]), so that the
//!   databases, peer connections and `peers.json` saves always find a descriptor;
//! * per connection — HTTP/1.1 (hyper) with a header-read timeout (idle keep-alive
//!   connections included) and a write-stall timeout ([`stall_guard`]) for clients that
//!   stop reading;
//! * per request ([`stack`]) — load shedding ([`admission`]: requests in flight, body
//!   bytes in flight), the 4 MB body limit, a body-read timeout between chunks, and a
//!   request timeout on the handler. Streamed responses (the dashboard's events, exports)
//!   are not cut by the request timeout and hold no admission permit while they stream;
//!   the write-stall timeout is what bounds them.

pub mod admission;
pub mod gate;
pub mod limits;
pub mod stall_guard;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;
use tower_http::limit::{RequestBodyLimit, RequestBodyLimitLayer};
use tower_http::timeout::{RequestBodyTimeout, RequestBodyTimeoutLayer, Timeout, TimeoutLayer};

/// Largest request body accepted on any path.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

pub use gate::ConnectionGate;
pub use limits::HttpLimits;

/// Largest buffer a connection reads a request's headers into.
pub const MAX_HEADER_BUFFER: usize = 64 * 1024;
/// How long open connections get to finish at shutdown before they are dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Pause after a failed `accept` (out of descriptors, most likely) before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// `app` with the per-request limits of `limits`: the body limit, the request timeout,
/// the body-read timeout and load shedding (outermost first). Applied once around the
/// router, not per route, so a request pays for each layer once.
pub fn stack(
    app: Router,
    limits: &HttpLimits,
) -> RequestBodyLimit<Timeout<RequestBodyTimeout<admission::Admit<Router>>>> {
    tower::ServiceBuilder::new()
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request(),
        ))
        .layer(RequestBodyTimeoutLayer::new(limits.body_read()))
        .layer(admission::Admission::new(
            limits.max_in_flight,
            limits.max_body_bytes_in_flight,
            MAX_BODY_BYTES,
        ))
        .service(app)
}

/// Serves `app` (with [`stack`] applied) on `listener` under `limits` until `stop` turns
/// true; then lets open connections finish for [`SHUTDOWN_GRACE`] and drops the rest.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let fd_limit = limits::raise_fd_limit();
    let max_connections = limits.connections_within(fd_limit);
    if max_connections < limits.max_connections {
        tracing::info!(
            fd_limit,
            max_connections,
            "HTTP connections capped to fit the file limit (raise `ulimit -n` for more)"
        );
    }
    let gate = ConnectionGate::new(max_connections, limits.max_connections_per_address);
    let app = stack(app, &limits);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read())
        .max_buf_size(MAX_HEADER_BUFFER)
        .keep_alive(true);
    let (closing_tx, closing) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut last_error: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => accepted,
        };
        let (stream, remote) = match accepted {
            Ok(a) => a,
            Err(e) => {
                if last_error.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                    tracing::warn!(
                        open = gate.open(),
                        "HTTP accept failed: {e}; new connections wait"
                    );
                    last_error = Some(Instant::now());
                }
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let slot = match gate.admit(remote.ip()) {
            Ok(slot) => slot,
            Err(why) => {
                tracing::debug!(%remote, ?why, "HTTP connection refused");
                continue;
            }
        };
        if gate.evicting() > 0 {
            // Let the evicted connections' tasks close them before accepting more.
            tokio::task::yield_now().await;
        }
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(stall_guard::StallGuard::new(stream, limits.write_stall()));
        let app = app.clone();
        let slot = Arc::new(slot);
        let service = hyper::service::service_fn({
            let slot = slot.clone();
            move |mut req: hyper::Request<Incoming>| {
                slot.productive();
                req.extensions_mut()
                    .insert(ConnectInfo::<SocketAddr>(remote));
                app.clone().oneshot(req)
            }
        });
        let http = http.clone();
        let mut closing = closing.clone();
        connections.spawn(async move {
            let conn = http.serve_connection(io, service);
            tokio::pin!(conn);
            let finished = tokio::select! {
                r = conn.as_mut() => Some(r),
                _ = closing.wait_for(|c| *c) => None,
                () = slot.evicted() => {
                    tracing::debug!(%remote, "idle connection evicted for a new one");
                    return;
                }
            };
            let served = match finished {
                Some(r) => r,
                None => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = served {
                tracing::trace!(%remote, "HTTP connection ended: {e}");
            }
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}
