//! Proposals in flight: optimae an optimizer committed to and is waiting to see on chain
//! ([`Committed`]), then revealed to their quorum and whose votes it is collecting
//! ([`InFlight`]), while its rounds go on.
//!
//! A commitment must land in a block before its reveal (`doin_consensus::commitment`):
//! the block that carries it seeds the quorum and the evaluators' data. A round commits an
//! improvement; later rounds find the commitment on chain and reveal it.
//!
//! A solo node's round never waits for votes; a networked node's used to wait for its
//! quorum (gossip, a pull over HTTP, an evaluation, a completion) and lost rounds to it.
//! Now a round reveals an improvement, returns to optimizing, and later rounds collect the
//! votes that arrived ([`InFlight::poll`]) and hand each voted proposal to the chain.
//! Every node keeps its round rate whatever its quorum's latency, and at most
//! [`MAX_IN_FLIGHT`] proposals per domain wait at once, so its evaluators' load is bounded.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use doin_consensus::accepted::Reveal;
use doin_consensus::rejection::OptimaeClaim;
use doin_consensus::vote::QuorumVote;
use tokio::sync::oneshot;

use crate::task_queue::Completion;

/// Most proposals of one domain waiting for votes at once.
pub const MAX_IN_FLIGHT: usize = 4;
/// Most commitments of one domain waiting for a block at once (they cost evaluators
/// nothing; the chain service's pool takes as many per optimizer).
pub const MAX_COMMITTED: usize = crate::commitment_pool::MAX_PENDING_PER_OPTIMIZER;

/// An improvement committed to and not revealed yet: waiting for its commitment to land.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The parameters and the performance the optimizer measured.
    pub candidate: doin_plugins::Candidate,
    /// The commitment nonce.
    pub nonce: String,
    /// `compute_commitment(parameters, nonce)`.
    pub commitment_hash: String,
    /// The optimizer round that found it.
    pub round: u64,
    /// Seconds from the start of the experiment to the result.
    pub elapsed: f64,
    /// When it was committed.
    pub since: Instant,
}

/// One verification task of a proposal, until its vote arrives.
struct Awaited {
    /// Its place among the proposal's tasks.
    index: usize,
    task_id: String,
    /// A quorum member's task (its vote is needed), not an open one (a young chain's
    /// optional extra vote).
    required: bool,
    rx: oneshot::Receiver<Completion>,
}

/// A revealed optimae collecting its quorum's votes.
pub struct InFlight {
    /// What was revealed.
    pub reveal: Reveal,
    /// The sealed claim (report and stake) its votes are offered to the rejection pool with.
    pub claim: OptimaeClaim,
    /// The optimizer round that found it.
    pub round: u64,
    /// Seconds from the start of the experiment to the result.
    pub elapsed: f64,
    /// The evaluators whose votes the optimae needs.
    pub quorum: Vec<String>,
    /// The hash of the block that carried the commitment when it was revealed (its quorum
    /// and seeds derive from it; a reorganisation that replaces it voids the votes).
    pub commit_block: String,
    /// The votes received so far, by task in queueing order (quorum members first): the
    /// order the optimae carries them in, whatever order they arrived in.
    votes: Vec<Option<QuorumVote>>,
    /// Every task id (to cancel them all when done).
    pub task_ids: Vec<String>,
    awaited: Vec<Awaited>,
    /// Until when the quorum's votes are waited for.
    deadline: Instant,
    /// Until when open (optional) votes are waited for once the quorum's are in.
    open_deadline: Instant,
    /// A quorum member's task ended without a vote (failed or dropped).
    lost: bool,
}

