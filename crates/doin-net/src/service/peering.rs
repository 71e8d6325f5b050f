//! Peer bookkeeping: connection slots (connect, evict, disconnect), the outcomes of sends,
//! and discovery (bootstrap endpoints and peer exchange with known peers, whose answers
//! add entries to the book but never move an entry it holds elsewhere).

use std::time::{Duration, Instant};

use super::{unix_now, Actor, Event};
use crate::peers::{is_placeholder, placeholder_id, PeerSource};
use crate::slots::{Admission, Direction};
use crate::PeerKey;

impl Actor {
    /// Gives `peer` a slot in `direction` if the slots allow ([`Slots::admit`]), evicting
    /// the inbound peer they name.
    pub(super) fn connect(&mut self, peer: &str, direction: Direction, now: Instant) {
        if peer == self.config.peer_id
            || self.slots.contains(peer)
            || self.bans.is_banned(peer, now)
            || self.table.is_banned(peer, unix_now())
        {
            return;
        }
        let ip = self.table.endpoint(peer).and_then(crate::hop::endpoint_ip);
        match self.slots.admit(peer, ip, direction, now) {
            Admission::Admitted => {}
            Admission::Evicted(victim) => {
                tracing::debug!(peer, %victim, "inbound slots full; evicted a peer");
                self.drop_peer(&victim);
            }
            Admission::Refused => return,
        }
        self.router.add_peer(peer);
    }

    pub(super) fn disconnect(&mut self, peer: &str) {
        self.slots.remove(peer);
        self.drop_peer(peer);
    }

    fn drop_peer(&mut self, peer: &str) {
        self.router.remove_peer(peer);
        if let Some(q) = self.queues.remove(peer) {
            q.close();
        }
    }

    pub(super) fn on_event(&mut self, e: Event) {
        let now = Instant::now();
        match e {
            Event::Sent { peer, ok: true } => self.table.record_success(&peer, unix_now()),
            Event::Sent { peer, ok: false } => {
                self.table.record_failure(&peer, unix_now());
                if !matches!(self.table.get(&peer), Some(e) if e.failures < 3) {
                    self.disconnect(&peer);
                }
            }
            Event::Pex {
                endpoint,
                asked,
                answer,
            } => match answer {
                Ok(a) => {
                    let unix = unix_now();
                    // What a peer says about ids adds entries; it never moves an entry
                    // the book holds at another endpoint (that would be a relay claim
                    // moving another peer's endpoint).
                    if let Some((id, _)) = &a.self_peer {
                        if *id != asked && is_placeholder(&asked, &endpoint) {
                            // The stand-in has its id now (or was us): it goes.
                            self.disconnect(&asked);
                            self.table.remove(&asked);
                        }
                        if *id != self.config.peer_id && !self.moves(id, &endpoint) {
                            let source = if self.config.bootstrap.contains(&endpoint) {
                                PeerSource::Bootstrap
                            } else {
                                PeerSource::Pex
                            };
                            let slots = &self.slots;
                            self.table
                                .upsert_keeping(id, &endpoint, source, unix, |id| {
                                    slots.contains(id)
                                });
                            self.table.record_success(id, unix);
                            self.connect(id, Direction::Outbound, now);
                        }
                    }
                    for p in a.peers {
                        if p.peer_id == self.config.peer_id || self.moves(&p.peer_id, &p.endpoint())
                        {
                            continue;
                        }
                        let endpoint = p.endpoint();
                        if is_placeholder(&p.peer_id, &endpoint) {
                            // An id the answering node has not learnt yet (the reference
                            // lists such peers as `host:port`, us among them): the endpoint
                            // is asked for its own id next round instead.
                            if !self.table.iter().any(|e| e.endpoint == endpoint) {
                                let id = placeholder_id(&endpoint);
                                let slots = &self.slots;
                                self.table.upsert_keeping(
                                    &id,
                                    &endpoint,
                                    PeerSource::Pex,
                                    unix,
                                    |id| slots.contains(id),
                                );
                            }
                            continue;
                        }
                        let slots = &self.slots;
                        self.table.upsert_keeping(
                            &p.peer_id,
                            &endpoint,
                            PeerSource::Pex,
                            unix,
                            |id| slots.contains(id),
                        );
                        if self.table.is_dialable(&p.peer_id, unix) {
                            self.connect(&p.peer_id, Direction::Outbound, now);
                        }
                    }
                }
                Err(reason) => {
                    tracing::debug!(%endpoint, %reason, "peer exchange failed");
                    self.table.record_failure(&asked, unix_now());
                }
            },
        }
    }

    /// Whether recording `peer` at `endpoint` would move an entry the book holds elsewhere.
    fn moves(&self, peer: &str, endpoint: &str) -> bool {
        self.table.endpoint(peer).is_some_and(|ep| ep != endpoint)
    }

    /// Connects the dialable peers of a reloaded table.
    pub(super) fn reconnect_known(&mut self) {
        let now = Instant::now();
        let ids: Vec<PeerKey> = self
            .table
            .dialable(unix_now())
            .into_iter()
            .filter(|e| !is_placeholder(&e.peer_id, &e.endpoint))
            .map(|e| e.peer_id.clone())
            .collect();
        for id in ids {
            self.connect(&id, Direction::Outbound, now);
        }
    }

    /// One discovery round: bootstrap peers, then peer exchange with up to 8 known peers.
    pub(super) fn discover(&mut self) {
        let unix = unix_now();
        let mut targets: Vec<(PeerKey, String)> = Vec::new();
        for ep in self.config.bootstrap.clone() {
            let known = self
                .table
                .iter()
                .find(|e| e.endpoint == ep)
                .map(|e| e.peer_id.clone());
            let id = known.unwrap_or_else(|| {
                self.table
                    .upsert(&placeholder_id(&ep), &ep, PeerSource::Bootstrap, unix);
                placeholder_id(&ep)
            });
            if self.table.is_dialable(&id, unix) {
                targets.push((id, ep));
            }
        }
        for e in self.table.dialable(unix) {
            if targets.len() >= 8 + self.config.bootstrap.len() {
                break;
            }
            if !targets.iter().any(|(id, _)| *id == e.peer_id) {
                targets.push((e.peer_id.clone(), e.endpoint.clone()));
            }
        }
        self.pex(targets);
        if let Err(e) = self.table.save() {
            tracing::warn!("saving peers: {e}");
        }
    }

    pub(super) fn pex(&self, targets: Vec<(PeerKey, String)>) {
        if targets.is_empty() {
            return;
        }
        let client = self.client.clone();
        let events = self.events_tx.clone();
        tokio::spawn(async move {
            for (asked, endpoint) in targets {
                let answer = tokio::time::timeout(Duration::from_secs(5), client.peers(&endpoint))
                    .await
                    .map_err(|_| "timed out".to_owned())
                    .and_then(|r| r.map_err(|e| e.to_string()));
                if events
                    .send(Event::Pex {
                        endpoint,
                        asked,
                        answer,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
    }
}
