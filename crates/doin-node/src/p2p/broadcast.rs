//! Outbound gossip on both transports: every message the node gossips goes, when libp2p
//! runs, to the gossipsub topic of its kind ([`kind_of`]) — how doin nodes hear it — and to
//! the HTTP peers (reference nodes), flooded as the reference does.

use doin_net::p2p::{GossipKind, P2pHandle};
use doin_net::service::NetHandle;
use doin_primitives::models::message::{Message, MessageType};
use doin_primitives::models::WireModel;
use doin_primitives::value::Value;

use crate::channel_gossip::CHANNEL_OP_KEY;
use crate::commitment_gossip::COMMITMENT_KEY;
use crate::network::TRANSFER_KEY;

/// The node's gossip sender (cheap to clone).
#[derive(Clone)]
pub struct Broadcast {
    /// The HTTP bridge (reference nodes).
    pub net: NetHandle,
    /// The libp2p transport, when it runs.
    pub p2p: Option<P2pHandle>,
}

impl Broadcast {
    /// Publishes our own sealed message on its libp2p topic and to the HTTP peers. A topic
    /// without peers yet is no error worth more than a debug line: peers that join later
    /// sync the chain.
    pub async fn publish(&self, message: Message) -> Result<(), String> {
        if let Some(p2p) = &self.p2p {
            match kind_of(&message) {
                Some((kind, domain)) => {
                    let bytes = message.to_wire_json().into_bytes();
                    if let Err(e) = p2p.publish(kind, domain.as_deref(), bytes).await {
                        tracing::debug!(?kind, "not published on libp2p: {e}");
                    }
                }
                None => tracing::debug!(
                    kind = message.msg_type.as_str(),
                    "no libp2p topic for this message type"
                ),
            }
        }
        self.net.publish(message).await.map_err(|e| e.to_string())
    }
}

fn domain_of(payload: &doin_primitives::value::Map) -> Option<String> {
    payload
        .get("domain_id")
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
}

/// The gossipsub topic a message travels on: its kind, and its domain for the
/// domain-bound kinds. `chain_status` messages carry transfers, channel operations and
/// commitments under their extra keys (the HTTP wire's convention, which reference nodes
/// ignore); on libp2p each gets the topic of what it carries. `None`: the type has no
/// libp2p topic (the reference's discovery and request kinds, which doin nodes do not
/// gossip), or a domain-bound message names no domain.
pub fn kind_of(message: &Message) -> Option<(GossipKind, Option<String>)> {
    use MessageType as T;
    let p = &message.payload;
    let bound = |kind| domain_of(p).map(|d| (kind, Some(d)));
    match message.msg_type {
        T::BlockAnnouncement => Some((GossipKind::Block, None)),
        T::ChainStatus => {
            if p.contains_key(TRANSFER_KEY) {
                Some((GossipKind::Transfer, None))
            } else if p.contains_key(CHANNEL_OP_KEY) {
                Some((GossipKind::ChannelOp, None))
            } else if let Some(o) = p.get(crate::optimae_gossip::OPTIMAE_KEY) {
                let domain = o.as_object().and_then(domain_of)?;
                Some((GossipKind::Optimae, Some(domain)))
            } else if let Some(c) = p.get(COMMITMENT_KEY) {
                let domain = c.as_object().and_then(domain_of)?;
                Some((GossipKind::Commitment, Some(domain)))
            } else {
                Some((GossipKind::Block, None))
            }
        }
        T::OptimaeCommit => bound(GossipKind::Commitment),
        T::OptimaeReveal | T::OptimaeAnnouncement | T::TaskCreated => bound(GossipKind::Reveal),
        T::TaskClaimed => bound(GossipKind::Claim),
        T::TaskCompleted => bound(GossipKind::Vote),
        _ => None,
    }
}
