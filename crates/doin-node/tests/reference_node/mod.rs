//! A reference node played over HTTP exactly as the reference speaks: its `GET /peers`
//! (with an unresolved `host:port` row, as it lists the doin node it bootstraps from), its
//! `/chain/status`, a `POST /message` inbox that acknowledges and discards control frames
//! and never sends SUBSCRIBE, and its announcement-driven sync (on each
//! `block_announcement`, `GET /chain/blocks` from the announcing address, appended by the
//! reference's rules, `doin_consensus::reference::sync`). It posts messages as the
//! reference's GossipSub layer wraps them. Used by `reference_peer.rs` (one doin node) and
//! `reference_bridge.rs` (a libp2p network of doin nodes, one of them its bridge).

#![allow(dead_code, unreachable_pub)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] functions

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use doin_consensus::reference::sync::ReferenceFollower;
use doin_primitives::value::Value;
use serde_json::json;
use tokio::sync::watch;

/// The genesis hash every chain starts from.
pub const GENESIS: &str = "4e19257e8941caec2ec6a4d581a981a533ab5728c11e58c3d13040049e3cd6d5";

/// What a played reference node saw.
#[derive(Default)]
pub struct Seen {
    /// `msg_type` of every message posted to it.
    pub messages: Vec<String>,
    /// Each `block_announcement` posted to it: the block's index and generator.
    pub announcements: Vec<(i64, String)>,
    /// Control frames posted to it (acknowledged and discarded, as the reference does).
    pub control_frames: usize,
    /// Its chain: height and tip hash (genesis until it syncs).
    pub height: i64,
    pub tip: String,
    /// `GET /peers` answered since the doin node's port was known.
    pub peers_asked: usize,
    /// Why its sync stopped, if it did.
    pub refused: Option<String>,
    /// `GET /chain/blocks` asked of it.
    pub blocks_asked: usize,
}

/// A played reference node.
pub struct Reference {
    /// Its peer id (a bare claim, as the reference's are).
    pub peer_id: String,
    /// Its HTTP port.
    pub port: u16,
    /// The doin node's port, once known: listed in `/peers` as `127.0.0.1:<port>`.
    pub doin_port: Mutex<Option<u16>>,
    /// Its chain, appended by the reference's rules.
    pub follower: tokio::sync::Mutex<ReferenceFollower>,
    /// What it saw.
    pub seen: watch::Sender<Seen>,
    /// Its HTTP client.
    pub client: reqwest::Client,
}

impl Reference {
    /// Starts its HTTP server on a loopback port.
    pub async fn start(peer_id: &str) -> Arc<Reference> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let r = Arc::new(Reference {
            peer_id: peer_id.to_owned(),
            port,
            doin_port: Mutex::new(None),
            follower: tokio::sync::Mutex::new(ReferenceFollower::new()),
            seen: watch::channel(Seen {
                height: 1,
                tip: GENESIS.to_owned(),
                ..Seen::default()
            })
            .0,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        });
        let app = Router::new()
            .route("/message", post(inbox))
            .route("/peers", get(peers))
            .route("/chain/status", get(chain_status))
            .route("/chain/blocks", get(chain_blocks))
            .route(
                "/tasks/pending",
                get(|| async { Json(json!({"tasks": [], "total_pending": 0})) }),
            )
            .with_state(r.clone());
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        r
    }

    /// The reference's `_sync_with_peer`: `[our height, their height - 1]` in ranges of
    /// 50 from the announcing endpoint, each block appended by its rules.
    pub async fn sync(&self, endpoint: &str, their_height: i64) {
        let mut follower = self.follower.lock().await;
        while follower.height() < their_height {
            let from = follower.height();
            let to = (their_height - 1).min(from + 49);
            let url = format!("http://{endpoint}/chain/blocks?from={from}&to={to}");
            let Ok(text) = self
                .client
                .get(url)
                .send()
                .await
                .and_then(|r| r.error_for_status())
            else {
                return;
            };
            let text = text.text().await.unwrap_or_default();
            let answer = doin_primitives::json::parse(&text).expect("/chain/blocks is JSON");
            let Some(Value::Array(blocks)) = answer.as_object().and_then(|m| m.get("blocks"))
            else {
                panic!("/chain/blocks without blocks: {text:.200}");
            };
            if blocks.is_empty() {
                return;
            }
            for b in blocks {
                let index = follower.height();
                if let Err(e) = follower.append(b) {
                    let reason = format!("block {index}: {e}");
                    self.seen.send_modify(|s| s.refused = Some(reason));
                    return;
                }
            }
            let (height, tip) = (follower.height(), follower.tip_hash().to_owned());
            self.seen.send_modify(|s| {
                s.height = height;
                s.tip = tip;
            });
        }
    }

    /// Waits until `pred` holds on what it saw (within two minutes).
    pub async fn wait(&self, what: &str, pred: impl Fn(&Seen) -> bool) {
        self.wait_within(Duration::from_secs(120), what, pred).await;
    }

    /// Waits until `pred` holds on what it saw, or panics after `timeout`.
    pub async fn wait_within(&self, timeout: Duration, what: &str, pred: impl Fn(&Seen) -> bool) {
        let mut rx = self.seen.subscribe();
        let r = tokio::time::timeout(timeout, rx.wait_for(|s| pred(s))).await;
        if r.is_err() {
            let s = self.seen.borrow();
            panic!(
                "reference {} never saw {what}: height {}, messages {:?}, {} control frames, refused {:?}",
                self.peer_id, s.height, s.messages, s.control_frames, s.refused
            );
        }
    }

    /// Posts `message` to the doin node at `port` as the reference's GossipSub layer
    /// sends it (`{"type": "message", "data": ...}`); returns the status and the answer.
    pub async fn post(&self, port: u16, message: &serde_json::Value) -> (u16, serde_json::Value) {
        let answer = self
            .client
            .post(format!("http://127.0.0.1:{port}/message"))
            .json(&json!({"type": "message", "data": message}))
            .send()
            .await
            .expect("POST /message");
        let status = answer.status().as_u16();
        (status, answer.json().await.unwrap_or_default())
    }
}

