//! Blocks pushed with their announcement. A node announces each block it mints
//! (`block_announcement`, sealed) with the block itself under [`BLOCK_KEY`], an extra key
//! of the payload (reference nodes ignore extra keys and keep pulling blocks by
//! `GET /chain/blocks`). A peer whose tip is the block's parent imports it at once and
//! forwards the announcement: a block crosses the network in one gossip hop per node,
//! instead of an announcement followed by a sync round trip to a random peer.
//!
//! What a peer that cannot use the block does: a block that fails its stateless checks
//! (hash, seal, transaction ids) or the chain's rules costs the peer that sent it
//! ([`Verdict::InvalidBlock`]); one that does not extend our tip (we lag, or it is on
//! another branch) is neither forwarded nor charged ([`Verdict::Ignored`]), and a sync
//! fetches what we lack. Blocks above [`MAX_PUSHED_BLOCK_BYTES`] are announced without the
//! block and pulled by sync.

use doin_consensus::CheckedBlock;
use doin_net::Verdict;
use doin_primitives::models::{Block, WireModel};
use doin_primitives::value::{Map, Value};

use crate::chain_import::{ImportError, ImportOutcome};
use crate::chain_service::ChainHandle;
use crate::peers::PeerSet;

/// The payload key of an announcement that carries its block.
pub const BLOCK_KEY: &str = "block";

/// The largest block (bytes of its wire JSON) an announcement carries: half the gossip
/// message cap ([`doin_net::limits::MAX_MESSAGE_BYTES`]), the rest for the envelope.
pub const MAX_PUSHED_BLOCK_BYTES: usize = doin_net::limits::MAX_MESSAGE_BYTES / 2;

/// Puts `block` in an announcement's `extra` payload keys, unless it is too large to push.
pub fn attach(extra: &mut Map, block: &Block) {
    let value = block.to_value();
    if doin_primitives::json::to_wire_json(&value).len() <= MAX_PUSHED_BLOCK_BYTES {
        extra.insert(BLOCK_KEY.to_owned(), value);
    }
}

/// Handles an announcement from a peer that carries its block (`block`, the value under
/// [`BLOCK_KEY`]): imported when it extends our tip, otherwise a sync is asked for. The
/// verdict on the announcement.
pub async fn deliver(chain: &ChainHandle, peers: &PeerSet, block: &Value) -> Verdict {
    let block = match Block::from_value(block) {
        Ok(b) => b,
        Err(e) => {
            tracing::debug!("announced block does not parse: {e}");
            return Verdict::Malformed;
        }
    };
    let view = chain.view();
    if block.header.previous_hash != view.tip_hash {
        // Ours already, or not on our tip: in both cases nothing to import from it. A
        // forged block still costs its sender.
        let index = block.header.index;
        let hash = block.hash.clone();
        return match tokio::task::spawn_blocking(move || CheckedBlock::check(block)).await {
            Ok(Ok(_)) => {
                if index > view.tip_index {
                    peers.request_sync();
                }
                tracing::debug!(index, %hash, "announced block not on our tip");
                Verdict::Ignored
            }
            Ok(Err((_, e))) => {
                tracing::debug!(index, "announced block fails its checks: {e}");
                Verdict::InvalidBlock
            }
            Err(_) => Verdict::Ignored,
        };
    }
    match chain.import(vec![block]).await {
        Ok(ImportOutcome::Extended(_)) | Ok(ImportOutcome::Reorganized { .. }) => Verdict::Valid,
        // Another copy got there first.
        Ok(ImportOutcome::Kept) => Verdict::Ignored,
        Err(ImportError::InvalidBlock { index, source }) => {
            tracing::debug!(index, "announced block refused: {source}");
            Verdict::InvalidBlock
        }
        Err(e) => {
            // Our tip moved meanwhile, or the store failed: the sync sorts it out.
            tracing::debug!("announced block not imported: {e}");
            peers.request_sync();
            Verdict::Ignored
        }
    }
}
