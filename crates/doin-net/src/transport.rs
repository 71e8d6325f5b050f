//! The HTTP client side: `POST /message`, `GET /chain/status`, `GET /chain/blocks`,
//! `GET /peers`, with pooled connections, timeouts and capped response sizes.
//!
//! Bodies from peers are parsed with `doin_primitives::json` (exact int/float handling,
//! non-finite numbers refused), never with `serde_json`, because block hashes depend on
//! the exact float values as received.

use std::time::Duration;

use doin_primitives::models::payload::{BlockResponse, ChainStatus};
use doin_primitives::models::{Block, Message, WireModel};
use doin_primitives::value::Value;

use crate::limits::{
    MAX_BLOCKS_RESPONSE_BYTES, MAX_MESSAGE_BYTES, MAX_PEX_PEERS, MAX_SMALL_RESPONSE_BYTES,
};
use crate::PeerKey;

/// Most blocks the reference serves per `GET /chain/blocks`.
pub const MAX_BLOCKS_PER_REQUEST: u64 = 50;

/// Why a request to a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The HTTP client could not be built.
    #[error("HTTP client setup failed: {0}")]
    Client(String),
    /// Connecting, sending or reading failed (includes timeouts).
    #[error("{endpoint}: {reason}")]
    Http {
        /// The peer.
        endpoint: String,
        /// What happened.
        reason: String,
    },
    /// The peer answered with a non-success status.
    #[error("{endpoint}: HTTP status {status}")]
    Status {
        /// The peer.
        endpoint: String,
        /// The status code.
        status: u16,
    },
    /// The response (or our request) is larger than the limit.
    #[error("{endpoint}: body larger than {limit} bytes")]
    TooLarge {
        /// The peer.
        endpoint: String,
        /// The limit.
        limit: usize,
    },
    /// The response is not the expected JSON.
    #[error("{endpoint}: bad response: {reason}")]
    BadResponse {
        /// The peer.
        endpoint: String,
        /// What is wrong.
        reason: String,
    },
}

/// Blocks from `GET /chain/blocks`.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockRange {
    /// The blocks, parsed exactly.
    pub blocks: Vec<Block>,
    /// Whether the peer has more after these.
    pub has_more: bool,
}

/// One peer in a `GET /peers` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PexPeer {
    /// Its id.
    pub peer_id: PeerKey,
    /// Its host.
    pub address: String,
    /// Its port.
    pub port: u16,
}

impl PexPeer {
    /// `address:port`.
    pub fn endpoint(&self) -> String {
        format!("{}:{}", self.address, self.port)
    }
}

/// A `GET /peers` answer: `{"self": {"peer_id", "port"}, "peers": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PexAnswer {
    /// The answering peer's id and port.
    pub self_peer: Option<(PeerKey, u16)>,
    /// The peers it knows (at most [`MAX_PEX_PEERS`]; bad rows skipped).
    pub peers: Vec<PexPeer>,
}

/// A pooled HTTP client for talking to peers.
#[derive(Debug, Clone)]
pub struct PeerClient {
    http: reqwest::Client,
}

fn http_err(endpoint: &str, e: reqwest::Error) -> TransportError {
    TransportError::Http {
        endpoint: endpoint.to_owned(),
        reason: e.to_string(),
    }
}

fn bad(endpoint: &str, reason: impl ToString) -> TransportError {
    TransportError::BadResponse {
        endpoint: endpoint.to_owned(),
        reason: reason.to_string(),
    }
}

