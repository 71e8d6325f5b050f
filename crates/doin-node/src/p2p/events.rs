//! The node's loop over libp2p events: gossip admitted and handed to the node's delivery
//! handling ([`crate::network`]), sync requests answered from the store, evaluators' task
//! calls answered from the task queue, identified peers added to the peer set.

use std::collections::HashMap;
use std::sync::Arc;

use doin_net::admission::{check_message, AdmissionConfig};
use doin_net::p2p::{
    GossipMessage, InboundTaskCall, Origin, P2pEvent, P2pHandle, SyncRequest, SyncResponse,
    TaskAnswer, TaskCall,
};
use doin_net::Verdict;
use doin_primitives::models::message::Message;
use doin_primitives::models::WireModel;
use doin_primitives::PeerId as DoinPeerId;
use libp2p::PeerId;
use tokio::sync::{mpsc, watch};

use crate::block_source::BlockSource;
use crate::chain_service::ChainHandle;
use crate::clock::SharedClock;
use crate::network::Inbound;
use crate::peers::PeerSet;
use crate::task_queue::TaskQueue;

/// What the loop answers from and hands on to.
pub struct EventContext {
    /// The libp2p handle (verdicts, answers).
    pub handle: P2pHandle,
    /// Where identified peers go.
    pub peers: PeerSet,
    /// The chain (its status).
    pub chain: ChainHandle,
    /// The stored blocks (pages).
    pub blocks: Arc<dyn BlockSource>,
    /// The task queue (evaluators' calls).
    pub queue: Arc<TaskQueue>,
    /// The node's clock (message age).
    pub clock: SharedClock,
    /// Whether the node takes reference nodes' unsealed messages (relayed on the
    /// reference topics), as `accept_unsigned_messages` says.
    pub accept_unsigned: bool,
    /// Admitted gossip, to the node's delivery handling.
    pub(crate) inbound: mpsc::Sender<Inbound>,
    /// Fires at shutdown.
    pub stop: watch::Receiver<bool>,
}

/// Most peers whose DOIN id the loop remembers.
const MAX_IDENTIFIED: usize = 4096;

/// Runs until `stop` fires or the network task ends.
pub async fn run(ctx: EventContext, mut events: mpsc::Receiver<P2pEvent>) {
    let mut stop = ctx.stop.clone();
    let mut doin_ids: HashMap<PeerId, DoinPeerId> = HashMap::new();
    loop {
        let event = tokio::select! {
            e = events.recv() => match e { Some(e) => e, None => return },
            _ = stop.wait_for(|s| *s) => return,
        };
        match event {
            P2pEvent::Listening(addr) => {
                tracing::info!("libp2p listening on {addr}/p2p/{}", ctx.handle.local_peer());
            }
            P2pEvent::PeerIdentified { peer, doin_id } => {
                if doin_ids.len() < MAX_IDENTIFIED || doin_ids.contains_key(&peer) {
                    doin_ids.insert(peer, doin_id);
                }
                if ctx.peers.add(&super::endpoint_of(&peer)) {
                    tracing::info!(%peer, "libp2p peer joined");
                }
                // A bootstrap peer is in the set from the start: sync with it now too.
                ctx.peers.request_sync();
            }
            P2pEvent::PeerDisconnected { peer } => {
                doin_ids.remove(&peer);
                // Requests reach connected peers only: a peer that is gone leaves the set
                // (it comes back when a new connection identifies it).
                if ctx.peers.remove(&super::endpoint_of(&peer)) {
                    tracing::info!(%peer, "libp2p peer left");
                }
            }
            P2pEvent::Gossip(g) => match admit(&g, &ctx) {
                Ok(message) => {
                    let from = g
                        .source_doin_id
                        .as_ref()
                        .or_else(|| doin_ids.get(&g.source))
                        .map_or_else(|| g.source.to_string(), ToString::to_string);
                    let inbound = Inbound::P2p {
                        message,
                        from,
                        gossip: g,
                    };
                    if ctx.inbound.send(inbound).await.is_err() {
                        return;
                    }
                }
                Err(verdict) => {
                    tracing::debug!(peer = %g.source, ?verdict, "libp2p gossip refused at admission");
                    let _ = ctx.handle.report(&g, verdict).await;
                }
            },
            P2pEvent::SyncRequest { id, peer, request } => {
                let (handle, chain, blocks) =
                    (ctx.handle.clone(), ctx.chain.clone(), ctx.blocks.clone());
                tokio::spawn(async move {
                    let response = answer_sync(request, &chain, blocks).await;
                    if let Err(e) = handle.answer(id, response).await {
                        tracing::debug!(%peer, "sync answer not sent: {e}");
                    }
                });
            }
            P2pEvent::TaskCall(call) => {
                let answer = answer_task(&call, &ctx.queue, doin_ids.get(&call.peer));
                if let Err(e) = ctx.handle.answer_task(call.id, answer).await {
                    tracing::debug!(peer = %call.peer, "task answer not sent: {e}");
                }
            }
            P2pEvent::PeerBanned { peer } => {
                tracing::warn!(%peer, "libp2p peer banned (its score fell below the ban line)");
            }
            P2pEvent::DialFailed { peer, error } => {
                tracing::debug!(?peer, "libp2p dial failed: {error}");
            }
            P2pEvent::PeerConnected { .. } | P2pEvent::PeerSubscribed { .. } => {}
        }
    }
}

