//! The actor's request-response traffic: block sync (`/doin/sync/1`) and evaluator task
//! calls (`/doin/tasks/1`). Ours go out to connected peers (never dialing one) while
//! their table has room; peers' wait for the
//! node's answer in theirs ([`super::requests`]), refused at once when it is full, out of
//! bounds, or the node's event channel is.

use libp2p::request_response::{self, ResponseChannel};
use libp2p::PeerId;

use super::actor::Actor;
use super::codec::{SyncRequest, SyncResponse};
use super::handle::{InboundRequestId, InboundTaskCall, P2pError, P2pEvent, Reply, RequestError};
use super::task_codec::{TaskAnswer, TaskCall};

/// Why a peer's request is refused while the node is behind.
const BUSY: &str = "busy; retry later";

impl Actor {
    pub(super) fn send_sync_request(
        &mut self,
        peer: PeerId,
        request: SyncRequest,
        reply: Reply<Result<SyncResponse, RequestError>>,
    ) {
        if !self.swarm.is_connected(&peer) {
            let _ = reply.send(Err(RequestError::NotConnected));
        } else if !self.sync.room_for_ours() {
            let _ = reply.send(Err(RequestError::Busy));
        } else if !request.is_within_bounds() {
            let _ = reply.send(Err(RequestError::OutOfBounds));
        } else {
            let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
            self.sync.sent(id, reply);
        }
    }

    pub(super) fn send_task_call(
        &mut self,
        peer: PeerId,
        call: TaskCall,
        reply: Reply<Result<TaskAnswer, RequestError>>,
    ) {
        if !self.swarm.is_connected(&peer) {
            let _ = reply.send(Err(RequestError::NotConnected));
        } else if !self.tasks.room_for_ours() {
            let _ = reply.send(Err(RequestError::Busy));
        } else if let Err(e) = call.check_bounds() {
            let _ = reply.send(Err(RequestError::Call(e)));
        } else {
            let id = self.swarm.behaviour_mut().tasks.send_request(&peer, call);
            self.tasks.sent(id, reply);
        }
    }

    pub(super) fn answer_sync(
        &mut self,
        id: InboundRequestId,
        response: SyncResponse,
    ) -> Result<(), P2pError> {
        response.check_bounds().map_err(P2pError::Answer)?;
        let channel = self.sync.take(id).ok_or(P2pError::RequestGone)?;
        self.swarm
            .behaviour_mut()
            .sync
            .send_response(channel, response)
            .map_err(|_| P2pError::RequestGone)
    }

    pub(super) fn answer_task(
        &mut self,
        id: InboundRequestId,
        answer: TaskAnswer,
    ) -> Result<(), P2pError> {
        answer.check_bounds().map_err(P2pError::Task)?;
        let channel = self.tasks.take(id).ok_or(P2pError::RequestGone)?;
        self.swarm
            .behaviour_mut()
            .tasks
            .send_response(channel, answer)
            .map_err(|_| P2pError::RequestGone)
    }

    pub(super) fn on_sync(&mut self, event: request_response::Event<SyncRequest, SyncResponse>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => self.on_sync_request(peer, request, channel),
                request_response::Message::Response {
                    request_id,
                    response,
                } => self.sync.answered(request_id, response),
            },
            request_response::Event::OutboundFailure {
                request_id, error, ..
            } => self.sync.failed(request_id, &error),
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, "inbound sync request failed: {error}");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    fn on_sync_request(
        &mut self,
        peer: PeerId,
        request: SyncRequest,
        channel: ResponseChannel<SyncResponse>,
    ) {
        let reason = if !request.is_within_bounds() {
            "a page holds 1 to 50 blocks"
        } else if !self.sync.room_for_theirs() {
            BUSY
        } else {
            let event = P2pEvent::SyncRequest {
                id: self.sync.next_id(),
                peer,
                request,
            };
            if self.emit(event) {
                self.sync.hold(channel);
                return;
            }
            BUSY
        };
        let refusal = SyncResponse::Refused(reason.to_owned());
        let _ = self
            .swarm
            .behaviour_mut()
            .sync
            .send_response(channel, refusal);
    }

    pub(super) fn on_tasks(&mut self, event: request_response::Event<TaskCall, TaskAnswer>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => self.on_task_call(peer, request, channel),
                request_response::Message::Response {
                    request_id,
                    response,
                } => self.tasks.answered(request_id, response),
            },
            request_response::Event::OutboundFailure {
                request_id, error, ..
            } => self.tasks.failed(request_id, &error),
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, "inbound task call failed: {error}");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    fn on_task_call(&mut self, peer: PeerId, call: TaskCall, channel: ResponseChannel<TaskAnswer>) {
        if self.tasks.room_for_theirs() {
            let event = P2pEvent::TaskCall(InboundTaskCall {
                id: self.tasks.next_id(),
                peer,
                call,
            });
            if self.emit(event) {
                self.tasks.hold(channel);
                return;
            }
        }
        let refusal = TaskAnswer::Refused(BUSY.to_owned());
        let _ = self
            .swarm
            .behaviour_mut()
            .tasks
            .send_response(channel, refusal);
    }
}
