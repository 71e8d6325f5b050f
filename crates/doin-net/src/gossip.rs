//! A GossipSub router as a sans-I/O state machine.
//!
//! Per topic, each node keeps a *mesh* of about `D` peers that also subscribe to it and
//! forwards every new message to its mesh (eager push). Peers announce their topics with
//! SUBSCRIBE/UNSUBSCRIBE, so a peer is only meshed for topics it wants. Each heartbeat
//! repairs the mesh (GRAFT up to `D` below `D_low`, PRUNE down to `D` above `D_high`,
//! keeping the best-scored peers), advertises recent message ids to `D_lazy` non-mesh
//! peers (IHAVE) so that a peer that missed one can ask for it (IWANT), expires fanout
//! sets and shifts the message cache. A pruned peer may not be grafted again on that topic
//! before the backoff ends; a GRAFT during the backoff is refused and penalized.
//!
//! Unlike the reference (§5.4: every dialled peer in every mesh, control frames
//! discarded, echo to the sender), this router is the protocol as libp2p specifies it,
//! minus signatures (the node verifies seals) and minus the full peer-score function: the
//! score here is +1 per first delivery (capped), -0.5 per unsolicited duplicate from a
//! non-mesh peer, -10 per bad verdict from the node, decaying each heartbeat. Reference
//! nodes never send SUBSCRIBE: with [`GossipConfig::reference_peers`] every peer counts as
//! subscribed to `blocks` and `discovery` from the moment it is added.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use doin_primitives::models::Message;

use crate::cache::{message_id, MessageCache, SeenCache};
use crate::control::{Control, IHave};
use crate::limits::{MAX_CONTROL_TOPICS, MAX_IHAVE_IDS, MAX_IWANT_IDS};
use crate::topic::{topic_of, BLOCKS, DISCOVERY};
use crate::{Action, PeerId, Router, Topic, Verdict};

/// GossipSub parameters (defaults: the reference's constants, §5.4).
#[derive(Debug, Clone)]
pub struct GossipConfig {
    /// Target mesh degree.
    pub d: usize,
    /// Below this, the heartbeat grafts up to `d`.
    pub d_low: usize,
    /// Above this, the heartbeat prunes down to `d`.
    pub d_high: usize,
    /// Peers receiving IHAVE gossip per topic per heartbeat.
    pub d_lazy: usize,
    /// History windows kept in the message cache (5 + the current one).
    pub history_length: usize,
    /// Newest windows advertised in IHAVE.
    pub history_gossip: usize,
    /// How long a fanout set lives after our last publish to it.
    pub fanout_ttl: Duration,
    /// How long a pruned peer may not be grafted again on that topic.
    pub prune_backoff: Duration,
    /// How long a message id stays in the seen-cache.
    pub seen_ttl: Duration,
    /// Most ids in the seen-cache.
    pub seen_capacity: usize,
    /// Most messages in the message cache.
    pub mcache_capacity: usize,
    /// Most IHAVE frames accepted from one peer per heartbeat.
    pub max_ihave_per_heartbeat: usize,
    /// Most times one cached message is sent to answer IWANTs.
    pub max_iwant_transmits: u32,
    /// Most peers tracked.
    pub max_peers: usize,
    /// Most topics tracked per peer.
    pub max_topics_per_peer: usize,
    /// Publish our own messages to every subscribed peer, not only the mesh.
    pub flood_publish: bool,
    /// Peers below this score get no IHAVE from us and their IHAVEs are ignored.
    pub gossip_threshold: f64,
    /// Take every new peer as subscribed to `blocks` and `discovery` from the start, as
    /// reference nodes must be: they never send SUBSCRIBE (they take every topic from
    /// every peer and discard control frames), so without this they would never be
    /// meshed and never hear of a block. Every DOIN node subscribes to both topics
    /// anyway. The node sets it when it accepts reference peers
    /// (`accept_unsigned_messages`).
    pub reference_peers: bool,
}

