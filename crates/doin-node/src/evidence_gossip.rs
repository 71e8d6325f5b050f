//! Gossip of rejection evidence ([`crate::evidence`]): this node's votes go out with their
//! claims, and claims and votes from peers go into the node's pool.
//!
//! A vote travels in a sealed `task_completed` message on its domain's task topic, the
//! reference's fields filled from the vote (`task_id` is the vote id), the claim and the
//! vote under the extra keys `"claim"` and `"vote"` (reference nodes ignore them). A
//! `task_created` announcement may carry the requester's claim the same way. What a peer
//! sends is only pooled once its seals hold; a forged seal costs the relaying peer as a bad
//! signature, a malformed pair as a bad message.

use std::sync::Arc;

use doin_consensus::rejection::claim_in;
use doin_net::Verdict;
use doin_primitives::identity::Identity;
use doin_primitives::models::message::{Message, MessageType};
use doin_primitives::models::payload::{Payload, TaskCompleted};
use doin_primitives::value::{Map, Value};
use tokio::sync::{mpsc, watch};

use crate::chain_service::ChainHandle;
use crate::evidence::{vote_in, PoolError};

/// Pools the claim or the vote a delivered message carries; the verdict for its relay, or
/// `None` when the message carries none.
pub fn take_delivered(chain: &ChainHandle, message: &Message) -> Option<Verdict> {
    let pool = chain.rejections();
    let verdict = |r: Result<bool, PoolError>| match r {
        Ok(_) => Verdict::Valid,
        Err(PoolError::Forged(e)) => {
            tracing::debug!("gossiped evidence with a bad seal: {e}");
            Verdict::InvalidSignature
        }
        Err(e) => {
            tracing::debug!("gossiped evidence refused: {e}");
            Verdict::InvalidMessage
        }
    };
    match message.msg_type {
        MessageType::TaskCompleted => Some(match vote_in(&message.payload)? {
            Ok((claim, vote)) => verdict(pool.offer_vote(&claim, &vote)),
            Err(e) => {
                tracing::debug!("malformed gossiped vote: {e}");
                Verdict::Malformed
            }
        }),
        MessageType::TaskCreated => Some(match claim_in(&message.payload)? {
            Ok(claim) => verdict(pool.offer_claim(&claim)),
            Err(e) => {
                tracing::debug!("malformed gossiped claim: {e}");
                Verdict::Malformed
            }
        }),
        _ => None,
    }
}

/// Gossips this node's votes with their claims until shutdown.
pub async fn gossip_votes(
    net: crate::p2p::broadcast::Broadcast,
    identity: Arc<Identity>,
    mut outbox: mpsc::Receiver<Value>,
    mut stop: watch::Receiver<bool>,
    clock: crate::clock::SharedClock,
) {
    loop {
        let pair = tokio::select! {
            p = outbox.recv() => match p {
                Some(Value::Object(m)) => m,
                Some(_) => continue,
                None => return,
            },
            _ = stop.wait_for(|s| *s) => return,
        };
        let Some(Ok((claim, vote))) = vote_in(&pair) else {
            continue;
        };
        let payload = Payload::TaskCompleted(TaskCompleted {
            task_id: vote.id(),
            evaluator_id: vote.evaluator_id.clone(),
            domain_id: claim.reveal.domain_id.clone(),
            verified_performance: Some(vote.verified_performance),
            result: None,
            optimae_id: Some(vote.optimae_id.clone()),
            extra: pair.into_iter().collect::<Map>(),
        });
        let mut message = Message::new(identity.peer_id(), clock.now(), &payload);
        message.sign(&identity);
        crate::metrics::METRICS.gossip_published.inc();
        if let Err(e) = net.publish(message).await {
            tracing::debug!("cannot gossip vote {}: {e}", vote.id());
        }
    }
}
