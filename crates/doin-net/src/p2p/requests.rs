//! Requests waiting on either side (sync pages, evaluator task calls), in bounded tables:
//! ours until the peer answers or fails (request-response always ends a request with one
//! or the other), and peers' until the node answers or the request times out.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libp2p::request_response::{OutboundFailure, OutboundRequestId, ResponseChannel};

use super::codec::CodecError;
use super::handle::{InboundRequestId, Reply, RequestError};
use super::task_codec::TaskCodecError;
use super::P2pConfig;

/// Requests of one protocol in flight both ways, answered with `R`.
pub(crate) struct Requests<R> {
    ours: HashMap<OutboundRequestId, Reply<Result<R, RequestError>>>,
    theirs: HashMap<u64, (ResponseChannel<R>, Instant)>,
    next: u64,
    max_ours: usize,
    max_theirs: usize,
    timeout: Duration,
}

impl<R> Requests<R> {
    pub(crate) fn new(config: &P2pConfig) -> Self {
        Requests {
            ours: HashMap::new(),
            theirs: HashMap::new(),
            next: 0,
            max_ours: config.max_pending_outbound_requests,
            max_theirs: config.max_pending_inbound_requests,
            timeout: config.request_timeout,
        }
    }

    /// Whether another request of ours may go out.
    pub(crate) fn room_for_ours(&self) -> bool {
        self.ours.len() < self.max_ours
    }

    /// Our request `id` went out; `reply` gets its outcome.
    pub(crate) fn sent(&mut self, id: OutboundRequestId, reply: Reply<Result<R, RequestError>>) {
        self.ours.insert(id, reply);
    }

    /// The peer answered our request `id`.
    pub(crate) fn answered(&mut self, id: OutboundRequestId, response: R) {
        if let Some(reply) = self.ours.remove(&id) {
            let _ = reply.send(Ok(response));
        }
    }

    /// Our request `id` failed.
    pub(crate) fn failed(&mut self, id: OutboundRequestId, error: &OutboundFailure) {
        if let Some(reply) = self.ours.remove(&id) {
            let _ = reply.send(Err(request_error(error)));
        }
    }

    /// Whether another peer's request may wait for the node.
    pub(crate) fn room_for_theirs(&self) -> bool {
        self.theirs.len() < self.max_theirs
    }

    /// Keeps a peer's request until the node answers it; its number for the node.
    pub(crate) fn hold(&mut self, channel: ResponseChannel<R>) -> InboundRequestId {
        let id = self.next;
        self.next += 1;
        self.theirs.insert(id, (channel, Instant::now()));
        InboundRequestId(id)
    }

    /// The number the next held request will get (to announce it before holding it).
    pub(crate) fn next_id(&self) -> InboundRequestId {
        InboundRequestId(self.next)
    }

    /// The channel to answer a held request on, if it is still waiting.
    pub(crate) fn take(&mut self, id: InboundRequestId) -> Option<ResponseChannel<R>> {
        self.theirs.remove(&id.0).map(|(channel, _)| channel)
    }

    /// Drops peers' requests the node did not answer in time (the peer has timed out too).
    pub(crate) fn expire(&mut self, now: Instant) {
        let timeout = self.timeout;
        self.theirs
            .retain(|_, (_, at)| now.duration_since(*at) < timeout);
    }
}

/// What a failed request of ours tells the caller: a page over the limit is
/// [`RequestError::TooLarge`], other broken frames [`RequestError::Protocol`].
fn request_error(error: &OutboundFailure) -> RequestError {
    if let OutboundFailure::Io(e) = error {
        match CodecError::of_io(e) {
            Some(CodecError::PageTooLarge { limit }) => {
                return RequestError::TooLarge { limit: *limit }
            }
            Some(c) => return RequestError::Protocol(c.to_string()),
            None => {}
        }
        if let Some(e) = e.get_ref().and_then(|i| i.downcast_ref::<TaskCodecError>()) {
            return match e {
                TaskCodecError::TooLarge { limit, .. } => RequestError::TooLarge { limit: *limit },
                other => RequestError::Protocol(other.to_string()),
            };
        }
    }
    RequestError::Peer(error.to_string())
}
