//! `GET /peers`: the reference's `self` and `peers`, and the addresses DOIN charged.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiState;

/// `GET /peers`: the reference's `self` and `peers`, and DOIN's `addresses`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Peers {
    /// This node.
    #[serde(rename = "self")]
    pub this: PeerSelf,
    /// Known peers.
    pub peers: Vec<Peer>,
    /// Every address charged at admission, its score and ban (DOIN).
    #[serde(default)]
    #[schema(required = false)]
    pub addresses: Vec<AddressScore>,
}

/// This node in `/peers`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PeerSelf {
    /// Full peer id.
    pub peer_id: String,
    /// Port.
    pub port: u16,
}

/// A peer in `/peers`: the reference's three keys, then DOIN's.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Peer {
    /// Peer id (`host:port` while unknown).
    pub peer_id: String,
    /// Host.
    pub address: String,
    /// Port.
    pub port: Option<u16>,
    /// The application score (DOIN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Last successful contact, Unix seconds (DOIN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<u64>,
    /// Failures in a row (DOIN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<u64>,
    /// Whether connected now (DOIN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected: Option<bool>,
    /// `inbound`, `outbound` or `none` (DOIN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
}

/// An address charged for bad messages.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AddressScore {
    /// The IP address.
    pub address: String,
    /// Its score (lower is worse).
    pub score: f64,
    /// Whether it is banned.
    pub banned: bool,
}

/// `GET /peers`.
#[utoipa::path(get, path = "/peers", tag = "node",
    summary = "Known peers, and the addresses charged for bad messages",
    responses((status = 200, body = Peers)))]
pub async fn peers(State(s): State<ApiState>) -> Json<Peers> {
    if let Some(net) = &s.net {
        // The network service answers in this shape; a mismatch is a bug there, and the
        // endpoint list below still answers.
        match net.peers_json().await.map(serde_json::from_value::<Peers>) {
            Ok(Ok(p)) => return Json(p),
            Ok(Err(e)) => tracing::warn!("the network's peer list does not read: {e}"),
            Err(_) => {}
        }
    }
    let peers = s
        .peers
        .endpoints()
        .into_iter()
        .map(|e| {
            let (address, port) = e.rsplit_once(':').unwrap_or((e.as_str(), ""));
            Peer {
                peer_id: e.clone(),
                address: address.to_owned(),
                port: port.parse::<u16>().ok(),
                score: None,
                last_seen: None,
                failures: None,
                connected: None,
                direction: None,
            }
        })
        .collect();
    Json(Peers {
        this: PeerSelf {
            peer_id: s.info.peer_id.clone(),
            port: s.info.port,
        },
        peers,
        addresses: Vec::new(),
    })
}
