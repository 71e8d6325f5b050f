//! A revealed proposal collecting votes: one slot per quorum member (its vote is needed),
//! then open slots (a young chain's optional extra votes), and the rule for when it is
//! done.

use std::sync::Arc;

use doin_consensus::accepted::Reveal;
use doin_consensus::vote::QuorumVote;

use super::{Committed, ProposalKey};
use crate::chain_service::QuorumPlan;

/// One vote slot, until its task ends.
#[derive(Debug)]
struct Slot {
    /// The quorum member whose vote fills it; `None` for an open slot.
    member: Option<String>,
    vote: Option<QuorumVote>,
    ended: bool,
}

/// A revealed optimae collecting its quorum's votes.
#[derive(Debug)]
pub(super) struct Revealed<M> {
    pub(super) key: ProposalKey,
    pub(super) reveal: Arc<Reveal>,
    /// The optimae id the votes name.
    pub(super) optimae_id: String,
    pub(super) commitment_hash: String,
    /// The hash of the block that carried the commitment when it was revealed (its quorum
    /// and seeds derive from it; a reorganisation that replaces it voids the votes).
    pub(super) commit_block: String,
    quorum: Vec<String>,
    /// Quorum members first, then open ones: the order the optimae carries the votes in,
    /// whatever order they arrived in.
    slots: Vec<Slot>,
    meta: M,
    /// Until when the quorum's votes are waited for (µs).
    deadline: i64,
    /// Until when open votes are waited for once the quorum's are in (µs).
    open_deadline: i64,
    /// A quorum member's task ended without a vote.
    lost: bool,
}

/// A proposal whose votes are in, or whose wait is over: handed to the chain when its
/// whole quorum voted ([`Concluded::quorum_voted`]), dropped otherwise.
#[derive(Debug)]
pub struct Concluded<M> {
    /// The proposal.
    pub key: ProposalKey,
    /// What was revealed.
    pub reveal: Arc<Reveal>,
    /// The quorum members.
    pub quorum: Vec<String>,
    /// The votes received, in slot order (quorum members first).
    pub votes: Vec<QuorumVote>,
    /// What the caller kept with the proposal.
    pub meta: M,
}

impl<M> Concluded<M> {
    /// Whether every quorum member voted: only then does the proposal go to the chain.
    pub fn quorum_voted(&self) -> bool {
        self.quorum
            .iter()
            .all(|q| self.votes.iter().any(|v| v.evaluator_id == *q))
    }
}

impl<M> Revealed<M> {
    /// A proposal revealed under `plan`, its quorum waited for until `deadlines.0`, open
    /// votes until `deadlines.1` (µs).
    pub(super) fn new(
        key: ProposalKey,
        reveal: Arc<Reveal>,
        optimizer_id: &str,
        commitment_hash: String,
        plan: QuorumPlan,
        meta: M,
        deadlines: (i64, i64),
    ) -> Self {
        let slots = plan
            .quorum
            .iter()
            .map(|m| Some(m.clone()))
            .chain(std::iter::repeat_n(None, plan.extra_votes))
            .map(|member| Slot {
                member,
                vote: None,
                ended: false,
            })
            .collect();
        Revealed {
            key,
            optimae_id: reveal.optimae_id(optimizer_id),
            reveal,
            commitment_hash,
            commit_block: plan.seed_block_hash,
            quorum: plan.quorum,
            slots,
            meta,
            deadline: deadlines.0,
            open_deadline: deadlines.0.min(deadlines.1),
            lost: false,
        }
    }

    /// Slot `slot`'s task ended, with a vote or without.
    pub(super) fn task_ended(&mut self, slot: usize, vote: Option<QuorumVote>) {
        let Some(s) = self.slots.get_mut(slot).filter(|s| !s.ended) else {
            return;
        };
        s.ended = true;
        self.lost |= vote.is_none() && s.member.is_some();
        s.vote = vote;
    }

    /// The slot a vote of `evaluator` fills: its own quorum slot while open; else, for an
    /// evaluator outside the quorum that has not voted yet, the first open slot free.
    fn slot_for(&self, evaluator: &str) -> Option<usize> {
        let own = self
            .slots
            .iter()
            .position(|s| s.member.as_deref() == Some(evaluator));
        match own {
            Some(i) => Some(i).filter(|&i| !self.slots[i].ended),
            None if self
                .slots
                .iter()
                .any(|s| s.vote.as_ref().is_some_and(|v| v.evaluator_id == evaluator)) =>
            {
                None
            }
            None => self
                .slots
                .iter()
                .position(|s| s.member.is_none() && !s.ended),
        }
    }

    /// A vote placed by its evaluator in [`Self::slot_for`]'s slot; whether it was.
    pub(super) fn vote(&mut self, vote: QuorumVote) -> bool {
        match self.slot_for(&vote.evaluator_id) {
            Some(i) => {
                self.task_ended(i, Some(vote));
                true
            }
            None => false,
        }
    }

    /// Whether a vote of `evaluator` would fill a slot ([`Self::slot_for`]).
    pub(super) fn wants(&self, evaluator: &str) -> bool {
        self.slot_for(evaluator).is_some()
    }

    /// The quorum members whose slot has not ended.
    pub(super) fn unanswered(&self) -> Vec<&str> {
        self.slots
            .iter()
            .filter(|s| !s.ended)
            .filter_map(|s| s.member.as_deref())
            .collect()
    }

    /// Whether it is done at `now` (µs): every slot answered, or a quorum member's task
    /// lost, or the quorum wait over, or the quorum's votes in and the open wait over.
    pub(super) fn done(&self, now: i64) -> bool {
        let quorum_in = self.slots.iter().all(|s| s.ended || s.member.is_none());
        self.slots.iter().all(|s| s.ended)
            || self.lost
            || now >= self.deadline
            || (quorum_in && now >= self.open_deadline)
    }

    /// The proposal with its votes, in slot order.
    pub(super) fn conclude(self) -> Concluded<M> {
        Concluded {
            key: self.key,
            reveal: self.reveal,
            quorum: self.quorum,
            votes: self.slots.into_iter().filter_map(|s| s.vote).collect(),
            meta: self.meta,
        }
    }

    /// Back to waiting for its commitment at `now` (µs), its votes void.
    pub(super) fn into_committed(self, now: i64) -> Committed<M> {
        let reveal = Arc::unwrap_or_clone(self.reveal);
        Committed {
            parameters: reveal.parameters,
            performance: reveal.reported_performance,
            nonce: reveal.nonce,
            commitment_hash: self.commitment_hash,
            meta: self.meta,
            key: self.key,
            since: now,
        }
    }
}
