//! The optimizer's proposal cycle without I/O: commit to an improvement, wait for the
//! commitment to land in a block, reveal it to the quorum that block draws, collect the
//! quorum's votes, hand the voted proposal to the chain. The node's optimizer loop
//! (`crate::optimizer_loop`) drives it over its chain service, task queue and gossip;
//! the simulator (`doin-sim`) over its simulated chain and messages, in virtual time.
//!
//! [`ProposalCycle`] holds one domain's proposals and makes the protocol's decisions:
//!
//! * **when to commit**: an improvement on the chain's best, this node's accepted best and
//!   every proposal it has in flight ([`ProposalCycle::worth_committing`]), while fewer than
//!   [`MAX_COMMITTED`] commitments wait for a block;
//! * **when a commitment has landed**: the chain carries the optimizer's *bound* commitment
//!   (`doin_consensus::commitment::bound_commitment`) in a block of the same domain; the
//!   block seeds the quorum and the evaluators' data;
//! * **when to reveal**: at once once landed, if it still improves on the chain's best and
//!   the accepted best (else it is dropped as overtaken) and fewer than [`MAX_IN_FLIGHT`]
//!   proposals collect votes (else it waits, so the evaluators' load stays bounded);
//! * **which quorum**: the one the chain plans for the commit block ([`CycleChain`]), plus
//!   open slots any evaluator may fill on a young chain;
//! * **when a proposal is done** (`votes`): every slot answered, or a quorum member's
//!   task lost, or the quorum wait over, or the quorum in and the open wait over; it goes
//!   to the chain only when the whole quorum voted;
//! * **when it is given up**: a commitment that did not land within
//!   [`commit_wait_micros`], or landed for another domain;
//! * **a reorganisation** that replaces the commit block of a revealed proposal voids its
//!   votes (they were seeded from that block): it goes back to waiting for its commitment,
//!   which the winning branch may carry at another height, and the commitment is offered
//!   to the pool again ([`Step::Recommit`]).
//!
//! Time comes in as a [`Timestamp`] from the caller's clock, the chain through
//! [`CycleChain`], votes as values; what to do comes out as [`Step`]s and
//! [`Concluded`] proposals.

mod votes;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use doin_consensus::accepted::Reveal;
use doin_consensus::commitment::bound_commitment;
use doin_consensus::reference::compute_commitment;
use doin_consensus::vote::QuorumVote;
use doin_primitives::value::Map;
use doin_primitives::Timestamp;

pub use votes::Concluded;
use votes::Revealed;

use crate::chain_service::{CommittedAt, QuorumPlan};

/// Most proposals of one domain collecting votes at once.
pub const MAX_IN_FLIGHT: usize = 4;
/// Most commitments of one domain waiting for a block at once (they cost evaluators
/// nothing; the chain service's pool takes as many per optimizer).
pub const MAX_COMMITTED: usize = crate::commitment_pool::MAX_PENDING_PER_OPTIMIZER;
/// Longest an optimizer waits for its quorum's votes (see [`quorum_wait`]).
pub const MAX_QUORUM_WAIT: Duration = Duration::from_secs(20);
/// Longest an optimizer waits for its commitment to land in a block, whatever the target
/// block time (three of the reference's 600 s blocks fit; a cap of two minutes gave up every
/// commitment on such a chain before the commitment block that would carry it).
pub const MAX_COMMIT_WAIT: Duration = Duration::from_secs(2 * 3600);
/// How long an optimizer on a young chain waits for the optional (open) votes of other
/// nodes once its quorum voted.
pub const OPEN_WAIT: Duration = Duration::from_secs(3);

/// The quorum wait for an `eval_poll_interval` (seconds): twice the evaluators' poll
/// interval, at least 2 s and at most [`MAX_QUORUM_WAIT`].
pub fn quorum_wait(eval_poll_interval: f64) -> Duration {
    let secs = if eval_poll_interval.is_finite() {
        eval_poll_interval * 2.0
    } else {
        MAX_QUORUM_WAIT.as_secs_f64()
    };
    Duration::from_secs_f64(secs.clamp(2.0, MAX_QUORUM_WAIT.as_secs_f64()))
}