impl InFlight {
    /// A proposal whose tasks were queued at `now`; the quorum's votes are awaited for
    /// `quorum_wait`, open ones for `open_wait` at most.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        reveal: Reveal,
        claim: OptimaeClaim,
        round: u64,
        elapsed: f64,
        quorum: Vec<String>,
        now: Instant,
        quorum_wait: Duration,
        open_wait: Duration,
    ) -> Self {
        InFlight {
            reveal,
            claim,
            round,
            elapsed,
            quorum,
            commit_block: String::new(),
            votes: Vec::new(),
            task_ids: Vec::new(),
            awaited: Vec::new(),
            deadline: now + quorum_wait,
            open_deadline: now + open_wait.min(quorum_wait),
            lost: false,
        }
    }

    /// Adds a queued task's completion receiver.
    pub fn await_task(
        &mut self,
        task_id: String,
        required: bool,
        rx: oneshot::Receiver<Completion>,
    ) {
        self.task_ids.push(task_id.clone());
        self.votes.push(None);
        self.awaited.push(Awaited {
            index: self.votes.len() - 1,
            task_id,
            required,
            rx,
        });
    }

    /// The performance the optimizer reported.
    pub fn performance(&self) -> f64 {
        self.reveal.reported_performance
    }

    /// Collects the votes that arrived, without waiting; says whether the proposal is
    /// done: every vote in, or the quorum's in and the open wait over, or a quorum task
    /// lost, or the deadline passed.
    pub fn poll(&mut self, now: Instant) -> bool {
        let mut still = Vec::with_capacity(self.awaited.len());
        for mut a in std::mem::take(&mut self.awaited) {
            match a.rx.try_recv() {
                Ok(c) => {
                    // The queue completes a task only with its claimer's sealed vote for
                    // this optimae and with that evaluator's seed.
                    match c.vote.as_ref().map(QuorumVote::from_value) {
                        Some(Ok(v)) => self.votes[a.index] = Some(v),
                        _ => self.lost |= a.required,
                    }
                }
                Err(oneshot::error::TryRecvError::Empty) => still.push(a),
                Err(oneshot::error::TryRecvError::Closed) => self.lost |= a.required,
            }
        }
        self.awaited = still;
        let quorum_in = !self.awaited.iter().any(|a| a.required);
        self.awaited.is_empty()
            || self.lost
            || now >= self.deadline
            || (quorum_in && now >= self.open_deadline)
    }

    /// The votes received, in the order of the tasks they answer.
    pub fn votes(&self) -> impl Iterator<Item = &QuorumVote> {
        self.votes.iter().flatten()
    }

    /// Takes the votes received, in the order of the tasks they answer.
    pub fn take_votes(&mut self) -> Vec<QuorumVote> {
        std::mem::take(&mut self.votes)
            .into_iter()
            .flatten()
            .collect()
    }

    /// Whether every quorum member voted.
    pub fn quorum_voted(&self) -> bool {
        self.quorum
            .iter()
            .all(|q| self.votes().any(|v| v.evaluator_id == *q))
    }

    /// The task ids still awaited (for tests and logs).
    pub fn awaited_tasks(&self) -> impl Iterator<Item = &str> {
        self.awaited.iter().map(|a| a.task_id.as_str())
    }
}

/// The proposals of one domain in flight, oldest first: at most [`MAX_COMMITTED`]
/// committed and [`MAX_IN_FLIGHT`] revealed.
#[derive(Default)]
pub struct InFlightSet {
    committed: VecDeque<Committed>,
    proposals: VecDeque<InFlight>,
}

impl InFlightSet {
    /// Whether another proposal may be committed.
    pub fn has_room(&self) -> bool {
        self.committed.len() < MAX_COMMITTED
    }

    /// Whether another proposal may be revealed.
    pub fn can_reveal(&self) -> bool {
        self.proposals.len() < MAX_IN_FLIGHT
    }

    /// Whether a committed proposal waits for its commitment to land.
    pub fn has_committed(&self) -> bool {
        !self.committed.is_empty()
    }

    /// How many are waiting, committed or revealed.
    pub fn len(&self) -> usize {
        self.committed.len() + self.proposals.len()
    }

    /// Whether none is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a revealed proposal.
    pub fn push(&mut self, p: InFlight) {
        self.proposals.push_back(p);
    }

