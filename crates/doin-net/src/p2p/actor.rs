//! The task that owns the swarm: commands from handles, swarm events, housekeeping, one
//! at a time (`tokio::select!`), each in its own method.
//!
//! It keeps what follows a connection: the DOIN id its key proved, its address, the
//! application score our verdicts gave it ([`AppScores`]) and its ban ([`BanList`]; its
//! address is banned with it, and its accepted data protects its inbound slot:
//! [`super::inbound_slots`]). The requests waiting on either side are in
//! [`super::requests`], what the actor does with request-response traffic in
//! [`super::rpc`], what verdicts do to peers (scores, bans, closing the connections of
//! banned addresses) in `verdicts.rs`, and the circuits it listens on through relays in
//! `circuits.rs`.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::SwarmEvent;
use libp2p::{identify, kad, Multiaddr, PeerId, Swarm};
use tokio::sync::{mpsc, watch};

use super::behaviour::{topic_score_params, DoinBehaviour, DoinBehaviourEvent, KAD_PROTOCOL};
use super::circuits::Circuits;
use super::codec::SyncResponse;
use super::handle::{Command, GossipMessage, P2pError, P2pEvent, PeerInfo};
use super::identity::doin_peer_id_of_connection;
use super::requests::Requests;
use super::task_codec::TaskAnswer;
use super::topics::{self, parse_topic, parse_topic_of, Origin};
use super::P2pConfig;
use crate::bans::BanList;
use crate::scoring::AppScores;

/// Most listen addresses taken from one peer's identify record.
const MAX_PEER_ADDRS: usize = 8;
/// Most peers the node may block ([`super::P2pHandle::block_peer`]).
pub(super) const MAX_BLOCKED: usize = 4096;

/// What we know about a connected peer.
pub(super) struct Connected {
    pub(super) address: Multiaddr,
    pub(super) doin_id: Option<doin_primitives::PeerId>,
    /// What our verdicts refused of what it sent since it connected.
    pub(super) refused: u64,
}

pub(crate) struct Actor {
    pub(super) swarm: Swarm<DoinBehaviour>,
    pub(super) config: P2pConfig,
    commands: mpsc::Receiver<Command>,
    pub(super) events: mpsc::Sender<P2pEvent>,
    pub(super) peers: HashMap<PeerId, Connected>,
    pub(super) scores: AppScores,
    pub(super) bans: BanList<PeerId>,
    /// Peers the node blocked ([`super::P2pHandle::block_peer`]); bounded.
    pub(super) blocked: HashSet<PeerId>,
    /// Changes with every address ban, on either transport.
    bans_made: watch::Receiver<u64>,
    /// Changes with every id ban, on either transport.
    ids_banned: watch::Receiver<u64>,
    pub(super) sync: Requests<SyncResponse>,
    pub(super) tasks: Requests<TaskAnswer>,
    listen_addrs: Vec<Multiaddr>,
    /// Listening through relays ([`Circuits`]).
    circuits: Circuits,
    bootstrapped: bool,
    /// A DHT walk of ours is under way (one at a time).
    walking: bool,
}

impl Actor {
    pub(crate) fn new(
        swarm: Swarm<DoinBehaviour>,
        config: P2pConfig,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<P2pEvent>,
    ) -> Self {
        Actor {
            swarm,
            bans_made: config.address_bans.subscribe(),
            ids_banned: config.id_bans.subscribe(),
            scores: AppScores::new(config.scores.clone()),
            bans: BanList::new(config.scores.max_peers),
            blocked: HashSet::new(),
            sync: Requests::new(&config),
            tasks: Requests::new(&config),
            config,
            commands,
            events,
            peers: HashMap::new(),
            listen_addrs: Vec::new(),
            circuits: Circuits::default(),
            bootstrapped: false,
            walking: false,
        }
    }