impl PeerClient {
    /// A client with this request timeout (the reference: 30 s; 5 s for discovery).
    pub fn new(timeout: Duration) -> Result<Self, TransportError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .pool_max_idle_per_host(8)
            .pool_idle_timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| TransportError::Client(e.to_string()))?;
        Ok(PeerClient { http })
    }

    /// `POST http://<endpoint>/message` with a JSON body; success is HTTP 200.
    pub async fn post_body(&self, endpoint: &str, body: String) -> Result<(), TransportError> {
        if body.len() > MAX_MESSAGE_BYTES {
            return Err(TransportError::TooLarge {
                endpoint: endpoint.to_owned(),
                limit: MAX_MESSAGE_BYTES,
            });
        }
        let resp = self
            .http
            .post(format!("http://{endpoint}/message"))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| http_err(endpoint, e))?;
        if !resp.status().is_success() {
            return Err(TransportError::Status {
                endpoint: endpoint.to_owned(),
                status: resp.status().as_u16(),
            });
        }
        Ok(())
    }

    /// Sends a message (bare wire JSON, which every reference receiver accepts).
    pub async fn post_message(
        &self,
        endpoint: &str,
        message: &Message,
    ) -> Result<(), TransportError> {
        self.post_body(endpoint, message.to_wire_json()).await
    }

    async fn get_json(
        &self,
        endpoint: &str,
        path_and_query: &str,
        limit: usize,
    ) -> Result<Value, TransportError> {
        let mut resp = self
            .http
            .get(format!("http://{endpoint}{path_and_query}"))
            .send()
            .await
            .map_err(|e| http_err(endpoint, e))?;
        if !resp.status().is_success() {
            return Err(TransportError::Status {
                endpoint: endpoint.to_owned(),
                status: resp.status().as_u16(),
            });
        }
        let too_large = || TransportError::TooLarge {
            endpoint: endpoint.to_owned(),
            limit,
        };
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| http_err(endpoint, e))? {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        doin_primitives::json::parse_bytes(&body).map_err(|e| bad(endpoint, e))
    }

    /// `GET /chain/status`.
    pub async fn chain_status(&self, endpoint: &str) -> Result<ChainStatus, TransportError> {
        let v = self
            .get_json(endpoint, "/chain/status", MAX_SMALL_RESPONSE_BYTES)
            .await?;
        let map = v
            .as_object()
            .ok_or_else(|| bad(endpoint, "not an object"))?;
        ChainStatus::from_map(map).map_err(|e| bad(endpoint, e))
    }

    /// `GET /chain/blocks?from=&to=` (inclusive; at most 50 per request), correlated by a
    /// fresh `request_id` that the answer must echo when it carries one.
    pub async fn blocks(
        &self,
        endpoint: &str,
        from: u64,
        to: u64,
    ) -> Result<BlockRange, TransportError> {
        let to = to.min(from.saturating_add(MAX_BLOCKS_PER_REQUEST - 1));
        let request_id =
            hex::encode(rand_core::RngCore::next_u64(&mut rand_core::OsRng).to_be_bytes());
        let v = self
            .get_json(
                endpoint,
                &format!("/chain/blocks?from={from}&to={to}&request_id={request_id}"),
                MAX_BLOCKS_RESPONSE_BYTES,
            )
            .await?;
        let map = v
            .as_object()
            .ok_or_else(|| bad(endpoint, "not an object"))?;
        let r = BlockResponse::from_map(map).map_err(|e| bad(endpoint, e))?;
        if !r.request_id.is_empty() && r.request_id != request_id {
            return Err(bad(endpoint, "request_id does not match the request"));
        }
        let blocks = r.parse_blocks().map_err(|e| bad(endpoint, e))?;
        if blocks.len() as u64 > to - from + 1 {
            return Err(bad(endpoint, "more blocks than asked for"));
        }
        Ok(BlockRange {
            blocks,
            has_more: r.has_more,
        })
    }

    /// `GET /peers` (peer exchange).
    pub async fn peers(&self, endpoint: &str) -> Result<PexAnswer, TransportError> {
        let v = self
            .get_json(endpoint, "/peers", MAX_SMALL_RESPONSE_BYTES)
            .await?;
        parse_pex(&v).ok_or_else(|| bad(endpoint, "expected {\"self\": ..., \"peers\": [...]}"))
    }
}

fn port_of(v: Option<&Value>) -> Option<u16> {
    v.and_then(Value::as_i64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
}

/// Reads a `GET /peers` answer leniently (bad rows skipped, list capped).
pub fn parse_pex(v: &Value) -> Option<PexAnswer> {
    let m = v.as_object()?;
    let self_peer = m.get("self").and_then(Value::as_object).and_then(|s| {
        let id = s.get("peer_id").and_then(Value::as_str)?;
        Some((id.to_owned(), port_of(s.get("port"))?))
    });
    let peers = m
        .get("peers")?
        .as_array()?
        .iter()
        .filter_map(|p| {
            let p = p.as_object()?;
            Some(PexPeer {
                peer_id: p.get("peer_id").and_then(Value::as_str)?.to_owned(),
                address: p.get("address").and_then(Value::as_str)?.to_owned(),
                port: port_of(p.get("port"))?,
            })
        })
        .filter(|p| !p.peer_id.is_empty() && p.peer_id.len() <= crate::limits::MAX_PEER_ID_LEN)
        .take(MAX_PEX_PEERS)
        .collect();
    Some(PexAnswer { self_peer, peers })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_reference_peers_sample() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/reference/wire-samples/api_peers.json"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{e}"));
        let v = doin_primitives::json::parse(&text).unwrap_or_else(|e| panic!("{e}"));
        let a = parse_pex(&v).unwrap_or_else(|| panic!("unreadable: {text}"));
        assert!(a.self_peer.is_some());
    }
}