/// The admission of a `POST /message` body, for a gossipsub message: it parses, its seal
/// and age pass ([`check_message`]), and it travels on the topic of its kind and domain
/// (a message on another topic is refused, or a peer could push any kind into any
/// domain's topic). A seal is required on the sealed topics; on the reference topics a
/// message is a reference node's, unsealed (a sealed one belongs on the sealed topics),
/// and taken only by a node that accepts unsealed messages. Either way the peer whose
/// connection delivered a bad one pays.
fn admit(g: &GossipMessage, ctx: &EventContext) -> Result<Message, Verdict> {
    let value = doin_primitives::json::parse_bytes(&g.data).map_err(|_| Verdict::Malformed)?;
    let message = Message::from_value(&value).map_err(|_| Verdict::Malformed)?;
    let sealed_topic = g.origin == Origin::Sealed;
    let admission = AdmissionConfig {
        require_seals: sealed_topic,
        ..AdmissionConfig::default()
    };
    check_message(&message, ctx.clock.now().unix_micros(), &admission)
        .map_err(|refusal| refusal.verdict())?;
    if !sealed_topic && (message.seal.is_some() || !ctx.accept_unsigned) {
        return Err(Verdict::InvalidMessage);
    }
    match super::broadcast::kind_of(&message) {
        Some((kind, domain)) if kind == g.kind && domain == g.domain => Ok(message),
        _ => Err(Verdict::InvalidMessage),
    }
}

/// Answers a sync request as `GET /chain/status` and `GET /chain/blocks` would.
async fn answer_sync(
    request: SyncRequest,
    chain: &ChainHandle,
    blocks: Arc<dyn BlockSource>,
) -> SyncResponse {
    match request {
        SyncRequest::Status => {
            let status = crate::view::status_of(&chain.view());
            match serde_json::to_vec(&status) {
                Ok(json) => SyncResponse::Status(json),
                Err(e) => SyncResponse::Refused(format!("status: {e}")),
            }
        }
        SyncRequest::Blocks { from, to } => {
            let to = to.min(chain.view().height - 1);
            if to < from {
                return SyncResponse::Blocks(Vec::new());
            }
            match tokio::task::spawn_blocking(move || blocks.blocks_json(from, to)).await {
                Ok(Ok(list)) => {
                    SyncResponse::Blocks(list.into_iter().map(String::into_bytes).collect())
                }
                Ok(Err(e)) => SyncResponse::Refused(format!("store: {e}")),
                Err(e) => SyncResponse::Refused(format!("store: {e}")),
            }
        }
    }
}

/// Why a claim or completion naming another evaluator is refused.
const NOT_THE_CALLER: &str =
    "evaluator_id is not the caller's DOIN id (or its key is not known yet: retry)";

/// Answers an evaluator's task call as `/tasks/pending`, `/tasks/claim` and
/// `/tasks/complete` would. Over libp2p the caller is authenticated: it claims and
/// completes tasks only as itself (`evaluator_id` must be the DOIN id of the key its
/// connection proved).
fn answer_task(
    call: &InboundTaskCall,
    queue: &TaskQueue,
    caller: Option<&DoinPeerId>,
) -> TaskAnswer {
    let json = |v: serde_json::Value| TaskAnswer::Json(v.to_string().into_bytes());
    match &call.call {
        TaskCall::Pending { domain } => {
            let (tasks, total) =
                queue.pending(std::slice::from_ref(domain), crate::evaluator::REMOTE_TASKS);
            let list: Vec<String> = tasks
                .iter()
                .map(|t| doin_primitives::json::to_wire_json(&t.to_value()))
                .collect();
            TaskAnswer::Json(
                format!(
                    "{{\"tasks\":[{}],\"total_pending\":{total}}}",
                    list.join(",")
                )
                .into_bytes(),
            )
        }
        TaskCall::Claim(body) => {
            let (task_id, evaluator) = match crate::task_queue::calls::claim_request(body) {
                Ok(r) => r,
                Err(e) => return TaskAnswer::Refused(e),
            };
            if caller.is_none_or(|c| *c != evaluator) {
                return TaskAnswer::Refused(NOT_THE_CALLER.into());
            }
            match queue.claim(&task_id, &evaluator) {
                Ok(task) => TaskAnswer::Json(
                    format!(
                        "{{\"status\":\"claimed\",\"task\":{}}}",
                        doin_primitives::json::to_wire_json(&task.to_value())
                    )
                    .into_bytes(),
                ),
                Err(e) => TaskAnswer::Refused(e.to_string()),
            }
        }
        TaskCall::Complete(body) => {
            let (task_id, completion) = match crate::task_queue::calls::completion_of(body) {
                Ok(r) => r,
                Err(e) => return TaskAnswer::Refused(e),
            };
            if caller.is_none_or(|c| *c != completion.evaluator_id) {
                return TaskAnswer::Refused(NOT_THE_CALLER.into());
            }
            match queue.complete(&task_id, completion) {
                Ok(_) => json(serde_json::json!({
                    "status": "completed",
                    "task_id": task_id,
                    "block_generated": false,
                })),
                Err(e) => TaskAnswer::Refused(e.to_string()),
            }
        }
    }
}