    /// Subscribes to the global topics, starts listening and dialing the bootstrap peers.
    pub(crate) fn start(&mut self) -> Result<(), P2pError> {
        for t in topics::global_topics() {
            self.join(&t)?;
        }
        if self.config.reference_topics {
            for t in topics::global_topics_of(Origin::Reference) {
                self.join(&t)?;
            }
        }
        let (circuits, direct) = Circuits::split(&self.config.listen_addrs);
        self.circuits = circuits;
        for addr in direct {
            self.swarm
                .listen_on(addr.clone())
                .map_err(|e| P2pError::Address(format!("cannot listen on {addr}: {e}")))?;
        }
        for addr in self.config.external_addrs.clone() {
            self.swarm.add_external_address(addr);
        }
        for addr in self.config.bootstrap.clone() {
            if let Some(peer) = peer_of(&addr) {
                if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                    kad.add_address(&peer, addr.clone());
                }
            }
            if let Err(e) = self.swarm.dial(addr.clone()) {
                tracing::warn!(%addr, "cannot dial bootstrap peer: {e}");
            }
        }
        self.reach_relays();
        Ok(())
    }

    /// Listens on the waiting circuits whose relay is connected, and dials the others'
    /// relays (unless a dial is under way).
    fn reach_relays(&mut self) {
        for (relay, address) in self.circuits.relays_to_reach() {
            if self.swarm.is_connected(&relay) {
                self.listen_circuits(relay);
            } else {
                let opts = DialOpts::peer_id(relay)
                    .addresses(vec![address])
                    .condition(PeerCondition::DisconnectedAndNotDialing)
                    .build();
                let _ = self.swarm.dial(opts);
            }
        }
    }

    /// Listens on the waiting circuits through `relay`, now connected.
    fn listen_circuits(&mut self, relay: PeerId) {
        for addr in self.circuits.take_ready(&relay) {
            match self.swarm.listen_on(addr.clone()) {
                Ok(id) => self.circuits.listening(id, &addr),
                Err(e) => {
                    tracing::warn!(%addr, "cannot listen through the relay: {e}");
                    self.circuits.failed(&addr);
                }
            }
        }
    }

    pub(crate) async fn run(mut self) {
        let mut tick = tokio::time::interval(self.config.discovery_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                cmd = self.commands.recv() => match cmd {
                    Some(Command::Shutdown) | None => break,
                    Some(cmd) => self.on_command(cmd),
                },
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                Ok(()) = self.bans_made.changed() => self.close_banned_addresses(),
                Ok(()) = self.ids_banned.changed() => self.close_banned_ids(),
                _ = tick.tick() => self.housekeeping(),
            }
        }
    }

    fn join(&mut self, topic: &IdentTopic) -> Result<(), P2pError> {
        let gs = &mut self.swarm.behaviour_mut().gossipsub;
        gs.subscribe(topic)
            .map_err(|e| P2pError::Publish(format!("cannot subscribe: {e}")))?;
        // Set once per topic; a second subscribe keeps the first parameters.
        let _ = gs.set_topic_params(topic.clone(), topic_score_params());
        Ok(())
    }

    /// Hands an event to the node; a full channel drops it (returns false).
    pub(super) fn emit(&self, event: P2pEvent) -> bool {
        match self.events.try_send(event) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!("p2p event channel full: event dropped");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Publish {
                origin,
                kind,
                domain,
                data,
                reply,
            } => {
                let result = topics::topic_of(origin, kind, domain.as_deref())
                    .map_err(P2pError::from)
                    .and_then(|t| {
                        self.swarm
                            .behaviour_mut()
                            .gossipsub
                            .publish(t, data)
                            .map_err(|e| P2pError::Publish(e.to_string()))
                    });
                let _ = reply.send(result);
            }
            Command::Subscribe {
                domain,
                subscribe,
                reply,
            } => {
                let _ = reply.send(self.subscribe_domain(&domain, subscribe));
            }
            Command::Report {
                id,
                source,
                verdict,
            } => self.on_verdict(&id, source, verdict),
            Command::ReportPeer { peer, verdict } => self.score(peer, verdict),
            Command::Request {
                peer,
                request,
                reply,
            } => self.send_sync_request(peer, request, reply),
            Command::Answer {
                id,
                response,
                reply,
            } => {
                let _ = reply.send(self.answer_sync(id, response));
            }
            Command::Task { peer, call, reply } => self.send_task_call(peer, call, reply),
            Command::AnswerTask { id, answer, reply } => {
                let _ = reply.send(self.answer_task(id, answer));
            }
            Command::Dial { address, reply } => {
                let r = self
                    .swarm
                    .dial(address.clone())
                    .map_err(|e| P2pError::Address(format!("cannot dial {address}: {e}")));
                let _ = reply.send(r);
            }
            Command::Listen { address, reply } => {
                let r = self
                    .swarm
                    .listen_on(address.clone())
                    .map(|id| self.circuits.listening(id, &address))
                    .map_err(|e| P2pError::Address(format!("cannot listen on {address}: {e}")));
                let _ = reply.send(r);
            }
            Command::Block {
                peer,
                blocked,
                reply,
            } => {
                let _ = reply.send(self.block(peer, blocked));
            }
            Command::External { address, reply } => {
                self.swarm.add_external_address(address);
                let _ = reply.send(());
            }
            Command::Peers { reply } => {
                let _ = reply.send(self.peer_infos());
            }
            Command::ListenAddrs { reply } => {
                let _ = reply.send(self.listen_addrs.clone());
            }
            Command::Shutdown => {}
        }
    }

    fn subscribe_domain(&mut self, domain: &str, subscribe: bool) -> Result<(), P2pError> {
        let mut all = topics::domain_topics(domain)?;
        if self.config.reference_topics {
            all.extend(topics::domain_topics_of(Origin::Reference, domain)?);
        }
        for t in all {
            if subscribe {
                self.join(&t)?;
            } else {
                self.swarm.behaviour_mut().gossipsub.unsubscribe(&t);
            }
        }
        Ok(())
    }

    fn peer_infos(&self) -> Vec<PeerInfo> {
        let now = Instant::now();
        let gs = &self.swarm.behaviour().gossipsub;
        self.peers
            .iter()
            .map(|(peer, c)| PeerInfo {
                peer: *peer,
                doin_id: c.doin_id.clone(),
                address: c.address.clone(),
                gossip_score: gs.peer_score(peer).unwrap_or(0.0),
                app_score: self.scores.score(&peer.to_string(), now),
                refused: c.refused,
            })
            .collect()
    }

    fn housekeeping(&mut self) {
        let now = Instant::now();
        // Bans that ended: connections are welcome again.
        let ended: Vec<PeerId> = self
            .swarm
            .behaviour()
            .blocked
            .blocked_peers()
            .iter()
            .filter(|p| !self.bans.is_banned(p, now) && !self.blocked.contains(p))
            .copied()
            .collect();
        for p in ended {
            self.swarm.behaviour_mut().blocked.unblock_peer(p);
        }
        self.bans.expire(now);
        self.config.address_bans.expire(now);
        self.config.id_bans.expire(now);
        self.sync.expire(now);
        self.tasks.expire(now);
        self.reach_relays();
        // Below the peer target: walk the DHT for more, one walk at a time.
        if self.peers.len() < self.config.min_peers && !self.peers.is_empty() && !self.walking {
            if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                self.walking = kad.bootstrap().is_ok();
            }
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<DoinBehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                self.listen_addrs.push(address.clone());
                self.emit(P2pEvent::Listening(address));
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.listen_addrs.retain(|a| *a != address);
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } => {
                // A circuit waits for its relay again (the next housekeeping tick).
                let circuit = self.circuits.closed(listener_id);
                if circuit {
                    tracing::info!(?reason, "a relay circuit closed; listening again soon");
                }
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                num_established,
                ..
            } => {
                self.listen_circuits(peer_id);
                if num_established.get() == 1 {
                    let address = endpoint.get_remote_address().clone();
                    self.peers.insert(
                        peer_id,
                        Connected {
                            address: address.clone(),
                            doin_id: None,
                            refused: 0,
                        },
                    );
                    self.emit(P2pEvent::PeerConnected {
                        peer: peer_id,
                        address,
                    });
                }
                if self.config.discovery && !self.bootstrapped && !self.config.bootstrap.is_empty()
                {
                    self.bootstrapped = self
                        .swarm
                        .behaviour_mut()
                        .kad
                        .as_mut()
                        .is_some_and(|kad| kad.bootstrap().is_ok());
                    self.walking |= self.bootstrapped;
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                self.peers.remove(&peer_id);
                self.emit(P2pEvent::PeerDisconnected { peer: peer_id });
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                self.emit(P2pEvent::DialFailed {
                    peer: peer_id,
                    error: error.to_string(),
                });
            }
            SwarmEvent::Behaviour(event) => self.on_behaviour_event(event),
            _ => {}
        }
    }

    fn on_behaviour_event(&mut self, event: DoinBehaviourEvent) {
        match event {
            DoinBehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                self.on_identified(peer_id, info)
            }
            DoinBehaviourEvent::Gossipsub(e) => self.on_gossip(e),
            DoinBehaviourEvent::Sync(e) => self.on_sync(e),
            DoinBehaviourEvent::Tasks(e) => self.on_tasks(e),
            DoinBehaviourEvent::Kad(kad::Event::RoutingUpdated {
                peer, addresses, ..
            }) => {
                // Dial what the DHT finds only while short of peers: beyond that, every
                // dial is a handshake the connection limits may throw away.
                if self.peers.len() < self.config.min_peers
                    && !self.swarm.is_connected(&peer)
                    && peer != *self.swarm.local_peer_id()
                {
                    let opts = DialOpts::peer_id(peer)
                        .addresses(addresses.into_vec())
                        .condition(PeerCondition::DisconnectedAndNotDialing)
                        .build();
                    let _ = self.swarm.dial(opts);
                }
            }
            DoinBehaviourEvent::Kad(kad::Event::OutboundQueryProgressed {
                result: kad::QueryResult::Bootstrap(_),
                step,
                ..
            }) => {
                if step.last {
                    self.walking = false;
                }
            }
            other => tracing::trace!(?other, "p2p behaviour event"),
        }
    }

    /// A peer's identify record: its key must be the connection's, and a P-256 key (a DOIN
    /// node); its listen addresses go to the DHT.
    fn on_identified(&mut self, peer: PeerId, info: identify::Info) {
        let doin_id = match doin_peer_id_of_connection(&peer, &info.public_key) {
            Ok(id) => id,
            Err(e) => {
                tracing::info!(%peer, "disconnecting: {e}");
                let _ = self.swarm.disconnect_peer_id(peer);
                return;
            }
        };
        let new = match self.peers.get_mut(&peer) {
            Some(c) => c.doin_id.replace(doin_id.clone()).is_none(),
            None => return,
        };
        // Banned under this id on either transport: a fresh connection does not undo it.
        if self.refuse_banned_id(peer, &doin_id) {
            return;
        }
        if info.protocols.contains(&KAD_PROTOCOL) {
            if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                for addr in info.listen_addrs.into_iter().take(MAX_PEER_ADDRS) {
                    kad.add_address(&peer, addr);
                }
            }
        }
        if new {
            self.emit(P2pEvent::PeerIdentified { peer, doin_id });
        }
    }

    fn on_gossip(&mut self, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => {
                let Some((origin, kind, domain)) = parse_topic_of(&message.topic) else {
                    // Not a DOIN topic (we never subscribe to one): drop, charge nothing.
                    self.swarm
                        .behaviour_mut()
                        .gossipsub
                        .report_message_validation_result(
                            &message_id,
                            &propagation_source,
                            MessageAcceptance::Ignore,
                        );
                    return;
                };
                let msg = GossipMessage {
                    id: message_id.clone(),
                    source: propagation_source,
                    source_doin_id: self
                        .peers
                        .get(&propagation_source)
                        .and_then(|c| c.doin_id.clone()),
                    origin,
                    kind,
                    domain,
                    data: message.data,
                };
                if !self.emit(P2pEvent::Gossip(msg)) {
                    // The node is behind: neither forward nor charge.
                    self.swarm
                        .behaviour_mut()
                        .gossipsub
                        .report_message_validation_result(
                            &message_id,
                            &propagation_source,
                            MessageAcceptance::Ignore,
                        );
                }
            }
            gossipsub::Event::Subscribed { peer_id, topic } => {
                if let Some((kind, domain)) = parse_topic(&topic) {
                    self.emit(P2pEvent::PeerSubscribed {
                        peer: peer_id,
                        kind,
                        domain,
                    });
                }
            }
            _ => {}
        }
    }
}

/// The peer id an address names with its last `/p2p/<id>`.
pub(crate) fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().fold(None, |last, p| match p {
        libp2p::multiaddr::Protocol::P2p(id) => Some(id),
        _ => last,
    })
}