/// The reference's `POST /message`: a control frame is acknowledged and dropped, a
/// (wrapped) message answered `{"status": "ok"}` and handled in the background; a
/// `block_announcement` at or above our height starts a sync with the peer whose address
/// sent it (its bootstrap entry `127.0.0.1:<port>`).
async fn inbox(
    State(r): State<Arc<Reference>>,
    axum::extract::ConnectInfo(from): axum::extract::ConnectInfo<SocketAddr>,
    Json(body): Json<serde_json::Value>,
) -> (axum::http::StatusCode, Json<serde_json::Value>) {
    let ok = (axum::http::StatusCode::OK, Json(json!({"status": "ok"})));
    if body["type"] == "control" {
        r.seen.send_modify(|s| s.control_frames += 1);
        return ok;
    }
    let message = if body["type"] == "message" {
        &body["data"]
    } else {
        &body
    };
    let (Some(msg_type), Some(_), Some(_), Some(_)) = (
        message["msg_type"].as_str(),
        message["sender_id"].as_str(),
        message["timestamp"].as_str(),
        message["payload"].as_object(),
    ) else {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            Json(json!({"status": "error", "detail": "invalid message"})),
        );
    };
    r.seen.send_modify(|s| s.messages.push(msg_type.to_owned()));
    if msg_type == "block_announcement" {
        let index = message["payload"]["block_index"]
            .as_i64()
            .expect("block_index");
        let generator = message["payload"]["generator_id"].as_str().unwrap_or("");
        r.seen
            .send_modify(|s| s.announcements.push((index, generator.to_owned())));
        let doin_port = *r.doin_port.lock().unwrap();
        if let (true, Some(port)) = (index >= r.seen.borrow().height, doin_port) {
            assert!(from.ip().is_loopback());
            let r = r.clone();
            tokio::spawn(async move { r.sync(&format!("127.0.0.1:{port}"), index + 1).await });
        }
    }
    ok
}

/// The reference's `GET /peers` (`api_peers.json`): the doin node it bootstrapped from
/// under a placeholder id, `host:port`, never resolved (it resolves ids only from
/// messages, and on loopback it skips even those).
async fn peers(State(r): State<Arc<Reference>>) -> Json<serde_json::Value> {
    let doin_port = *r.doin_port.lock().unwrap();
    let mut peers = Vec::new();
    if let Some(p) = doin_port {
        peers.push(json!({"peer_id": format!("127.0.0.1:{p}"), "address": "127.0.0.1", "port": p}));
        r.seen.send_modify(|s| s.peers_asked += 1);
    }
    Json(json!({"self": {"peer_id": r.peer_id, "port": r.port}, "peers": peers}))
}

/// The reference's `GET /chain/status` (`api_chain_status.json`), a block ahead of what
/// it synced, as a reference node is when it heard of a block from another doin node
/// first.
async fn chain_status(State(r): State<Arc<Reference>>) -> Json<serde_json::Value> {
    let s = r.seen.borrow();
    Json(json!({
        "chain_height": s.height + 1,
        "tip_hash": "f".repeat(64),
        "tip_index": s.height,
        "finalized_height": -1,
        "component_versions": {"agent-multi": "?", "doin-core": "v0.1.0", "doin-node": "v0.1.0",
            "doin-plugins": "v0.1.0", "gym-fx": "?", "trading-contracts": "?"},
    }))
}

/// Its `GET /chain/blocks`: a doin node must never ask (a reference node can only
/// re-serve doin blocks without their seals).
async fn chain_blocks(State(r): State<Arc<Reference>>) -> Json<serde_json::Value> {
    r.seen.send_modify(|s| s.blocks_asked += 1);
    Json(json!({"request_id": "", "blocks": [], "has_more": false}))
}
