//! The handle the node holds: cheap to clone, every call a message over a bounded channel
//! to the task that owns the swarm (`actor.rs`), every answer on a oneshot.

use libp2p::gossipsub::MessageId;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, oneshot};

use super::codec::{CodecError, SyncRequest, SyncResponse, MAX_PAGE_BYTES};
use super::task_codec::{TaskAnswer, TaskCall, TaskCodecError};
use super::topics::{GossipKind, Origin, TopicError};
use crate::scoring::Verdict;

/// Why a call on the handle failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum P2pError {
    /// The network task has stopped (the node is shutting down).
    #[error("the p2p network task has stopped")]
    Stopped,
    /// The kind and domain name no topic.
    #[error(transparent)]
    Topic(#[from] TopicError),
    /// Gossipsub refused to publish (no peers on the topic yet, a duplicate, too large).
    #[error("cannot publish: {0}")]
    Publish(String),
    /// The address could not be dialed or listened on.
    #[error("{0}")]
    Address(String),
    /// The request is no longer waiting (it timed out, or the peer left).
    #[error("the sync request is gone (timed out, or the peer left)")]
    RequestGone,
    /// The answer breaks the protocol's bounds; send fewer blocks.
    #[error("answer not sent: {0}")]
    Answer(CodecError),
    /// The task call or answer breaks the protocol's bounds.
    #[error("task frame not sent: {0}")]
    Task(TaskCodecError),
    /// The block list holds its most peers; unblock one first.
    #[error("the block list is full ({0} peers): unblock one first")]
    BlockListFull(usize),
}

/// Why a sync request to a peer failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    /// The network task has stopped.
    #[error("the p2p network task has stopped")]
    Stopped,
    /// Too many of our requests are in flight; retry later.
    #[error("too many sync requests in flight")]
    Busy,
    /// The request asks more than a page may hold.
    #[error("a page holds 1 to 50 blocks")]
    OutOfBounds,
    /// The page passed the byte limit (reading stopped at the header announcing it).
    #[error("page larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The peer answered with more blocks than asked, or another kind of answer.
    #[error("peer answered out of protocol: {0}")]
    Protocol(String),
    /// The peer refused (its reason).
    #[error("peer refused: {0}")]
    Refused(String),
    /// The call breaks the protocol's bounds (a body too large).
    #[error("{0}")]
    Call(TaskCodecError),
    /// We hold no connection to the peer. Requests go to connected peers only: a
    /// request may not dial (a peer our inbound slots evicted would come back as an
    /// outbound connection, past the range caps), and a call to a peer that is gone
    /// fails at once instead of after the request timeout.
    #[error("not connected to the peer")]
    NotConnected,
    /// The peer could not be reached, timed out, or broke the stream.
    #[error("{0}")]
    Peer(String),
}

/// A gossip message waiting for the node's verdict: nothing is forwarded before it.
#[derive(Debug, Clone)]
pub struct GossipMessage {
    /// Content-hash id.
    pub id: MessageId,
    /// The peer whose authenticated connection delivered it (who pays for a bad one).
    pub source: PeerId,
    /// That peer's DOIN id, once its key is known.
    pub source_doin_id: Option<doin_primitives::PeerId>,
    /// Who vouches for it: its seal, or (on the reference topics) the doin node that
    /// relayed a reference node's unsealed message.
    pub origin: Origin,
    /// What it is.
    pub kind: GossipKind,
    /// Its domain, for the domain-bound kinds.
    pub domain: Option<String>,
    /// The bytes as published.
    pub data: Vec<u8>,
}

/// An inbound sync request's number, to answer it with [`P2pHandle::answer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InboundRequestId(pub(crate) u64);

