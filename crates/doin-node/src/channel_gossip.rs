//! Channel operations over gossip, as transfers travel ([`crate::network`]): an operation
//! submitted to this node over HTTP is gossiped on the `blocks` topic inside a
//! `chain_status` message whose payload carries the wire operation in the extra key
//! `"channel_op"` (reference nodes ignore it). A delivered operation goes to the channel
//! pool with the relaying peer as its source; the operation's own seal authenticates it.

use std::sync::Arc;

use doin_consensus::channel::ChannelError;
use doin_net::service::NetHandle;
use doin_net::Verdict;
use doin_primitives::identity::Identity;
use doin_primitives::models::message::Message;
use doin_primitives::models::payload::{ChainStatus, Payload};
use doin_primitives::models::{ChannelOp, WireModel};
use doin_primitives::value::{Map, Value};
use doin_primitives::Timestamp;
use tokio::sync::{mpsc, watch};

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

/// Gossips the channel operations submitted to this node (see the module doc).
pub async fn gossip(
    net: NetHandle,
    identity: Arc<Identity>,
    chain: ChainHandle,
    mut relay: mpsc::Receiver<ChannelOp>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let op = tokio::select! {
            op = relay.recv() => match op { Some(op) => op, None => return },
            _ = stop.wait_for(|s| *s) => return,
        };
        let view = chain.view();
        let mut extra = Map::new();
        extra.insert(CHANNEL_OP_KEY.into(), op.to_value());
        let payload = Payload::ChainStatus(ChainStatus {
            chain_height: view.height,
            tip_hash: view.tip_hash.clone(),
            tip_index: view.tip_index,
            finalized_height: view.finalized_height,
            extra,
        });
        let mut message = Message::new(identity.peer_id(), Timestamp::now_utc(), &payload);
        message.sign(&identity);
        crate::metrics::METRICS.gossip_published.inc();
        if let Err(e) = net.publish(message).await {
            tracing::debug!("cannot gossip channel operation {}: {e}", op.compute_id());
        }
    }
}
