//! A simulated network of in-process routers, for tests and benches (no sockets).
//!
//! Delay model: every message or control frame takes one hop of
//! `hop_delay ± jitter` (uniform, deterministic per seed) of virtual time; routers see
//! virtual `Instant`s (`start + elapsed`). Heartbeats run on every node at once at each
//! multiple of the heartbeat interval. Sends are never lost or reordered beyond the jitter.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use doin_primitives::models::Message;

use crate::cache::message_id;
use crate::control::Control;
use crate::{Action, MessageId, PeerId, Router};

enum Payload {
    Message(Message),
    Control(Control),
}

struct Event {
    at: Duration,
    seq: u64,
    from: usize,
    to: usize,
    payload: Payload,
}

impl PartialEq for Event {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Event {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// Per-message counters of the simulation.
#[derive(Debug, Default, Clone)]
pub struct MessageStats {
    /// Per node: how many copies it received (1 = no duplicate).
    pub receptions: Vec<u32>,
    /// Per node: how many times its router delivered it to the node (must be ≤ 1).
    pub deliveries: Vec<u32>,
    /// Per node: virtual time from publish to first delivery (`None`: never).
    pub latency: Vec<Option<Duration>>,
    /// When it was published.
    pub published_at: Duration,
    /// Which node published it.
    pub origin: usize,
}

impl MessageStats {
    /// Nodes other than the origin that got it.
    pub fn reached(&self) -> usize {
        self.deliveries
            .iter()
            .enumerate()
            .filter(|(i, d)| *i != self.origin && **d > 0)
            .count()
    }

