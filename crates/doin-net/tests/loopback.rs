//! Two HTTP bridges (`NetService`s behind tiny axum servers on 127.0.0.1:0) exchange
//! published messages over real HTTP by flooding, as reference nodes do.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router as Http};
use doin_net::service::{spawn, Delivery, InboundError, NetConfig, NetHandle};
use tokio::sync::mpsc;

async fn message(
    State(net): State<NetHandle>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> (StatusCode, Json<serde_json::Value>) {
    match net.inbound(&body, remote).await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ok"}))),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"status": "error", "detail": e.to_string()})),
        ),
    }
}

async fn peers(State(net): State<NetHandle>) -> Json<serde_json::Value> {
    Json(net.peers_json().await.unwrap_or_default())
}

/// Starts a node: a service plus `POST /message` and `GET /peers` on 127.0.0.1:0.
async fn node(id: &str, bootstrap: Vec<String>) -> (NetHandle, mpsc::Receiver<Delivery>, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let id = doin_primitives::PeerId::parse(id).expect("a 40-hex test id");
    let mut config = NetConfig::new(id, addr.port());
    config.bootstrap = bootstrap;
    config.heartbeat_interval = Duration::from_millis(200);
    config.discovery_interval = Duration::from_millis(300);
    config.http_timeout = Duration::from_secs(5);
    // Transport only: these test peers have made-up ids (nothing to sign with) and fixed
    // timestamps; admission is tested in `admission.rs` and the node's attack tests.
    config.admission.require_seals = false;
    config.admission.max_age = Duration::MAX;
    config.admission.max_ahead = Duration::MAX;
    let (net, deliveries) = spawn(config).unwrap();
    let app = Http::new()
        .route("/message", post(message))
        .route("/peers", get(peers))
        .with_state(net.clone());
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .ok();
    });
    (net, deliveries, addr.to_string())
}

/// Waits until `net` floods to `peer`.
async fn until_linked(net: &NetHandle, peer: &str) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while !net.connected().await.unwrap().iter().any(|p| p == peer) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no link to {peer}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flooding_nodes_exchange_over_http() {
    let a_id = "a".repeat(40);
    let b_id = "b".repeat(40);
    let (a, mut a_in, a_addr) = node(&a_id, vec![]).await;
    let (b, mut b_in, _) = node(&b_id, vec![a_addr]).await;
    // B learns A from its bootstrap `GET /peers`; A learns B from B's first message
    // (flooding sends nothing on connect).
    until_linked(&b, &a_id).await;
    b.publish(common::announcement(&b_id, 1)).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), a_in.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got.message,
        common::announcement(&b_id, 1).tap_port(&got.message)
    );
    until_linked(&a, &b_id).await;

    let m = common::announcement(&a_id, 2);
    a.publish(m.clone()).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), b_in.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.from, a_id);
    assert_eq!(got.message.dedupe_id(), m.dedupe_id());
    assert!(got.message.payload.get("_sender_port").is_some());

    let m = common::announcement(&b_id, 3);
    b.publish(m.clone()).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), a_in.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.message.dedupe_id(), m.dedupe_id());

    // An oversize body is refused with a typed error before parsing.
    let big = vec![b' '; doin_net::limits::MAX_MESSAGE_BYTES + 1];
    let remote: SocketAddr = "127.0.0.1:1".parse().unwrap();
    assert!(matches!(
        a.inbound(&big, remote).await,
        Err(InboundError::TooLarge { .. })
    ));
    a.shutdown().await;
    b.shutdown().await;
}

trait TapPort {
    fn tap_port(self, received: &doin_primitives::models::Message) -> Self;
}

impl TapPort for doin_primitives::models::Message {
    /// Copies the transport keys the sender added, so the rest can be compared exactly.
    fn tap_port(mut self, received: &doin_primitives::models::Message) -> Self {
        for k in doin_primitives::models::message::TRANSPORT_KEYS {
            if let Some(v) = received.payload.get(k) {
                self.payload.insert(k.to_owned(), v.clone());
            }
        }
        self
    }
}

/// The `/peers` row of `id` in `net`'s answer, as (address, port).
async fn listed_at(net: &NetHandle, id: &str) -> Option<(String, u64)> {
    let v = net.peers_json().await.unwrap();
    v["peers"]
        .as_array()?
        .iter()
        .find(|p| p["peer_id"] == id)
        .map(|p| {
            (
                p["address"].as_str().unwrap_or_default().to_owned(),
                p["port"].as_u64().unwrap_or(0),
            )
        })
}

/// A peer-exchange answer is a claim about other peers: it may introduce peers, but it
/// never moves a peer the address book already holds at another endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_exchange_answer_cannot_move_a_known_peer() {
    let (a_id, b_id, liar_id) = ("a".repeat(40), "b".repeat(40), "c".repeat(40));
    let (a, _a_in, a_addr) = node(&a_id, vec![]).await;
    let (b, _b_in, b_addr) = node(&b_id, vec![a_addr]).await;
    // B's first message introduces it to A.
    until_linked(&b, &a_id).await;
    b.publish(common::announcement(&b_id, 1)).await.unwrap();
    until_linked(&a, &b_id).await;
    let b_port: u64 = b_addr.rsplit_once(':').unwrap().1.parse().unwrap();
    assert_eq!(
        listed_at(&a, &b_id).await,
        Some(("127.0.0.1".to_owned(), b_port))
    );

    // A liar on another address says B lives at the liar's endpoint.
    let listener = tokio::net::TcpListener::bind("127.0.3.1:0").await.unwrap();
    let liar_port = listener.local_addr().unwrap().port();
    let answer = serde_json::json!({
        "self": {"peer_id": liar_id, "port": liar_port},
        "peers": [
            {"peer_id": b_id, "address": "127.0.3.1", "port": liar_port},
            {"peer_id": "d".repeat(40), "address": "127.0.3.1", "port": liar_port},
        ],
    });
    let app = Http::new().route("/peers", get(move || async move { Json(answer) }));
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    a.connect(&format!("127.0.3.1:{liar_port}")).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while listed_at(&a, &"d".repeat(40)).await.is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the liar's answer was never read");
    assert_eq!(
        listed_at(&a, &b_id).await,
        Some(("127.0.0.1".to_owned(), b_port)),
        "a peer-exchange claim moved B's endpoint"
    );
    a.shutdown().await;
    b.shutdown().await;
}