/// What the network tells the node.
#[derive(Debug, Clone)]
pub enum P2pEvent {
    /// We listen on a new address.
    Listening(Multiaddr),
    /// A connection to a peer is up (the first one to that peer).
    PeerConnected {
        /// The peer.
        peer: PeerId,
        /// Its address on this connection.
        address: Multiaddr,
    },
    /// A peer's key is known and matches its connection: its DOIN id.
    PeerIdentified {
        /// The peer.
        peer: PeerId,
        /// Its DOIN peer id.
        doin_id: doin_primitives::PeerId,
    },
    /// A connection we dialed could not be set up.
    DialFailed {
        /// The peer we meant to reach, if known.
        peer: Option<PeerId>,
        /// Why.
        error: String,
    },
    /// The last connection to a peer closed.
    PeerDisconnected {
        /// The peer.
        peer: PeerId,
    },
    /// A peer subscribed to a topic.
    PeerSubscribed {
        /// The peer.
        peer: PeerId,
        /// The kind of the topic.
        kind: GossipKind,
        /// Its domain.
        domain: Option<String>,
    },
    /// A peer's score fell below the ban line: disconnected and refused until the ban ends.
    PeerBanned {
        /// The peer.
        peer: PeerId,
    },
    /// A gossip message to validate: answer with [`P2pHandle::report`].
    Gossip(GossipMessage),
    /// An evaluator calls about tasks: answer with [`P2pHandle::answer_task`].
    TaskCall(InboundTaskCall),
    /// A peer asks for our chain: answer with [`P2pHandle::answer`].
    SyncRequest {
        /// The request's number.
        id: InboundRequestId,
        /// Who asks.
        peer: PeerId,
        /// What it asks (already within bounds).
        request: SyncRequest,
    },
}

/// The variant of [`P2pEvent`] for an evaluator's task call.
#[derive(Debug, Clone)]
pub struct InboundTaskCall {
    /// The call's number, to answer with [`P2pHandle::answer_task`].
    pub id: InboundRequestId,
    /// Who calls (its authenticated connection).
    pub peer: PeerId,
    /// The call.
    pub call: TaskCall,
}

/// A connected peer as the node sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerInfo {
    /// The libp2p peer id.
    pub peer: PeerId,
    /// Its DOIN id, once identified.
    pub doin_id: Option<doin_primitives::PeerId>,
    /// The address of its (first) connection.
    pub address: Multiaddr,
    /// Its gossipsub score (the router's view).
    pub gossip_score: f64,
    /// Its application score (our verdicts, [`crate::scoring::AppScores`]).
    pub app_score: f64,
    /// How many of its messages (gossip, sync pages) our verdicts refused since it
    /// connected: what tells an operator, beside the score that good deliveries raise
    /// again, that a peer sent anything bad at all.
    pub refused: u64,
}

/// A page of blocks, each its wire JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockPage {
    /// The blocks, in index order.
    pub blocks: Vec<Vec<u8>>,
    /// Bytes of the blocks.
    pub bytes: usize,
}

pub(crate) type Reply<T> = oneshot::Sender<T>;

/// What a handle asks the network task.
#[derive(Debug)]
pub(crate) enum Command {
    Publish {
        origin: Origin,
        kind: GossipKind,
        domain: Option<String>,
        data: Vec<u8>,
        reply: Reply<Result<MessageId, P2pError>>,
    },
    Subscribe {
        domain: String,
        subscribe: bool,
        reply: Reply<Result<(), P2pError>>,
    },
    Report {
        id: MessageId,
        source: PeerId,
        verdict: Verdict,
    },
    ReportPeer {
        peer: PeerId,
        verdict: Verdict,
    },
    Request {
        peer: PeerId,
        request: SyncRequest,
        reply: Reply<Result<SyncResponse, RequestError>>,
    },
    Answer {
        id: InboundRequestId,
        response: SyncResponse,
        reply: Reply<Result<(), P2pError>>,
    },
    Task {
        peer: PeerId,
        call: TaskCall,
        reply: Reply<Result<TaskAnswer, RequestError>>,
    },
    AnswerTask {
        id: InboundRequestId,
        answer: TaskAnswer,
        reply: Reply<Result<(), P2pError>>,
    },
    Dial {
        address: Multiaddr,
        reply: Reply<Result<(), P2pError>>,
    },
    Listen {
        address: Multiaddr,
        reply: Reply<Result<(), P2pError>>,
    },
    Block {
        peer: PeerId,
        blocked: bool,
        reply: Reply<Result<(), P2pError>>,
    },
    External {
        address: Multiaddr,
        reply: Reply<()>,
    },
    Peers {
        reply: Reply<Vec<PeerInfo>>,
    },
    ListenAddrs {
        reply: Reply<Vec<Multiaddr>>,
    },
    Shutdown,
}

/// The node's handle on its libp2p network.
#[derive(Debug, Clone)]
pub struct P2pHandle {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) local_peer: PeerId,
    pub(crate) doin_id: doin_primitives::PeerId,
    pub(crate) traffic: super::Traffic,
    pub(crate) address_bans: crate::address_bans::AddressBans,
    pub(crate) id_bans: crate::id_bans::IdBans,
}

impl P2pHandle {
    /// What the transport has carried so far: bytes each way, gossip per topic.
    pub fn traffic(&self) -> super::TrafficCounts {
        self.traffic.counts()
    }