impl Default for GossipConfig {
    fn default() -> Self {
        GossipConfig {
            d: 6,
            d_low: 4,
            d_high: 12,
            d_lazy: 6,
            history_length: 6,
            history_gossip: 3,
            fanout_ttl: Duration::from_secs(60),
            prune_backoff: Duration::from_secs(60),
            seen_ttl: Duration::from_secs(120),
            seen_capacity: 10_000,
            mcache_capacity: 10_000,
            max_ihave_per_heartbeat: 10,
            max_iwant_transmits: 3,
            max_peers: 1_000,
            max_topics_per_peer: 256,
            flood_publish: false,
            gossip_threshold: -10.0,
            reference_peers: false,
        }
    }
}

const MAX_DELIVERY_SCORE: f64 = 10.0;
const DUPLICATE_PENALTY: f64 = 0.5;
const INVALID_PENALTY: f64 = 10.0;
const SCORE_DECAY: f64 = 0.98;

#[derive(Debug, Default)]
struct PeerState {
    topics: BTreeSet<Topic>,
    score: f64,
    ihaves_this_heartbeat: usize,
}

#[derive(Debug)]
struct Fanout {
    peers: BTreeSet<PeerId>,
    last_publish: Instant,
}

/// Control lists gathered per peer, sent as one frame each.
#[derive(Default)]
struct Outbox(BTreeMap<PeerId, Control>);

impl Outbox {
    fn to(&mut self, peer: &str) -> &mut Control {
        self.0.entry(peer.to_owned()).or_default()
    }

    fn into_actions(self, mut actions: Vec<Action>) -> Vec<Action> {
        actions.extend(
            self.0
                .into_iter()
                .filter(|(_, c)| !c.is_empty())
                .map(|(peer, control)| Action::SendControl { peer, control }),
        );
        actions
    }
}

/// A small deterministic PRNG (splitmix64) for peer selection; seeded from the OS.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// The GossipSub router of one node.
#[derive(Debug)]
pub struct GossipRouter {
    local: PeerId,
    config: GossipConfig,
    subscriptions: BTreeSet<Topic>,
    peers: BTreeMap<PeerId, PeerState>,
    mesh: BTreeMap<Topic, BTreeSet<PeerId>>,
    fanout: BTreeMap<Topic, Fanout>,
    backoff: HashMap<(Topic, PeerId), Instant>,
    seen: SeenCache,
    mcache: MessageCache,
    rng: Rng,
}

impl GossipRouter {
    /// A router for the local peer `local`, seeded from the OS.
    pub fn new(local: impl Into<PeerId>, config: GossipConfig) -> Self {
        let seed = rand_core::RngCore::next_u64(&mut rand_core::OsRng);
        Self::with_seed(local, config, seed)
    }

    /// A router whose peer choices follow `seed` (for reproducible tests).
    pub fn with_seed(local: impl Into<PeerId>, config: GossipConfig, seed: u64) -> Self {
        GossipRouter {
            local: local.into(),
            seen: SeenCache::new(config.seen_ttl, config.seen_capacity),
            mcache: MessageCache::new(
                config.history_length,
                config.history_gossip,
                config.mcache_capacity,
            ),
            config,
            subscriptions: BTreeSet::new(),
            peers: BTreeMap::new(),
            mesh: BTreeMap::new(),
            fanout: BTreeMap::new(),
            backoff: HashMap::new(),
            rng: Rng(seed),
        }
    }

