//! What the node's verdicts do to the peers that sent the data, and the bans that follow:
//! the application score ([`crate::scoring::AppScores`]) fed to gossipsub, a ban below the ban line (the
//! peer's key on the block list, its address on the list both transports share), and the
//! connections of addresses banned on either transport closed.

use std::time::Instant;

use doin_primitives::PeerId as DoinPeerId;
use libp2p::gossipsub::{self, MessageAcceptance};
use libp2p::PeerId;

use super::actor::{Actor, MAX_BLOCKED};
use super::handle::{P2pError, P2pEvent};
use crate::scoring::{ScoreOutcome, Verdict};

impl Actor {
    /// Blocks or unblocks `peer` at the node's request; a peer banned by our verdicts
    /// stays refused until its ban ends.
    pub(super) fn block(&mut self, peer: PeerId, blocked: bool) -> Result<(), P2pError> {
        let list = &mut self.swarm.behaviour_mut().blocked;
        if blocked {
            if self.blocked.len() >= MAX_BLOCKED && !self.blocked.contains(&peer) {
                return Err(P2pError::BlockListFull(MAX_BLOCKED));
            }
            self.blocked.insert(peer);
            list.block_peer(peer);
        } else {
            self.blocked.remove(&peer);
            if !self.bans.is_banned(&peer, Instant::now()) {
                list.unblock_peer(peer);
            }
        }
        Ok(())
    }

    /// The node's verdict on a gossip message: forward it, or drop it and charge its source.
    pub(super) fn on_verdict(
        &mut self,
        id: &gossipsub::MessageId,
        source: PeerId,
        verdict: Verdict,
    ) {
        let acceptance = if verdict.is_bad() {
            MessageAcceptance::Reject
        } else if verdict.forwards() {
            MessageAcceptance::Accept
        } else {
            MessageAcceptance::Ignore
        };
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(id, &source, acceptance);
        self.score(source, verdict);
    }

    /// Records a verdict in the application score; below the ban line the peer is
    /// disconnected and its connections refused until the ban ends.
    pub(super) fn score(&mut self, peer: PeerId, verdict: Verdict) {
        let now = Instant::now();
        let key = peer.to_string();
        let outcome = self.scores.record(&key, verdict, now);
        let score = self.scores.score(&key, now);
        self.swarm
            .behaviour_mut()
            .gossipsub
            .set_application_score(&peer, score);
        if verdict.forwards() {
            self.swarm.behaviour_mut().inbound.mark_useful(&peer);
        }
        if verdict.is_bad() {
            if let Some(c) = self.peers.get_mut(&peer) {
                c.refused = c.refused.saturating_add(1);
            }
        }
        if let ScoreOutcome::Ban(until) = outcome {
            tracing::info!(%peer, "peer banned for invalid data");
            self.bans.ban(peer, until, now);
            // Its DOIN id too, so that the HTTP bridge refuses what it signs.
            if let Some(id) = self.peers.get(&peer).and_then(|c| c.doin_id.clone()) {
                self.config.id_bans.ban(id, until, now);
            }
            let address = self.peers.get(&peer).map(|c| c.address.clone());
            let b = self.swarm.behaviour_mut();
            b.blocked.block_peer(peer);
            // A fresh key from the same address is refused too, on both transports (the
            // list is the HTTP bridge's as well); other connections from it close.
            if let Some(address) = address {
                if let Some(ip) = b.gate.ban_address(&address, until) {
                    tracing::info!(%peer, %ip, "address banned with its peer");
                }
            }
            if let Some(kad) = b.kad.as_mut() {
                kad.remove_peer(&peer);
            }
            // The block list closes its connections; say so once.
            self.emit(P2pEvent::PeerBanned { peer });
        }
    }

    /// Bans `peer` here, blocked and disconnected until its id's ban ends, if `doin_id`
    /// (the id its connection proved) is banned on either transport; whether it is.
    pub(super) fn refuse_banned_id(&mut self, peer: PeerId, doin_id: &DoinPeerId) -> bool {
        let now = Instant::now();
        let Some(until) = self.config.id_bans.banned_until(doin_id, now) else {
            return false;
        };
        if !self.bans.is_banned(&peer, now) {
            tracing::info!(%peer, %doin_id, "peer refused: its id is banned");
            self.bans.ban(peer, until, now);
            let b = self.swarm.behaviour_mut();
            b.blocked.block_peer(peer);
            if let Some(kad) = b.kad.as_mut() {
                kad.remove_peer(&peer);
            }
            self.emit(P2pEvent::PeerBanned { peer });
        }
        true
    }

    /// An id was banned (here or on the HTTP bridge): the connected peers that proved it
    /// are banned with it.
    pub(super) fn close_banned_ids(&mut self) {
        let identified: Vec<(PeerId, DoinPeerId)> = self
            .peers
            .iter()
            .filter_map(|(p, c)| c.doin_id.clone().map(|id| (*p, id)))
            .collect();
        for (peer, id) in identified {
            self.refuse_banned_id(peer, &id);
        }
    }

    /// An address was banned (here or on the HTTP bridge): close the connections that
    /// come from it.
    pub(super) fn close_banned_addresses(&mut self) {
        let closed = self.swarm.behaviour_mut().gate.close_banned();
        if closed > 0 {
            tracing::info!(closed, "connections from banned addresses closed");
        }
    }
}
