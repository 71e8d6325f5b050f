//! Channel operations over gossip, as transfers travel ([`crate::network`]): an operation
//! submitted to this node over HTTP is gossiped (by `network::gossip_relayed`) on the
//! `blocks` topic inside a `chain_status` message whose payload carries the wire operation
//! in the extra key `"channel_op"` (reference nodes ignore it). A delivered operation goes to the channel
//! pool with the relaying peer as its source; the operation's own seal authenticates it.

use doin_consensus::channel::ChannelError;
use doin_net::Verdict;
use doin_primitives::models::{ChannelOp, WireModel};
use doin_primitives::value::Value;

use crate::chain_service::ChainHandle;
use crate::channel_pool::ChannelPoolError;

/// The extra `chain_status` payload key that carries a gossiped channel operation.
pub const CHANNEL_OP_KEY: &str = "channel_op";

/// Hands a gossiped operation (the payload value under [`CHANNEL_OP_KEY`]) from peer
/// `from` to the pool; returns the verdict on the relaying peer.
pub async fn deliver(chain: &ChainHandle, from: &str, v: &Value) -> Verdict {
    let op = match ChannelOp::from_value(v) {
        Ok(op) => op,
        Err(e) => {
            tracing::debug!(peer = %from, "malformed gossiped channel operation: {e}");
            return Verdict::Malformed;
        }
    };
    match chain.submit_channel_op(op, from, false).await {
        Ok(_) => Verdict::Valid,
        // A forged operation costs the peer that relayed it.
        Err(Some(ChannelPoolError::Invalid(ChannelError::BadSignature(e)))) => {
            tracing::debug!(peer = %from, "gossiped channel operation with a bad seal: {e}");
            Verdict::InvalidSignature
        }
        // Another peer's copy, a used nonce, a deadline passed: not the relay's fault.
        Err(e) => {
            tracing::debug!(peer = %from, "gossiped channel operation refused: {e:?}");
            Verdict::Valid
        }
    }
}