    /// Mean duplicate copies per node (receptions beyond the first), origin excluded.
    pub fn duplicates_per_node(&self) -> f64 {
        let n = self.receptions.len().saturating_sub(1).max(1);
        let dups: u32 = self
            .receptions
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != self.origin)
            .map(|(_, r)| r.saturating_sub(1))
            .sum();
        f64::from(dups) / n as f64
    }
}

/// A network of routers joined by the given edges.
pub struct SimNetwork<R: Router> {
    routers: Vec<R>,
    ids: Vec<PeerId>,
    index: HashMap<PeerId, usize>,
    start: Instant,
    now: Duration,
    seq: u64,
    queue: BinaryHeap<Reverse<Event>>,
    hop_delay: Duration,
    jitter: Duration,
    rng: u64,
    stats: HashMap<MessageId, MessageStats>,
    /// Messages and control frames sent so far.
    pub sends: u64,
}

impl<R: Router> SimNetwork<R> {
    /// Wraps routers (`routers[i]` has peer id `ids[i]`); call [`Self::connect`] next.
    pub fn new(
        routers: Vec<R>,
        ids: Vec<PeerId>,
        hop_delay: Duration,
        jitter: Duration,
        seed: u64,
    ) -> Self {
        let index = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i))
            .collect();
        SimNetwork {
            routers,
            ids,
            index,
            start: Instant::now(),
            now: Duration::ZERO,
            seq: 0,
            queue: BinaryHeap::new(),
            hop_delay,
            jitter,
            rng: seed | 1,
            stats: HashMap::new(),
            sends: 0,
        }
    }

    /// The current virtual instant.
    pub fn instant(&self) -> Instant {
        self.start + self.now
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.routers.len()
    }

    /// Whether there is no node.
    pub fn is_empty(&self) -> bool {
        self.routers.is_empty()
    }

    /// A router.
    pub fn router(&self, i: usize) -> &R {
        &self.routers[i]
    }

    fn delay(&mut self) -> Duration {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let j = self.jitter.as_micros() as u64;
        let off = if j == 0 { 0 } else { self.rng % (2 * j + 1) };
        (self.hop_delay + Duration::from_micros(off)).saturating_sub(self.jitter)
    }

    fn apply(&mut self, node: usize, actions: Vec<Action>) {
        for a in actions {
            let (to, payload) = match a {
                Action::Deliver(m) => {
                    let n = self.routers.len();
                    let now = self.now;
                    let s = self.stats.entry(message_id(&m)).or_default();
                    s.deliveries.resize(n, 0);
                    s.latency.resize(n, None);
                    s.deliveries[node] += 1;
                    if s.latency[node].is_none() {
                        s.latency[node] = Some(now.saturating_sub(s.published_at));
                    }
                    continue;
                }
                Action::Send { peer, message } => (peer, Payload::Message(message)),
                Action::SendControl { peer, control } => (peer, Payload::Control(control)),
            };
            let Some(&to) = self.index.get(&to) else {
                continue;
            };
            let at = self.now + self.delay();
            self.seq += 1;
            self.sends += 1;
            self.queue.push(Reverse(Event {
                at,
                seq: self.seq,
                from: node,
                to,
                payload,
            }));
        }
    }

    /// Adds each edge as a peer on both ends (announcements are queued).
    pub fn connect(&mut self, edges: &[(usize, usize)]) {
        let now = self.instant();
        for &(a, b) in edges {
            let (ida, idb) = (self.ids[a].clone(), self.ids[b].clone());
            let out = self.routers[a].add_peer(&idb, now);
            self.apply(a, out);
            let out = self.routers[b].add_peer(&ida, now);
            self.apply(b, out);
        }
    }

    /// Subscribes every node to `topic`.
    pub fn subscribe_all(&mut self, topic: &str) {
        let now = self.instant();
        for i in 0..self.routers.len() {
            let out = self.routers[i].subscribe(topic, now);
            self.apply(i, out);
        }
    }

    /// Node `node` publishes `message` on `topic`.
    pub fn publish(&mut self, node: usize, topic: &str, message: Message) -> MessageId {
        let id = message_id(&message);
        let n = self.routers.len();
        self.stats.insert(
            id.clone(),
            MessageStats {
                receptions: vec![0; n],
                deliveries: vec![0; n],
                latency: vec![None; n],
                published_at: self.now,
                origin: node,
            },
        );
        let now = self.instant();
        let out = self.routers[node].publish(topic, message, now);
        self.apply(node, out);
        id
    }

    /// Runs every node's heartbeat now.
    pub fn heartbeat_all(&mut self) {
        let now = self.instant();
        for i in 0..self.routers.len() {
            let out = self.routers[i].heartbeat(now);
            self.apply(i, out);
        }
    }

    /// Processes events for `span` of virtual time, with heartbeats every `heartbeat`.
    pub fn run_for(&mut self, span: Duration, heartbeat: Duration) {
        let end = self.now + span;
        let hb = heartbeat.max(Duration::from_millis(1));
        let mut next_hb = (self.now.as_micros() / hb.as_micros() + 1) * hb.as_micros();
        loop {
            let next_event = self.queue.peek().map(|Reverse(e)| e.at);
            let hb_at = Duration::from_micros(next_hb as u64);
            match next_event {
                Some(at) if at <= end && at < hb_at => {
                    let Some(Reverse(e)) = self.queue.pop() else {
                        break;
                    };
                    self.now = e.at;
                    self.step(e);
                }
                _ if hb_at <= end => {
                    self.now = hb_at;
                    self.heartbeat_all();
                    next_hb += hb.as_micros();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    /// Processes queued events until none are left (no heartbeats).
    pub fn run_until_idle(&mut self) {
        while let Some(Reverse(e)) = self.queue.pop() {
            self.now = self.now.max(e.at);
            self.step(e);
        }
    }

    fn step(&mut self, e: Event) {
        let now = self.instant();
        let from = self.ids[e.from].clone();
        let out = match e.payload {
            Payload::Message(m) => {
                let n = self.routers.len();
                if let Some(s) = self.stats.get_mut(&message_id(&m)) {
                    s.receptions.resize(n, 0);
                    s.receptions[e.to] += 1;
                }
                self.routers[e.to].handle_message(&from, m, now)
            }
            Payload::Control(c) => self.routers[e.to].handle_control(&from, c, now),
        };
        self.apply(e.to, out);
    }

    /// Counters of a published message.
    pub fn stats(&self, id: &str) -> Option<&MessageStats> {
        self.stats.get(id)
    }
}

/// A random connected graph on `n` nodes: a random spanning tree plus `extra` random edges
/// (deterministic in `seed`, no self-loops or repeated edges).
pub fn random_connected_graph(n: usize, extra: usize, seed: u64) -> Vec<(usize, usize)> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut edges = Vec::new();
    let mut set = std::collections::BTreeSet::new();
    for i in 1..n {
        let j = (next() % i as u64) as usize;
        edges.push((j, i));
        set.insert((j, i));
    }
    let mut tries = 0;
    while edges.len() < n.saturating_sub(1) + extra && tries < extra * 20 && n > 2 {
        tries += 1;
        let a = (next() % n as u64) as usize;
        let b = (next() % n as u64) as usize;
        let e = (a.min(b), a.max(b));
        if a != b && set.insert(e) {
            edges.push(e);
        }
    }
    edges
}

/// Peer ids `node-0`, `node-1`, ...
pub fn node_ids(n: usize) -> Vec<PeerId> {
    (0..n).map(|i| format!("node-{i}")).collect()
}
