//! The actor's loop and the node's commands: publish, inbound bodies, verdicts, connect,
//! the `GET /peers` body, the connected peers, shutdown. Each command is answered from the
//! actor's own state; the work it causes lives with its concern ([`super::inbound`],
//! [`super::peering`], [`super::outbound`]).

use std::net::IpAddr;
use std::time::Instant;

use doin_primitives::models::Message;
use tokio::sync::{mpsc, oneshot};

use super::inbound::Claim;
use super::{Actor, Event, InboundError};
use crate::peers::{is_placeholder, placeholder_id, PeerSource};
use crate::slots::Direction;
use crate::{PeerKey, Verdict};

/// What a [`super::NetHandle`] asks of the actor.
pub(super) enum Command {
    Publish(Message),
    Inbound {
        claim: Claim,
        ip: IpAddr,
        port: Option<u16>,
        message: Message,
        reply: oneshot::Sender<Result<(), InboundError>>,
    },
    Report {
        hop: PeerKey,
        signer: Option<doin_primitives::PeerId>,
        address: Option<IpAddr>,
        verdict: Verdict,
    },
    Connect(String),
    PeersJson(oneshot::Sender<serde_json::Value>),
    Connected(oneshot::Sender<Vec<PeerKey>>),
    Shutdown(oneshot::Sender<()>),
}

impl Actor {
    pub(super) async fn run(
        mut self,
        mut rx: mpsc::Receiver<Command>,
        mut events: mpsc::Receiver<Event>,
    ) {
        let mut heartbeat = tokio::time::interval(self.config.heartbeat_interval);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut discovery = tokio::time::interval(self.config.discovery_interval);
        discovery.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.reconnect_known();
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(Command::Shutdown(done)) => {
                        self.stop();
                        let _ = done.send(());
                        return;
                    }
                    Some(c) => self.on_command(c),
                    None => {
                        self.stop();
                        return;
                    }
                },
                Some(e) = events.recv() => self.on_event(e),
                _ = heartbeat.tick() => {
                    let now = Instant::now();
                    self.bans.expire(now);
                    self.config.address_bans.expire(now);
                    self.router.heartbeat(now);
                }
                _ = discovery.tick() => self.discover(),
            }
        }
    }

    fn stop(&mut self) {
        if let Err(e) = self.table.save() {
            tracing::warn!("saving peers: {e}");
        }
        for q in self.queues.values() {
            q.close();
        }
    }

    fn on_command(&mut self, c: Command) {
        let now = Instant::now();
        match c {
            Command::Publish(m) => {
                let actions = self.router.publish(m, now);
                self.apply(actions, None);
            }
            Command::Inbound {
                claim,
                ip,
                port,
                message,
                reply,
            } => {
                let r = self.on_inbound(claim, ip, port, message, now);
                let _ = reply.send(r);
            }
            Command::Report {
                hop,
                signer,
                address,
                verdict,
            } => self.on_verdict(&hop, signer.as_ref(), address, verdict, now),
            Command::Connect(endpoint) => self.pex(vec![(placeholder_id(&endpoint), endpoint)]),
            Command::PeersJson(reply) => {
                let peers: Vec<serde_json::Value> = self
                    .table
                    .iter()
                    // Endpoints heard of but not yet asked for their id are not peers yet.
                    .filter(|e| {
                        e.source == PeerSource::Bootstrap
                            || !is_placeholder(&e.peer_id, &e.endpoint)
                    })
                    .filter_map(|e| {
                        let (host, port) = e.endpoint.rsplit_once(':')?;
                        let port: u16 = port.parse().ok()?;
                        // The reference's three keys, then DOIN's: the application score,
                        // last successful contact (Unix seconds), failures, connection.
                        Some(serde_json::json!({
                            "peer_id": e.peer_id,
                            "address": host,
                            "port": port,
                            "score": self.scores.score(&e.peer_id, Instant::now()),
                            "last_seen": e.last_seen,
                            "failures": e.failures,
                            "connected": self.slots.contains(&e.peer_id),
                            "direction": match self.slots.direction(&e.peer_id) {
                                Some(Direction::Inbound) => "inbound",
                                Some(Direction::Outbound) => "outbound",
                                None => "none",
                            },
                        }))
                    })
                    .collect();
                // DOIN's: every address charged at admission, its score and ban.
                let addresses: Vec<serde_json::Value> = self
                    .guard
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .scores(Instant::now())
                    .into_iter()
                    .map(|a| {
                        serde_json::json!({
                            "address": a.address.to_string(),
                            "score": a.score,
                            "banned": a.banned,
                        })
                    })
                    .collect();
                // DOIN's: every key banned on either transport, and for how long.
                let now = Instant::now();
                let mut banned_peers: Vec<(doin_primitives::PeerId, u64)> = self
                    .bans
                    .in_force(now)
                    .into_iter()
                    .filter(|(id, _)| !crate::hop::is_address_hop(id))
                    .map(|(id, until)| (id, until.saturating_duration_since(now).as_secs()))
                    .collect();
                banned_peers.sort();
                let banned_peers: Vec<serde_json::Value> = banned_peers
                    .into_iter()
                    .map(|(id, secs)| serde_json::json!({"peer_id": id, "seconds_left": secs}))
                    .collect();
                let _ = reply.send(serde_json::json!({
                    "self": {"peer_id": self.config.peer_id, "port": self.config.listen_port},
                    "peers": peers,
                    "addresses": addresses,
                    "banned_peers": banned_peers,
                }));
            }
            Command::Connected(reply) => {
                let mut peers: Vec<PeerKey> = self.slots.peers().cloned().collect();
                peers.sort();
                let _ = reply.send(peers);
            }
            Command::Shutdown(_) => {}
        }
    }
}