    /// Our mesh for `topic`.
    pub fn mesh_peers(&self, topic: &str) -> Vec<PeerId> {
        self.mesh
            .get(topic)
            .map(|m| m.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Our fanout set for `topic`.
    pub fn fanout_peers(&self, topic: &str) -> Vec<PeerId> {
        self.fanout
            .get(topic)
            .map(|f| f.peers.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The router score of a peer.
    pub fn peer_score(&self, peer: &str) -> Option<f64> {
        self.peers.get(peer).map(|p| p.score)
    }

    /// Whether `peer` announced `topic`.
    pub fn peer_subscribes(&self, peer: &str, topic: &str) -> bool {
        self.peers
            .get(peer)
            .is_some_and(|p| p.topics.contains(topic))
    }

    /// Whether we subscribe to `topic`.
    pub fn is_subscribed(&self, topic: &str) -> bool {
        self.subscriptions.contains(topic)
    }

    fn in_backoff(&self, topic: &str, peer: &str, now: Instant) -> bool {
        self.backoff
            .get(&(topic.to_owned(), peer.to_owned()))
            .is_some_and(|until| *until > now)
    }

    fn set_backoff(&mut self, topic: &str, peer: &str, now: Instant) {
        self.backoff.insert(
            (topic.to_owned(), peer.to_owned()),
            now + self.config.prune_backoff,
        );
    }

    /// Peers subscribed to `topic`, not in `exclude`, scoring at least `min_score`, shuffled.
    fn candidates(
        &mut self,
        topic: &str,
        exclude: &BTreeSet<PeerId>,
        min_score: f64,
    ) -> Vec<PeerId> {
        let mut v: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(id, p)| {
                p.topics.contains(topic) && p.score >= min_score && !exclude.contains(*id)
            })
            .map(|(id, _)| id.clone())
            .collect();
        self.rng.shuffle(&mut v);
        v
    }

    fn graft_candidates(
        &mut self,
        topic: &str,
        exclude: &BTreeSet<PeerId>,
        now: Instant,
    ) -> Vec<PeerId> {
        let mut v = self.candidates(topic, exclude, 0.0);
        v.retain(|p| !self.in_backoff(topic, p, now));
        v
    }

    fn maintain_mesh(&mut self, topic: &Topic, now: Instant, out: &mut Outbox) {
        let mut mesh = self.mesh.remove(topic).unwrap_or_default();
        let gone: Vec<PeerId> = mesh
            .iter()
            .filter(|p| {
                !matches!(self.peers.get(*p), Some(s) if s.score >= 0.0 && s.topics.contains(topic))
            })
            .cloned()
            .collect();
        for p in gone {
            mesh.remove(&p);
            if self.peers.contains_key(&p) {
                out.to(&p).prune.push(topic.clone());
                self.set_backoff(topic, &p, now);
            }
        }
        if mesh.len() < self.config.d_low {
            let need = self.config.d.saturating_sub(mesh.len());
            for p in self
                .graft_candidates(topic, &mesh, now)
                .into_iter()
                .take(need)
            {
                out.to(&p).graft.push(topic.clone());
                mesh.insert(p);
            }
        }
        if mesh.len() > self.config.d_high {
            let mut members: Vec<PeerId> = mesh.iter().cloned().collect();
            self.rng.shuffle(&mut members);
            members.sort_by(|a, b| {
                let s = |p: &PeerId| self.peers.get(p).map_or(0.0, |s| s.score);
                s(b).total_cmp(&s(a))
            });
            for p in members.into_iter().skip(self.config.d) {
                mesh.remove(&p);
                out.to(&p).prune.push(topic.clone());
                self.set_backoff(topic, &p, now);
            }
        }
        self.mesh.insert(topic.clone(), mesh);
    }

    fn maintain_fanout(&mut self, now: Instant) {
        let ttl = self.config.fanout_ttl;
        self.fanout
            .retain(|_, f| now.saturating_duration_since(f.last_publish) < ttl);
        let topics: Vec<Topic> = self.fanout.keys().cloned().collect();
        for topic in topics {
            let Some(mut f) = self.fanout.remove(&topic) else {
                continue;
            };
            f.peers.retain(|p| {
                self.peers.get(p).is_some_and(|s| {
                    s.topics.contains(&topic) && s.score >= self.config.gossip_threshold
                })
            });
            let need = self.config.d.saturating_sub(f.peers.len());
            let min = self.config.gossip_threshold;
            f.peers.extend(
                self.candidates(&topic, &f.peers, min)
                    .into_iter()
                    .take(need),
            );
            self.fanout.insert(topic, f);
        }
    }

    fn emit_gossip(&mut self, out: &mut Outbox) {
        let topics: BTreeSet<Topic> = self
            .mesh
            .keys()
            .chain(self.fanout.keys())
            .cloned()
            .collect();
        for topic in topics {
            let mut ids = self.mcache.gossip_ids(&topic);
            if ids.is_empty() {
                continue;
            }
            ids.truncate(MAX_IHAVE_IDS);
            let mut exclude = self.mesh.get(&topic).cloned().unwrap_or_default();
            if let Some(f) = self.fanout.get(&topic) {
                exclude.extend(f.peers.iter().cloned());
            }
            let min = self.config.gossip_threshold;
            for p in self
                .candidates(&topic, &exclude, min)
                .into_iter()
                .take(self.config.d_lazy)
            {
                let c = out.to(&p);
                if c.ihave.len() < MAX_CONTROL_TOPICS {
                    c.ihave.push(IHave {
                        topic: topic.clone(),
                        ids: ids.clone(),
                    });
                }
            }
        }
    }

    fn forward_targets(&self, topic: &str, from: &str, origin: &str) -> Vec<PeerId> {
        self.mesh
            .get(topic)
            .into_iter()
            .flatten()
            .filter(|p| p.as_str() != from && p.as_str() != origin && **p != self.local)
            .cloned()
            .collect()
    }

    fn on_subscribe(&mut self, from: &str, topics: Vec<Topic>, now: Instant, out: &mut Outbox) {
        for t in topics {
            let Some(state) = self.peers.get_mut(from) else {
                return;
            };
            if state.topics.len() >= self.config.max_topics_per_peer && !state.topics.contains(&t) {
                continue;
            }
            state.topics.insert(t.clone());
            let score = state.score;
            // Graft at once when our mesh is short, instead of waiting for a heartbeat.
            if self.subscriptions.contains(&t) && score >= 0.0 && !self.in_backoff(&t, from, now) {
                let mesh = self.mesh.entry(t.clone()).or_default();
                if mesh.len() < self.config.d && mesh.insert(from.to_owned()) {
                    out.to(from).graft.push(t);
                }
            }
        }
    }

    fn on_graft(&mut self, from: &str, topics: Vec<Topic>, now: Instant, out: &mut Outbox) {
        for t in topics {
            let Some(score) = self.peers.get(from).map(|s| s.score) else {
                return;
            };
            if !self.subscriptions.contains(&t) {
                out.to(from).prune.push(t);
                continue;
            }
            if self.in_backoff(&t, from, now) {
                // Grafting back before the backoff ends is a protocol violation.
                if let Some(s) = self.peers.get_mut(from) {
                    s.score -= 1.0;
                }
                out.to(from).prune.push(t.clone());
                self.set_backoff(&t, from, now);
                continue;
            }
            if score < 0.0 {
                out.to(from).prune.push(t.clone());
                self.set_backoff(&t, from, now);
                continue;
            }
            if let Some(s) = self.peers.get_mut(from) {
                if s.topics.len() < self.config.max_topics_per_peer {
                    s.topics.insert(t.clone());
                }
            }
            self.mesh.entry(t).or_default().insert(from.to_owned());
        }
    }

    fn on_ihave(&mut self, from: &str, ihave: Vec<IHave>, now: Instant, out: &mut Outbox) {
        let Some(state) = self.peers.get_mut(from) else {
            return;
        };
        if state.score < self.config.gossip_threshold {
            return;
        }
        state.ihaves_this_heartbeat += 1;
        if state.ihaves_this_heartbeat > self.config.max_ihave_per_heartbeat {
            return;
        }
        let mut want: Vec<String> = Vec::new();
        for entry in ihave {
            if !self.subscriptions.contains(&entry.topic) {
                continue;
            }
            for id in entry.ids {
                if want.len() >= MAX_IWANT_IDS {
                    break;
                }
                if !self.seen.contains(&id, now)
                    && !self.mcache.contains(&id)
                    && !want.contains(&id)
                {
                    want.push(id);
                }
            }
        }
        if !want.is_empty() {
            out.to(from).iwant.extend(want);
        }
    }

    fn on_iwant(&mut self, from: &str, ids: Vec<String>, actions: &mut Vec<Action>) {
        for id in ids.into_iter().take(MAX_IWANT_IDS) {
            if let Some(m) = self
                .mcache
                .get_for_iwant(&id, self.config.max_iwant_transmits)
            {
                actions.push(Action::Send {
                    peer: from.to_owned(),
                    message: m.clone(),
                });
            }
        }
    }
}

impl Router for GossipRouter {
    fn add_peer(&mut self, peer: &str, now: Instant) -> Vec<Action> {
        if peer == self.local
            || self.peers.contains_key(peer)
            || self.peers.len() >= self.config.max_peers
        {
            return Vec::new();
        }
        self.peers.insert(peer.to_owned(), PeerState::default());
        let mut out = Outbox::default();
        if !self.subscriptions.is_empty() {
            out.to(peer).subscribe = self.subscriptions.iter().cloned().collect();
        }
        if self.config.reference_peers {
            let topics = vec![BLOCKS.to_owned(), DISCOVERY.to_owned()];
            self.on_subscribe(peer, topics, now, &mut out);
        }
        out.into_actions(Vec::new())
    }

    fn remove_peer(&mut self, peer: &str) {
        self.peers.remove(peer);
        for m in self.mesh.values_mut() {
            m.remove(peer);
        }
        for f in self.fanout.values_mut() {
            f.peers.remove(peer);
        }
        self.backoff.retain(|(_, p), _| p != peer);
    }

    fn handle_message(&mut self, from: &str, message: Message, now: Instant) -> Vec<Action> {
        let id = message_id(&message);
        let topic = topic_of(&message);
        if !self.seen.insert(&id, now) {
            let meshed = self.mesh.get(&topic).is_some_and(|m| m.contains(from));
            if let Some(s) = self.peers.get_mut(from) {
                if !meshed {
                    s.score -= DUPLICATE_PENALTY;
                }
            }
            return Vec::new();
        }
        if let Some(s) = self.peers.get_mut(from) {
            s.score = (s.score + 1.0).min(MAX_DELIVERY_SCORE);
        }
        if !self.subscriptions.contains(&topic) {
            // Domain sharding: a topic we do not serve is neither delivered nor relayed.
            return Vec::new();
        }
        let mut actions: Vec<Action> = self
            .forward_targets(&topic, from, &message.sender_id)
            .into_iter()
            .map(|peer| Action::Send {
                peer,
                message: message.clone(),
            })
            .collect();
        self.mcache.put(id, topic, message.clone());
        actions.push(Action::Deliver(message));
        actions
    }

    fn handle_control(&mut self, from: &str, control: Control, now: Instant) -> Vec<Action> {
        if !self.peers.contains_key(from) {
            return Vec::new();
        }
        let mut out = Outbox::default();
        let mut actions = Vec::new();
        self.on_subscribe(from, control.subscribe, now, &mut out);
        for t in control.unsubscribe {
            if let Some(s) = self.peers.get_mut(from) {
                s.topics.remove(&t);
            }
            if let Some(m) = self.mesh.get_mut(&t) {
                m.remove(from);
            }
            if let Some(f) = self.fanout.get_mut(&t) {
                f.peers.remove(from);
            }
        }
        self.on_graft(from, control.graft, now, &mut out);
        for t in control.prune {
            if let Some(m) = self.mesh.get_mut(&t) {
                m.remove(from);
            }
            self.set_backoff(&t, from, now);
        }
        self.on_ihave(from, control.ihave, now, &mut out);
        self.on_iwant(from, control.iwant, &mut actions);
        out.into_actions(actions)
    }

    fn publish(&mut self, topic: &str, message: Message, now: Instant) -> Vec<Action> {
        let id = message_id(&message);
        if !self.seen.insert(&id, now) {
            return Vec::new();
        }
        let min = self.config.gossip_threshold;
        let targets: BTreeSet<PeerId> = if self.subscriptions.contains(topic) {
            let mesh = self.mesh.get(topic).cloned().unwrap_or_default();
            if self.config.flood_publish {
                self.candidates(topic, &BTreeSet::new(), min)
                    .into_iter()
                    .collect()
            } else if mesh.is_empty() {
                let d = self.config.d;
                self.candidates(topic, &BTreeSet::new(), min)
                    .into_iter()
                    .take(d)
                    .collect()
            } else {
                mesh
            }
        } else {
            let existing = self
                .fanout
                .get(topic)
                .map(|f| f.peers.clone())
                .unwrap_or_default();
            let peers = if existing.is_empty() {
                let d = self.config.d;
                self.candidates(topic, &BTreeSet::new(), min)
                    .into_iter()
                    .take(d)
                    .collect()
            } else {
                existing
            };
            self.fanout.insert(
                topic.to_owned(),
                Fanout {
                    peers: peers.clone(),
                    last_publish: now,
                },
            );
            peers
        };
        self.mcache.put(id, topic.to_owned(), message.clone());
        targets
            .into_iter()
            .filter(|p| *p != self.local)
            .map(|peer| Action::Send {
                peer,
                message: message.clone(),
            })
            .collect()
    }

    fn heartbeat(&mut self, now: Instant) -> Vec<Action> {
        self.seen.expire(now);
        self.backoff.retain(|_, until| *until > now);
        for s in self.peers.values_mut() {
            s.score *= SCORE_DECAY;
            s.ihaves_this_heartbeat = 0;
        }
        let mut out = Outbox::default();
        let topics: Vec<Topic> = self.subscriptions.iter().cloned().collect();
        for topic in &topics {
            self.maintain_mesh(topic, now, &mut out);
        }
        self.maintain_fanout(now);
        self.emit_gossip(&mut out);
        self.mcache.shift();
        out.into_actions(Vec::new())
    }

    fn subscribe(&mut self, topic: &str, now: Instant) -> Vec<Action> {
        if !self.subscriptions.insert(topic.to_owned()) {
            return Vec::new();
        }
        let mut out = Outbox::default();
        let mut mesh: BTreeSet<PeerId> = self
            .fanout
            .remove(topic)
            .map(|f| f.peers)
            .unwrap_or_default();
        mesh.retain(|p| self.peers.get(p).is_some_and(|s| s.score >= 0.0));
        mesh = mesh.into_iter().take(self.config.d).collect();
        let need = self.config.d.saturating_sub(mesh.len());
        let more: Vec<PeerId> = self
            .graft_candidates(topic, &mesh, now)
            .into_iter()
            .take(need)
            .collect();
        mesh.extend(more);
        for p in &mesh {
            out.to(p).graft.push(topic.to_owned());
        }
        self.mesh.insert(topic.to_owned(), mesh);
        for p in self.peers.keys() {
            out.to(p).subscribe.push(topic.to_owned());
        }
        out.into_actions(Vec::new())
    }

    fn unsubscribe(&mut self, topic: &str, now: Instant) -> Vec<Action> {
        if !self.subscriptions.remove(topic) {
            return Vec::new();
        }
        let mut out = Outbox::default();
        for p in self.mesh.remove(topic).unwrap_or_default() {
            out.to(&p).prune.push(topic.to_owned());
            self.set_backoff(topic, &p, now);
        }
        for p in self.peers.keys() {
            out.to(p).unsubscribe.push(topic.to_owned());
        }
        out.into_actions(Vec::new())
    }

    fn report(&mut self, peer: &str, verdict: Verdict) {
        if let Some(s) = self.peers.get_mut(peer) {
            match verdict {
                Verdict::Valid => {}
                Verdict::Spam => s.score -= 1.0,
                _ => s.score -= INVALID_PENALTY,
            }
        }
    }

    fn peers(&self) -> Vec<PeerId> {
        self.peers.keys().cloned().collect()
    }

    fn topic_peers(&self, topic: &str) -> Vec<PeerId> {
        self.mesh_peers(topic)
    }
}
