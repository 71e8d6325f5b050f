//! The run's schedule: a priority queue of timed events (virtual µs, then insertion
//! order, so equal times replay in the same order) and the log of what happened.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use doin_consensus::commitment::OptimaeCommitment;
use doin_consensus::{accepted::Reveal, QuorumVote};
use doin_primitives::models::Block;

/// A message between nodes.
#[derive(Debug, Clone)]
pub enum Msg {
    /// A block announced by gossip.
    Block(Arc<Block>),
    /// An optimizer's commitment, relayed to whoever mints next.
    Commitment(Arc<OptimaeCommitment>),
    /// An optimizer asks a quorum member to evaluate its reveal.
    VoteRequest(Arc<Reveal>),
    /// An evaluator's sealed vote.
    Vote(Arc<QuorumVote>),
    /// A sync request: the requester's chain hashes from its finalized height up.
    SyncRequest(Vec<(u64, String)>),
    /// The blocks a sync request asked for (or a withholder's released branch).
    Blocks(Vec<Arc<Block>>),
}

impl Msg {
    /// A short name for the log.
    pub fn kind(&self) -> String {
        match self {
            Msg::Block(b) => format!("block {}@{}", short(&b.hash), b.header.index),
            Msg::Commitment(_) => "commitment".into(),
            Msg::VoteRequest(_) => "vote-request".into(),
            Msg::Vote(_) => "vote".into(),
            Msg::SyncRequest(l) => format!("sync-request({})", l.len()),
            Msg::Blocks(b) => format!("blocks({})", b.len()),
        }
    }
}

/// The first 8 characters of a hash, for the log.
pub fn short(hash: &str) -> &str {
    hash.get(..8).unwrap_or(hash)
}

/// Something that happens at a virtual instant.
#[derive(Debug, Clone)]
pub enum Event {
    /// A message arrives.
    Deliver {
        /// Sender.
        from: usize,
        /// Receiver.
        to: usize,
        /// The message.
        msg: Msg,
    },
    /// A node checks whether it may mint.
    MintCheck(usize),
    /// An optimizer tries a new candidate.
    OptimizerStep(usize),
    /// A node runs a sync round with a random peer.
    SyncRound(usize),
    /// A node crashes.
    Crash(usize),
    /// A node restarts from its kept blocks.
    Restart(usize),
    /// A withholder releases its private branch.
    Release(usize),
    /// The invariant checker's periodic look at the whole network.
    Check,
}

struct Entry {
    at: i64,
    seq: u64,
    event: Event,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The queue of pending events, earliest first.
#[derive(Default)]
pub struct EventQueue {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
}

impl EventQueue {
    /// Schedules `event` at virtual time `at`.
    pub fn push(&mut self, at: i64, event: Event) {
        self.seq += 1;
        self.heap.push(Reverse(Entry {
            at,
            seq: self.seq,
            event,
        }));
    }

    /// The earliest event, if any.
    pub fn pop(&mut self) -> Option<(i64, Event)> {
        self.heap.pop().map(|Reverse(e)| (e.at, e.event))
    }

    /// Events still pending.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// The log of a run: one line per notable step, printed when an invariant breaks.
#[derive(Default)]
pub struct EventLog {
    lines: Vec<String>,
    /// Whether lines are recorded (off for long benchmark runs).
    pub enabled: bool,
}

impl EventLog {
    /// A log that records.
    pub fn recording() -> Self {
        EventLog {
            lines: Vec::new(),
            enabled: true,
        }
    }

    /// Records a line at virtual time `at` (µs after the start).
    pub fn note(&mut self, at: i64, line: impl FnOnce() -> String) {
        if self.enabled {
            self.lines
                .push(format!("{:>12.6}s {}", at as f64 / 1e6, line()));
        }
    }

    /// Every recorded line.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }
}