    /// Adds a committed proposal (the caller checked [`Self::has_room`]).
    pub fn push_committed(&mut self, c: Committed) {
        self.committed.push_back(c);
    }

    /// Removes and returns the committed proposals, oldest first (the caller puts back
    /// those still waiting).
    pub fn take_committed(&mut self) -> Vec<Committed> {
        self.committed.drain(..).collect()
    }

    /// The best performance committed or in flight under `better`.
    pub fn best(&self, better: impl Fn(f64, f64) -> bool) -> Option<f64> {
        self.proposals
            .iter()
            .map(InFlight::performance)
            .chain(self.committed.iter().map(|c| c.candidate.performance))
            .fold(None, |acc, p| match acc {
                Some(a) if !better(p, a) => Some(a),
                _ => Some(p),
            })
    }

    /// Removes and returns the revealed proposals for which `stale` holds (their commit
    /// block was replaced), oldest first.
    pub fn take_stale(&mut self, mut stale: impl FnMut(&InFlight) -> bool) -> Vec<InFlight> {
        let (gone, kept): (VecDeque<InFlight>, VecDeque<InFlight>) =
            self.proposals.drain(..).partition(|p| stale(p));
        self.proposals = kept;
        gone.into()
    }

    /// Removes and returns the proposals that are done at `now`, oldest first.
    pub fn take_done(&mut self, now: Instant) -> Vec<InFlight> {
        let mut done = Vec::new();
        let mut waiting = VecDeque::with_capacity(self.proposals.len());
        for mut p in self.proposals.drain(..) {
            if p.poll(now) {
                done.push(p);
            } else {
                waiting.push_back(p);
            }
        }
        self.proposals = waiting;
        done
    }