/// How long a commitment may take to land before it is given up, in µs: three target
/// block times (commitment blocks come one target block time after the tip), at least
/// 5 s and at most [`MAX_COMMIT_WAIT`].
pub fn commit_wait_micros(target_block_time_secs: f64) -> i64 {
    let max = MAX_COMMIT_WAIT.as_secs_f64();
    let secs = if target_block_time_secs.is_finite() {
        (target_block_time_secs * 3.0).clamp(5.0, max)
    } else {
        max
    };
    micros(Duration::from_secs_f64(secs))
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// What the cycle asks of the chain, as the caller's chain answers it now.
pub trait CycleChain {
    /// Where the optimizer's bound commitment `bound` is on chain among the recent blocks.
    fn committed_at(&mut self, bound: &str) -> Option<CommittedAt>;
    /// The quorum that the block at `commit_height` draws for the optimizer's optimae (with
    /// the open slots the caller can offer: none when nobody could take them).
    fn plan_quorum(&mut self, commit_height: u64) -> Result<QuorumPlan, String>;
}

/// A proposal's handle in its cycle, kept across a reorganisation's return to waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProposalKey(u64);

/// An improvement committed to and not revealed yet: waiting for its commitment to land.
#[derive(Debug, Clone)]
pub struct Committed<M> {
    /// The parameters.
    pub parameters: Map,
    /// The performance the optimizer measured.
    pub performance: f64,
    /// The commitment nonce.
    pub nonce: String,
    /// `compute_commitment(parameters, nonce)`.
    pub commitment_hash: String,
    /// What the caller keeps with the proposal (the node: its round and elapsed time).
    pub meta: M,
    key: ProposalKey,
    /// When it was committed (or went back to waiting), µs by the caller's clock.
    since: i64,
}

impl<M> Committed<M> {
    /// An improvement to commit to under `nonce`.
    pub fn new(parameters: Map, performance: f64, nonce: String, meta: M) -> Self {
        let commitment_hash = compute_commitment(&parameters, &nonce);
        Committed {
            parameters,
            performance,
            nonce,
            commitment_hash,
            meta,
            key: ProposalKey(0),
            since: 0,
        }
    }
}

/// A reveal to make: the revealed optimae and the evaluators asked for votes.
#[derive(Debug, Clone)]
pub struct RevealTo {
    /// The proposal.
    pub key: ProposalKey,
    /// What is revealed.
    pub reveal: Arc<Reveal>,
    /// `compute_commitment(parameters, nonce)`.
    pub commitment_hash: String,
    /// The hash of the block that carries the commitment (quorum and seeds derive from it).
    pub seed_block_hash: String,
    /// The quorum members, one vote slot each, in slot order.
    pub quorum: Vec<String>,
    /// Open slots after the quorum's, which any other evaluator may fill.
    pub open: usize,
    /// How long the commitment took to land, µs.
    pub waited_micros: i64,
}

/// Why a committed proposal is given up before its reveal.
#[derive(Debug, Clone, PartialEq)]
pub enum Dropped {
    /// Something at least as good reached the chain or was accepted meanwhile.
    Overtaken,
    /// The commitment is on chain under another domain.
    OtherDomain(String),
    /// The commitment did not land within [`commit_wait_micros`] (µs waited).
    NotLanded(i64),
    /// The chain could not plan a quorum.
    NoQuorum(String),
}

/// What the caller does next.
#[derive(Debug, Clone)]
pub enum Step {
    /// Reveal: ask each quorum member (and any evaluator, for the open slots) for a vote,
    /// then deliver the answers ([`ProposalCycle::task_ended`], [`ProposalCycle::vote`]).
    Reveal(RevealTo),
    /// The commit block of a revealed proposal was replaced: stop asking for its votes and
    /// offer its commitment (`commitment_hash`) to the pool again; it waits to land again.
    Recommit {
        /// The proposal.
        key: ProposalKey,
        /// Its commitment.
        commitment_hash: String,
    },
    /// A committed proposal given up before its reveal.
    Drop {
        /// The proposal.
        key: ProposalKey,
        /// Why.
        why: Dropped,
    },
}

/// One domain's proposals, oldest first: at most [`MAX_COMMITTED`] committed and
/// [`MAX_IN_FLIGHT`] revealed.
#[derive(Debug)]
pub struct ProposalCycle<M> {
    domain_id: String,
    optimizer_id: String,
    higher_is_better: bool,
    quorum_wait: i64,
    open_wait: i64,
    committed: VecDeque<Committed<M>>,
    revealed: VecDeque<Revealed<M>>,
    /// This node's best accepted optimae not yet in a block.
    accepted: Option<f64>,
    next_key: u64,
}

impl<M> ProposalCycle<M> {
    /// The cycle of `optimizer_id`'s proposals in `domain_id`, waiting `quorum_wait` for a
    /// quorum's votes.
    pub fn new(
        domain_id: &str,
        optimizer_id: &str,
        higher_is_better: bool,
        quorum_wait: Duration,
    ) -> Self {
        ProposalCycle {
            domain_id: domain_id.to_owned(),
            optimizer_id: optimizer_id.to_owned(),
            higher_is_better,
            quorum_wait: micros(quorum_wait),
            open_wait: micros(OPEN_WAIT.min(quorum_wait)),
            committed: VecDeque::new(),
            revealed: VecDeque::new(),
            accepted: None,
            next_key: 0,
        }
    }

    /// Whether performance `a` is better than `b` in this domain.
    pub fn better(&self, a: f64, b: f64) -> bool {
        if self.higher_is_better {
            a > b
        } else {
            a < b
        }
    }

    /// The better of some performances, if any.
    fn best_of(&self, performances: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
        performances
            .into_iter()
            .flatten()
            .reduce(|x, y| if self.better(y, x) { y } else { x })
    }

    /// Whether another proposal may be committed.
    pub fn has_room(&self) -> bool {
        self.committed.len() < MAX_COMMITTED
    }

    /// Whether another proposal may be revealed.
    pub fn can_reveal(&self) -> bool {
        self.revealed.len() < MAX_IN_FLIGHT
    }

    /// Whether a committed proposal waits for its commitment to land.
    pub fn has_committed(&self) -> bool {
        !self.committed.is_empty()
    }

    /// How many are waiting, committed or revealed.
    pub fn len(&self) -> usize {
        self.committed.len() + self.revealed.len()
    }

    /// Whether none is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The best performance committed or revealed.
    pub fn best_in_flight(&self) -> Option<f64> {
        let revealed = self.revealed.iter().map(|p| p.reveal.reported_performance);
        let committed = self.committed.iter().map(|c| c.performance);
        self.best_of(revealed.chain(committed).map(Some))
    }

    /// This node's best accepted optimae not yet in a block.
    pub fn accepted(&self) -> Option<f64> {
        self.accepted
    }

    /// The chain took one of this node's proposals with `performance` (pending a block).
    pub fn accept(&mut self, performance: f64) {
        if self.accepted.is_none_or(|a| self.better(performance, a)) {
            self.accepted = Some(performance);
        }
    }

    /// The chain holds `pending_optimae` optimae waiting for a block: with none, this
    /// node's accepted ones were minted or dropped by a new tip, and the chain's best is
    /// the floor again.
    pub fn pending_optimae(&mut self, pending_optimae: usize) {
        if pending_optimae == 0 {
            self.accepted = None;
        }
    }

    /// What a new proposal must improve on: the best of the chain's best, this node's
    /// accepted best and every proposal in flight.
    pub fn floor(&self, chain_best: Option<f64>) -> Option<f64> {
        self.best_of([chain_best, self.accepted, self.best_in_flight()])
    }

    /// Whether an improvement with `performance` is worth committing to: there is room,
    /// and it betters [`Self::floor`].
    pub fn worth_committing(&self, performance: f64, chain_best: Option<f64>) -> bool {
        self.has_room()
            && self
                .floor(chain_best)
                .is_none_or(|f| self.better(performance, f))
    }

    /// Adds a proposal whose commitment the caller handed to the chain at `now`; its key.
    pub fn commit(&mut self, mut c: Committed<M>, now: Timestamp) -> ProposalKey {
        self.next_key += 1;
        c.key = ProposalKey(self.next_key);
        c.since = now.unix_micros();
        let key = c.key;
        self.committed.push_back(c);
        key
    }

    /// Looks at the chain at `now`: revealed proposals whose commit block was replaced go
    /// back to waiting ([`Step::Recommit`]); committed ones that landed are revealed
    /// ([`Step::Reveal`]) if they still improve on `chain_best` and the accepted best and
    /// there is room, or dropped ([`Step::Drop`]); those that did not land in
    /// [`commit_wait_micros`] of `target_block_time_secs` are dropped too.
    pub fn advance(
        &mut self,
        chain: &mut impl CycleChain,
        now: Timestamp,
        chain_best: Option<f64>,
        target_block_time_secs: f64,
    ) -> Vec<Step> {
        let now_micros = now.unix_micros();
        let mut steps = Vec::new();
        let (stale, kept): (VecDeque<_>, VecDeque<_>) = std::mem::take(&mut self.revealed)
            .into_iter()
            .partition(|p| {
                let bound = bound_commitment(&self.optimizer_id, &p.commitment_hash);
                chain
                    .committed_at(&bound)
                    .is_none_or(|at| at.block_hash != p.commit_block)
            });
        self.revealed = kept;
        for p in stale {
            steps.push(Step::Recommit {
                key: p.key,
                commitment_hash: p.commitment_hash.clone(),
            });
            self.committed.push_back(p.into_committed(now_micros));
        }
        let wait = commit_wait_micros(target_block_time_secs);
        let floor = self.best_of([chain_best, self.accepted]);
        for c in std::mem::take(&mut self.committed) {
            let bound = bound_commitment(&self.optimizer_id, &c.commitment_hash);
            let waited = now_micros.saturating_sub(c.since);
            let landed = chain.committed_at(&bound);
            let why = match landed {
                // Its evaluators are busy with this node's earlier reveals: wait.
                Some(_) if !self.can_reveal() => None,
                Some(at) if at.domain_id == self.domain_id => {
                    if floor.is_some_and(|f| !self.better(c.performance, f)) {
                        Some(Dropped::Overtaken)
                    } else {
                        let key = c.key;
                        match self.reveal(c, at.height, chain, now, waited) {
                            Ok(to) => steps.push(Step::Reveal(to)),
                            Err(e) => steps.push(Step::Drop {
                                key,
                                why: Dropped::NoQuorum(e),
                            }),
                        }
                        continue;
                    }
                }
                Some(at) => Some(Dropped::OtherDomain(at.domain_id)),
                None if waited > wait => Some(Dropped::NotLanded(waited)),
                None => None,
            };
            match why {
                Some(why) => steps.push(Step::Drop { key: c.key, why }),
                None => self.committed.push_back(c),
            }
        }
        steps
    }

    /// Reveals `c`, whose commitment the block at `height` carries, to the quorum that
    /// block draws.
    fn reveal(
        &mut self,
        c: Committed<M>,
        height: u64,
        chain: &mut impl CycleChain,
        now: Timestamp,
        waited_micros: i64,
    ) -> Result<RevealTo, String> {
        let plan = chain.plan_quorum(height)?;
        let reveal = Arc::new(Reveal {
            domain_id: self.domain_id.clone(),
            parameters: c.parameters,
            nonce: c.nonce,
            reported_performance: c.performance,
            commit_height: plan.commit_height,
            timestamp: now,
        });
        let to = RevealTo {
            key: c.key,
            reveal: reveal.clone(),
            commitment_hash: c.commitment_hash.clone(),
            seed_block_hash: plan.seed_block_hash.clone(),
            quorum: plan.quorum.clone(),
            open: plan.extra_votes,
            waited_micros,
        };
        let deadlines = (
            now.unix_micros().saturating_add(self.quorum_wait),
            now.unix_micros().saturating_add(self.open_wait),
        );
        self.revealed.push_back(Revealed::new(
            c.key,
            reveal,
            &self.optimizer_id,
            c.commitment_hash,
            plan,
            c.meta,
            deadlines,
        ));
        Ok(to)
    }

    /// Gives up a revealed proposal whose requests could not go out.
    pub fn abandon(&mut self, key: ProposalKey) {
        self.revealed.retain(|p| p.key != key);
    }

    /// The task of slot `slot` of proposal `key` ended, with the evaluator's vote or
    /// without one (failed, dropped, or a vote that does not read).
    pub fn task_ended(&mut self, key: ProposalKey, slot: usize, vote: Option<QuorumVote>) {
        if let Some(p) = self.revealed.iter_mut().find(|p| p.key == key) {
            p.task_ended(slot, vote);
        }
    }

    /// A vote (checked by the caller against the optimae's subject) for one of the
    /// revealed proposals, filling its evaluator's quorum slot, or the first open slot
    /// for an evaluator outside the quorum; whether it was taken.
    pub fn vote(&mut self, vote: QuorumVote) -> bool {
        match self
            .revealed
            .iter_mut()
            .find(|p| p.optimae_id == vote.optimae_id)
        {
            Some(p) => p.vote(vote),
            None => false,
        }
    }

    /// A vote from anywhere (gossip, a pool) for one of the revealed proposals: taken as
    /// [`Self::vote`] takes it when it fills a slot and holds for that proposal — its
    /// evaluator sealed it, for this optimae, with the evaluator's synthetic seed of the
    /// commitment and the block the proposal was revealed from; whether it was taken.
    pub fn offer_vote(&mut self, vote: &QuorumVote) -> bool {
        let Some(p) = self
            .revealed
            .iter_mut()
            .find(|p| p.optimae_id == vote.optimae_id)
        else {
            return false;
        };
        // The seal is checked only for a vote that would count.
        if !p.wants(&vote.evaluator_id) {
            return false;
        }
        let subject = doin_consensus::vote::VoteSubject {
            optimae_id: &p.optimae_id,
            domain_id: &p.reveal.domain_id,
            commitment_hash: &p.commitment_hash,
            seed_block_hash: &p.commit_block,
        };
        if let Err(e) = vote.check_for(&vote.evaluator_id, &subject) {
            tracing::debug!(evaluator = %vote.evaluator_id, "vote refused: {e}");
            return false;
        }
        p.vote(vote.clone())
    }

    /// The revealed optimae whose id is `optimae_id` (to check a vote against it).
    pub fn reveal_of(&self, optimae_id: &str) -> Option<&Arc<Reveal>> {
        self.revealed
            .iter()
            .find(|p| p.optimae_id == optimae_id)
            .map(|p| &p.reveal)
    }

    /// The revealed proposals and the quorum members that have not answered yet (to ask
    /// them again where requests may be lost).
    pub fn unanswered(&self) -> impl Iterator<Item = (&Arc<Reveal>, Vec<&str>)> {
        self.revealed.iter().map(|p| (&p.reveal, p.unanswered()))
    }

    /// Removes and returns the revealed proposals that are done at `now`, oldest first.
    pub fn take_done(&mut self, now: Timestamp) -> Vec<Concluded<M>> {
        let now = now.unix_micros();
        let (done, waiting): (VecDeque<_>, VecDeque<_>) = std::mem::take(&mut self.revealed)
            .into_iter()
            .partition(|p| p.done(now));
        self.revealed = waiting;
        done.into_iter().map(Revealed::conclude).collect()
    }

    /// Removes every proposal (at shutdown or when the domain's target is reached); the
    /// keys of the revealed ones, whose requests the caller withdraws.
    pub fn drain(&mut self) -> Vec<ProposalKey> {
        self.committed.clear();
        self.revealed.drain(..).map(|p| p.key).collect()
    }
}