    /// Our libp2p peer id.
    pub fn local_peer(&self) -> PeerId {
        self.local_peer
    }

    /// Our DOIN peer id (the same key's).
    pub fn doin_id(&self) -> &doin_primitives::PeerId {
        &self.doin_id
    }

    /// The addresses this node bans: hand the list to the HTTP bridge
    /// ([`crate::service::NetConfig::address_bans`]) so that a ban on either transport
    /// refuses the address on both.
    pub fn address_bans(&self) -> &crate::address_bans::AddressBans {
        &self.address_bans
    }

    /// The DOIN peer ids this node bans: hand the list to the HTTP bridge
    /// ([`crate::service::NetConfig::id_bans`]) so that a peer banned on either transport
    /// is refused on both under its id.
    pub fn id_bans(&self) -> &crate::id_bans::IdBans {
        &self.id_bans
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Publishes `data` as a sealed `kind` message (in `domain` for the domain-bound
    /// kinds).
    pub async fn publish(
        &self,
        kind: GossipKind,
        domain: Option<&str>,
        data: Vec<u8>,
    ) -> Result<MessageId, P2pError> {
        self.publish_of(Origin::Sealed, kind, domain, data).await
    }

    /// Publishes `data` as a `kind` message of `origin`: [`Origin::Reference`] for a
    /// reference node's unsealed message this node took over HTTP and relays (on the
    /// reference topics, which only nodes that accept unsealed messages join).
    pub async fn publish_of(
        &self,
        origin: Origin,
        kind: GossipKind,
        domain: Option<&str>,
        data: Vec<u8>,
    ) -> Result<MessageId, P2pError> {
        let domain = domain.map(str::to_owned);
        self.call(|reply| Command::Publish {
            origin,
            kind,
            domain,
            data,
            reply,
        })
        .await
        .unwrap_or(Err(P2pError::Stopped))
    }

    /// Subscribes to a domain's topics (the global ones are subscribed at start).
    pub async fn subscribe_domain(&self, domain: &str) -> Result<(), P2pError> {
        let domain = domain.to_owned();
        self.call(|reply| Command::Subscribe {
            domain,
            subscribe: true,
            reply,
        })
        .await
        .unwrap_or(Err(P2pError::Stopped))
    }

    /// Leaves a domain's topics.
    pub async fn unsubscribe_domain(&self, domain: &str) -> Result<(), P2pError> {
        let domain = domain.to_owned();
        self.call(|reply| Command::Subscribe {
            domain,
            subscribe: false,
            reply,
        })
        .await
        .unwrap_or(Err(P2pError::Stopped))
    }

    /// The node's verdict on a gossip message: [`Verdict::Valid`] forwards it, any other
    /// drops it and costs the peer that delivered it.
    pub async fn report(&self, message: &GossipMessage, verdict: Verdict) -> Result<(), P2pError> {
        let cmd = Command::Report {
            id: message.id.clone(),
            source: message.source,
            verdict,
        };
        self.commands.send(cmd).await.map_err(|_| P2pError::Stopped)
    }

    /// The node's verdict on other data from a peer (a bad sync page, say).
    pub async fn report_peer(&self, peer: PeerId, verdict: Verdict) -> Result<(), P2pError> {
        let cmd = Command::ReportPeer { peer, verdict };
        self.commands.send(cmd).await.map_err(|_| P2pError::Stopped)
    }

    async fn request(
        &self,
        peer: PeerId,
        request: SyncRequest,
    ) -> Result<SyncResponse, RequestError> {
        self.call(|reply| Command::Request {
            peer,
            request,
            reply,
        })
        .await
        .unwrap_or(Err(RequestError::Stopped))
    }

    /// The peer's `/chain/status` JSON.
    pub async fn chain_status(&self, peer: PeerId) -> Result<Vec<u8>, RequestError> {
        match self.request(peer, SyncRequest::Status).await? {
            SyncResponse::Status(json) => Ok(json),
            SyncResponse::Refused(reason) => Err(RequestError::Refused(reason)),
            SyncResponse::Blocks(_) => Err(RequestError::Protocol("blocks for a status".into())),
        }
    }

    /// The peer's blocks `from..=to` (at most 50), refused once they pass `max_bytes`
    /// (at most [`MAX_PAGE_BYTES`]; the reader stops there).
    pub async fn page(
        &self,
        peer: PeerId,
        from: i64,
        to: i64,
        max_bytes: usize,
    ) -> Result<BlockPage, RequestError> {
        let request = SyncRequest::Blocks { from, to };
        if !request.is_within_bounds() {
            return Err(RequestError::OutOfBounds);
        }
        let blocks = match self.request(peer, request).await? {
            SyncResponse::Blocks(blocks) => blocks,
            SyncResponse::Refused(reason) => return Err(RequestError::Refused(reason)),
            SyncResponse::Status(_) => {
                return Err(RequestError::Protocol("a status for a page".into()))
            }
        };
        if blocks.len() > request.blocks_asked() {
            return Err(RequestError::Protocol(format!(
                "{} blocks where {} were asked",
                blocks.len(),
                request.blocks_asked()
            )));
        }
        let bytes = blocks.iter().map(Vec::len).sum();
        let limit = max_bytes.min(MAX_PAGE_BYTES);
        if bytes > limit {
            return Err(RequestError::TooLarge { limit });
        }
        Ok(BlockPage { blocks, bytes })
    }

    /// Answers an inbound sync request (refused here if it breaks the protocol's bounds).
    pub async fn answer(
        &self,
        id: InboundRequestId,
        response: SyncResponse,
    ) -> Result<(), P2pError> {
        self.call(|reply| Command::Answer {
            id,
            response,
            reply,
        })
        .await
        .unwrap_or(Err(P2pError::Stopped))
    }

    /// Calls a peer about evaluator tasks; its JSON answer.
    pub async fn task_call(&self, peer: PeerId, call: TaskCall) -> Result<Vec<u8>, RequestError> {
        call.check_bounds().map_err(RequestError::Call)?;
        let answer = self
            .call(|reply| Command::Task { peer, call, reply })
            .await
            .unwrap_or(Err(RequestError::Stopped))?;
        match answer {
            TaskAnswer::Json(json) => Ok(json),
            TaskAnswer::Refused(reason) => Err(RequestError::Refused(reason)),
        }
    }

    /// Answers an evaluator's task call (refused here if it breaks the protocol's bounds).
    pub async fn answer_task(
        &self,
        id: InboundRequestId,
        answer: TaskAnswer,
    ) -> Result<(), P2pError> {
        self.call(|reply| Command::AnswerTask { id, answer, reply })
            .await
            .unwrap_or(Err(P2pError::Stopped))
    }

    /// Dials an address (with `/p2p/<id>` to insist on who answers).
    pub async fn dial(&self, address: Multiaddr) -> Result<(), P2pError> {
        self.call(|reply| Command::Dial { address, reply })
            .await
            .unwrap_or(Err(P2pError::Stopped))
    }

    /// Refuses `peer` until [`P2pHandle::unblock_peer`]: its connections close and new
    /// ones are refused, so no gossip, sync or task call passes between us (an operator's
    /// block list, apart from the bans our verdicts impose and lift).
    pub async fn block_peer(&self, peer: PeerId) -> Result<(), P2pError> {
        self.call(|reply| Command::Block {
            peer,
            blocked: true,
            reply,
        })
        .await
        .unwrap_or(Err(P2pError::Stopped))
    }

    /// Lifts [`P2pHandle::block_peer`] (a ban our verdicts imposed stays until it ends).
    /// Nothing is dialed: dial the peer to reconnect at once.
    pub async fn unblock_peer(&self, peer: PeerId) -> Result<(), P2pError> {
        self.call(|reply| Command::Block {
            peer,
            blocked: false,
            reply,
        })
        .await
        .unwrap_or(Err(P2pError::Stopped))
    }

    /// Listens on one more address (a relay circuit, say).
    pub async fn listen(&self, address: Multiaddr) -> Result<(), P2pError> {
        self.call(|reply| Command::Listen { address, reply })
            .await
            .unwrap_or(Err(P2pError::Stopped))
    }

    /// Declares an address at which others reach us (a public address the operator
    /// knows; autonat confirms others). A relay server serves circuits only once it has one.
    pub async fn add_external_address(&self, address: Multiaddr) -> Result<(), P2pError> {
        self.call(|reply| Command::External { address, reply })
            .await
            .ok_or(P2pError::Stopped)
    }

    /// Connected peers with their addresses and scores.
    pub async fn peers(&self) -> Vec<PeerInfo> {
        self.call(|reply| Command::Peers { reply })
            .await
            .unwrap_or_default()
    }

    /// The addresses we listen on.
    pub async fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.call(|reply| Command::ListenAddrs { reply })
            .await
            .unwrap_or_default()
    }

    /// Stops the network task (connections close).
    pub async fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown).await;
    }
}
