//! `GET /peers`: the reference's `self` and `peers`, and the addresses and keys DOIN
//! charged or banned.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiState;

/// `GET /peers`: the reference's `self` and `peers`, and DOIN's `addresses` and
/// `banned_peers`.
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
    /// Every peer id banned on either transport, and for how long (DOIN).
    #[serde(default)]
    #[schema(required = false)]
    pub banned_peers: Vec<BannedPeer>,
}

/// A peer id banned for what it sent, on either transport.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BannedPeer {
    /// Its DOIN peer id.
    pub peer_id: String,
    /// Seconds until the ban ends.
    pub seconds_left: u64,
}

/// This node in `/peers`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PeerSelf {
    /// Full peer id.
    pub peer_id: String,
    /// Port.
    pub port: u16,
    /// The addresses other doin nodes reach this node at over libp2p, each with its
    /// `/p2p/<id>` (DOIN; absent when libp2p is off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub p2p_addrs: Option<Vec<String>>,
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
    /// `http` (an HTTP peer; `address` and `port` are its host and port) or `libp2p`
    /// (`address` is the multiaddr of its connection) (DOIN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
    /// Its libp2p peer id (DOIN; libp2p peers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p2p_id: Option<String>,
    /// How many of its messages this node refused as invalid since it connected (DOIN;
    /// libp2p peers: its score recovers with good deliveries, this count does not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<u64>,
}

/// An address charged for bad messages, or banned on either transport.
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
    Json(peer_list(&s).await)
}

/// Every peer on both transports: the HTTP bridge's table (or, without one, the sync
/// endpoints), then the libp2p connections with their application scores.
pub async fn peer_list(s: &ApiState) -> Peers {
    let mut list = http_peers(s).await;
    for p in &mut list.peers {
        p.transport = Some("http".into());
    }
    if let Some(p2p) = &s.p2p {
        let me = p2p.local_peer();
        let addrs = p2p.listen_addrs().await;
        list.this.p2p_addrs = Some(addrs.iter().map(|a| format!("{a}/p2p/{me}")).collect());
        for p in p2p.peers().await {
            list.peers.push(Peer {
                peer_id: p
                    .doin_id
                    .as_ref()
                    .map_or_else(|| p.peer.to_string(), ToString::to_string),
                address: p.address.to_string(),
                port: None,
                score: Some(p.app_score),
                last_seen: None,
                failures: None,
                connected: Some(true),
                direction: None,
                transport: Some("libp2p".into()),
                p2p_id: Some(p.peer.to_string()),
                refused: Some(p.refused),
            });
        }
    }
    list
}

async fn http_peers(s: &ApiState) -> Peers {
    if let Some(net) = &s.net {
        // The network service answers in this shape; a mismatch is a bug there, and the
        // endpoint list below still answers.
        match net.peers_json().await.map(serde_json::from_value::<Peers>) {
            Ok(Ok(p)) => return p,
            Ok(Err(e)) => tracing::warn!("the network's peer list does not read: {e}"),
            Err(_) => {}
        }
    }
    let peers = s
        .peers
        .endpoints()
        .into_iter()
        .filter(|e| crate::p2p::peer_of_endpoint(e).is_none())
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
                transport: None,
                p2p_id: None,
                refused: None,
            }
        })
        .collect();
    Peers {
        this: PeerSelf {
            peer_id: s.info.peer_id.clone(),
            port: s.info.port,
            p2p_addrs: None,
        },
        peers,
        addresses: Vec::new(),
        banned_peers: Vec::new(),
    }
}
