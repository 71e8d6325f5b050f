//! Sync over libp2p: [`P2pTransport`] asks a peer's chain status and pages on
//! `/doin/sync/1` ([`doin_net::p2p`]); [`NodeTransport`] is what the sync loop uses, libp2p
//! for `/p2p/<id>` endpoints and HTTP ([`SyncClient`]) for `host:port` ones.

use std::future::Future;

use doin_net::p2p::{P2pHandle, RequestError};
use doin_primitives::models::{Block, WireModel};
use rayon::prelude::*;

use super::transport::{BlockTransport, Page, PageError, SyncClient};
use super::{parse_chain_status, PeerChain};
use crate::p2p::peer_of_endpoint;

/// A [`BlockTransport`] over libp2p request-response; a peer is `/p2p/<id>`.
#[derive(Clone)]
pub struct P2pTransport {
    /// The libp2p handle.
    pub handle: P2pHandle,
}

fn peer_error(e: RequestError) -> PageError {
    match e {
        RequestError::TooLarge { limit } => PageError::TooLarge { limit },
        other => PageError::Peer(other.to_string()),
    }
}

impl BlockTransport for P2pTransport {
    fn chain_status(
        &self,
        peer: &str,
    ) -> impl Future<Output = Result<PeerChain, String>> + Send + 'static {
        let (handle, endpoint) = (self.handle.clone(), peer.to_owned());
        async move {
            let peer = peer_of_endpoint(&endpoint)
                .ok_or_else(|| format!("{endpoint} is not a libp2p peer"))?;
            let json = handle
                .chain_status(peer)
                .await
                .map_err(|e| format!("{endpoint}: {e}"))?;
            let v = doin_primitives::json::parse_bytes(&json)
                .map_err(|e| format!("{endpoint}: chain status: {e}"))?;
            let chain = parse_chain_status(&v)?;
            crate::metrics::METRICS.peer_height_seen(chain.height.max(0) as u64);
            Ok(chain)
        }
    }

    fn page(
        &self,
        peer: &str,
        from: i64,
        to: i64,
        max_bytes: usize,
    ) -> impl Future<Output = Result<Page, PageError>> + Send + 'static {
        let (handle, endpoint) = (self.handle.clone(), peer.to_owned());
        async move {
            let peer = peer_of_endpoint(&endpoint)
                .ok_or_else(|| PageError::Peer(format!("{endpoint} is not a libp2p peer")))?;
            let page = handle
                .page(peer, from, to, max_bytes)
                .await
                .map_err(peer_error)?;
            let bytes = page.bytes;
            let blocks = tokio::task::spawn_blocking(move || parse_blocks(&page.blocks))
                .await
                .map_err(|e| PageError::Peer(e.to_string()))?
                .map_err(|e| PageError::Peer(format!("block (from {endpoint}): {e}")))?;
            Ok(Page { blocks, bytes })
        }
    }
}

/// Parses a page's blocks, each exactly with DOIN's parser (its floats hash as sent), on
/// every core: a page's blocks arrive as separate JSON texts, and parsing them is a share
/// of a sync's CPU that would otherwise run on one async worker while the other cores wait.
/// The first block (in page order) that does not parse is the one reported.
fn parse_blocks(blocks: &[Vec<u8>]) -> Result<Vec<Block>, String> {
    let parsed: Vec<Result<Block, String>> = blocks
        .par_iter()
        .map(|b| {
            let v = doin_primitives::json::parse_bytes(b).map_err(|e| e.to_string())?;
            Block::from_value(&v).map_err(|e| e.to_string())
        })
        .collect();
    parsed.into_iter().collect()
}

/// The sync loop's transport: libp2p for `/p2p/<id>` endpoints (when libp2p runs), HTTP
/// for the others.
#[derive(Clone)]
pub struct NodeTransport {
    /// HTTP peers.
    pub http: SyncClient,
    /// Libp2p peers.
    pub p2p: Option<P2pTransport>,
}

impl BlockTransport for NodeTransport {
    fn chain_status(
        &self,
        peer: &str,
    ) -> impl Future<Output = Result<PeerChain, String>> + Send + 'static {
        let p2p = self
            .p2p
            .as_ref()
            .filter(|_| peer_of_endpoint(peer).is_some())
            .map(|t| t.chain_status(peer));
        let http = p2p
            .is_none()
            .then(|| BlockTransport::chain_status(&self.http, peer));
        async move {
            match (p2p, http) {
                (Some(f), _) => f.await,
                (None, Some(f)) => f.await,
                (None, None) => Err("no transport".into()),
            }
        }
    }

    fn page(
        &self,
        peer: &str,
        from: i64,
        to: i64,
        max_bytes: usize,
    ) -> impl Future<Output = Result<Page, PageError>> + Send + 'static {
        let p2p = self
            .p2p
            .as_ref()
            .filter(|_| peer_of_endpoint(peer).is_some())
            .map(|t| t.page(peer, from, to, max_bytes));
        let http = p2p
            .is_none()
            .then(|| BlockTransport::page(&self.http, peer, from, to, max_bytes));
        async move {
            match (p2p, http) {
                (Some(f), _) => f.await,
                (None, Some(f)) => f.await,
                (None, None) => Err(PageError::Peer("no transport".into())),
            }
        }
    }
}