    /// Removes every proposal (at shutdown or when the domain's target is reached).
    pub fn drain(&mut self) -> Vec<InFlight> {
        self.committed.clear();
        self.proposals.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::identity::Identity;
    use doin_primitives::value::Map;
    use doin_primitives::Timestamp;

    fn reveal(performance: f64) -> Reveal {
        Reveal {
            domain_id: "d".into(),
            parameters: Map::new(),
            nonce: "00".into(),
            reported_performance: performance,
            commit_height: 0,
            timestamp: Timestamp::from_unix_secs(1_767_225_600),
        }
    }

    /// A proposal revealed at `t0` with a sealed claim.
    fn in_flight(performance: f64, round: u64, quorum: Vec<String>, t0: Instant) -> InFlight {
        let r = reveal(performance);
        let claim = OptimaeClaim::sealed(&Identity::generate(), &r, 0);
        InFlight::new(r, claim, round, 0.0, quorum, t0, WAIT, OPEN)
    }

    fn vote(evaluator: &Identity) -> Completion {
        let v = QuorumVote {
            optimae_id: "o".into(),
            domain_id: "d".into(),
            evaluator_id: evaluator.peer_id().to_owned(),
            verified_performance: -1.0,
            synthetic_seed: 1,
            synthetic_data_hash: String::new(),
            timestamp: Timestamp::from_unix_secs(1_767_225_600),
            seal: None,
        }
        .sealed(evaluator);
        Completion {
            evaluator_id: evaluator.peer_id().to_owned(),
            verified_performance: -1.0,
            vote: Some(v.to_value()),
        }
    }

    const WAIT: Duration = Duration::from_secs(10);
    const OPEN: Duration = Duration::from_secs(3);

    #[test]
    fn done_when_the_quorum_voted_and_the_open_wait_is_over() {
        let e = Identity::generate();
        let t0 = Instant::now();
        let mut p = in_flight(-1.0, 1, vec![e.peer_id().into()], t0);
        let (quorum_tx, quorum_rx) = oneshot::channel();
        let (_open_tx, open_rx) = oneshot::channel();
        p.await_task("q".into(), true, quorum_rx);
        p.await_task("open".into(), false, open_rx);
        assert!(!p.poll(t0), "no vote yet");
        quorum_tx.send(vote(&e)).ok();
        assert!(
            !p.poll(t0 + Duration::from_secs(1)),
            "the open vote may still come"
        );
        assert!(p.quorum_voted());
        assert!(p.poll(t0 + OPEN), "the open wait is over");
        assert_eq!(p.awaited_tasks().collect::<Vec<_>>(), ["open"]);
        assert_eq!(p.task_ids, ["q", "open"]);
    }

    #[test]
    fn done_at_once_when_every_vote_is_in_or_a_quorum_task_is_lost() {
        let e = Identity::generate();
        let t0 = Instant::now();
        let mut p = in_flight(-1.0, 1, vec![e.peer_id().into()], t0);
        let (tx, rx) = oneshot::channel();
        p.await_task("q".into(), true, rx);
        tx.send(vote(&e)).ok();
        assert!(p.poll(t0));
        assert!(p.quorum_voted());

        let mut lost = in_flight(-1.0, 1, vec![e.peer_id().into()], t0);
        let (tx, rx) = oneshot::channel::<Completion>();
        lost.await_task("q".into(), true, rx);
        drop(tx);
        assert!(lost.poll(t0), "the task was dropped without a vote");
        assert!(!lost.quorum_voted());
    }

    #[test]
    fn votes_keep_the_order_of_their_tasks_not_of_their_arrival() {
        let (first, second) = (Identity::generate(), Identity::generate());
        let t0 = Instant::now();
        let quorum = vec![first.peer_id().into(), second.peer_id().into()];
        let mut p = in_flight(-1.0, 1, quorum, t0);
        let (tx1, rx1) = oneshot::channel();
        let (tx2, rx2) = oneshot::channel();
        p.await_task("q1".into(), true, rx1);
        p.await_task("q2".into(), true, rx2);
        tx2.send(vote(&second)).ok();
        assert!(!p.poll(t0));
        tx1.send(vote(&first)).ok();
        assert!(p.poll(t0));
        let order: Vec<String> = p.take_votes().into_iter().map(|v| v.evaluator_id).collect();
        assert_eq!(order, [first.peer_id(), second.peer_id()]);
    }

    #[test]
    fn done_at_the_deadline_without_the_quorum() {
        let t0 = Instant::now();
        let mut p = in_flight(-1.0, 1, vec!["absent".into()], t0);
        let (_tx, rx) = oneshot::channel();
        p.await_task("q".into(), true, rx);
        assert!(!p.poll(t0 + OPEN));
        assert!(p.poll(t0 + WAIT));
        assert!(!p.quorum_voted());
    }

    #[test]
    fn the_set_is_bounded_reports_its_best_and_yields_done_ones_in_order() {
        let t0 = Instant::now();
        let mut set = InFlightSet::default();
        // Open tasks only whose votes never come, so each is done once the open wait is over.
        let mut senders = Vec::new();
        for i in 0..MAX_IN_FLIGHT {
            assert!(set.can_reveal());
            // The second is the best: the best is not simply the newest.
            let perf = if i == 1 { -0.5 } else { -1.0 - i as f64 };
            let mut p = in_flight(perf, i as u64, Vec::new(), t0);
            let (tx, rx) = oneshot::channel();
            senders.push(tx);
            p.await_task(format!("t{i}"), false, rx);
            set.push(p);
        }
        assert!(!set.can_reveal(), "{MAX_IN_FLIGHT} in flight");
        // Commitments waiting for a block have a bound of their own.
        assert!(set.has_room());
        assert_eq!(set.best(|a, b| a > b), Some(-0.5));
        assert_eq!(set.best(|a, b| a < b), Some(-(MAX_IN_FLIGHT as f64)));
        assert!(set.take_done(t0).is_empty());
        let done = set.take_done(t0 + OPEN);
        let rounds: Vec<u64> = done.iter().map(|p| p.round).collect();
        assert_eq!(rounds, (0..MAX_IN_FLIGHT as u64).collect::<Vec<_>>());
        assert!(set.is_empty() && set.can_reveal());
        drop(senders);
    }
}
