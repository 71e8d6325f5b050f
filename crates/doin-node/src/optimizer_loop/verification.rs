//! The task-queue side of the revealed proposals: each proposal's verification tasks, the
//! completions the queue sends for them (one `oneshot` per task), delivered to the
//! [`ProposalCycle`] as votes, and the sealed claim the votes are offered to the rejection
//! pool with.

use std::collections::BTreeMap;

use doin_consensus::rejection::OptimaeClaim;
use doin_consensus::vote::QuorumVote;
use tokio::sync::oneshot;

use crate::proposal_cycle::{ProposalCycle, ProposalKey};
use crate::task_queue::{Completion, TaskQueue};

/// One proposal's tasks in the queue.
pub(super) struct Queued {
    /// The sealed claim (report and stake) its votes are offered to the rejection pool with.
    pub(super) claim: OptimaeClaim,
    /// Every task id, in slot order (to cancel them all when done).
    task_ids: Vec<String>,
    /// The completions not received yet, by slot.
    awaited: Vec<(usize, oneshot::Receiver<Completion>)>,
}

/// The verification tasks of the revealed proposals, by proposal.
#[derive(Default)]
pub(super) struct VerificationTasks {
    by_proposal: BTreeMap<ProposalKey, Queued>,
}

impl VerificationTasks {
    /// Starts the tasks of a proposal revealed with `claim`.
    pub(super) fn start(&mut self, key: ProposalKey, claim: OptimaeClaim) {
        self.by_proposal.insert(
            key,
            Queued {
                claim,
                task_ids: Vec::new(),
                awaited: Vec::new(),
            },
        );
    }

    /// Adds a queued task of slot `slot` and its completion receiver.
    pub(super) fn await_task(
        &mut self,
        key: ProposalKey,
        slot: usize,
        task_id: String,
        rx: oneshot::Receiver<Completion>,
    ) {
        if let Some(q) = self.by_proposal.get_mut(&key) {
            q.task_ids.push(task_id);
            q.awaited.push((slot, rx));
        }
    }

    /// Delivers the completions that arrived to `cycle`, without waiting. The queue
    /// completes a task only with its claimer's sealed vote for the optimae and with that
    /// evaluator's seed; a task dropped, or completed without a vote that reads, ended
    /// without one.
    pub(super) fn collect<M>(&mut self, cycle: &mut ProposalCycle<M>) {
        for (key, q) in &mut self.by_proposal {
            q.awaited.retain_mut(|(slot, rx)| {
                let vote = match rx.try_recv() {
                    Ok(c) => c.vote.as_ref().and_then(|v| QuorumVote::from_value(v).ok()),
                    Err(oneshot::error::TryRecvError::Empty) => return true,
                    Err(oneshot::error::TryRecvError::Closed) => None,
                };
                cycle.task_ended(*key, *slot, vote);
                false
            });
        }
    }

    /// Delivers to `cycle` the votes on the proposals' claims that came by gossip
    /// (pooled in `pool` with their claim, [`crate::evidence_gossip`]): an evaluator its
    /// quorum names answers the task's announcement that way, whether or not it reaches
    /// this node's queue. The cycle checks each vote against its proposal.
    pub(super) fn collect_gossiped<M>(
        &self,
        pool: &crate::evidence::RejectionPool,
        cycle: &mut ProposalCycle<M>,
    ) {
        for q in self.by_proposal.values() {
            for vote in pool.votes_on(&q.claim.commitment_hash) {
                cycle.offer_vote(&vote);
            }
        }
    }

    /// Removes a proposal's tasks, dropping them from `queue`; its claim.
    pub(super) fn cancel(&mut self, key: ProposalKey, queue: &TaskQueue) -> Option<OptimaeClaim> {
        let q = self.by_proposal.remove(&key)?;
        for task_id in &q.task_ids {
            queue.cancel(task_id);
        }
        Some(q.claim)
    }

    /// The task ids of a proposal (for tests and logs).
    #[cfg(test)]
    fn task_ids(&self, key: ProposalKey) -> &[String] {
        self.by_proposal.get(&key).map_or(&[], |q| &q.task_ids)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use doin_consensus::accepted::Reveal;
    use doin_primitives::identity::Identity;
    use doin_primitives::value::Map;
    use doin_primitives::Timestamp;

    use super::*;
    use crate::chain_service::{CommittedAt, QuorumPlan};
    use crate::proposal_cycle::{Committed, CycleChain, RevealTo, Step};

    /// A chain that carries every commitment in block `b1` and draws `quorum`, with one
    /// open slot.
    struct Chain {
        quorum: Vec<String>,
    }

    impl CycleChain for Chain {
        fn committed_at(&mut self, _bound: &str) -> Option<CommittedAt> {
            Some(CommittedAt {
                height: 1,
                block_hash: "b1".into(),
                optimizer_id: String::new(),
                domain_id: "d".into(),
            })
        }

        fn plan_quorum(&mut self, commit_height: u64) -> Result<QuorumPlan, String> {
            Ok(QuorumPlan {
                commit_height,
                seed_block_hash: "b1".into(),
                quorum: self.quorum.clone(),
                young: true,
                extra_votes: 1,
            })
        }
    }

    fn t0() -> Timestamp {
        Timestamp::from_unix_secs(1_767_225_600)
    }

    fn completion(evaluator: &Identity, reveal: &Reveal, optimizer: &Identity) -> Completion {
        let v = QuorumVote {
            optimae_id: reveal.optimae_id(optimizer.peer_id()),
            domain_id: "d".into(),
            evaluator_id: evaluator.peer_id().to_string(),
            verified_performance: -1.0,
            synthetic_seed: 1,
            synthetic_data_hash: String::new(),
            timestamp: t0(),
            seal: None,
        }
        .sealed(evaluator);
        Completion {
            evaluator_id: evaluator.peer_id().to_string(),
            verified_performance: -1.0,
            vote: Some(v.to_value()),
        }
    }

    /// A proposal revealed to `quorum` (plus one open slot) by `optimizer`.
    fn revealed(optimizer: &Identity, quorum: Vec<String>) -> (ProposalCycle<()>, RevealTo) {
        let mut cycle = ProposalCycle::new("d", optimizer.peer_id(), true, Duration::from_secs(10));
        cycle.commit(Committed::new(Map::new(), -1.0, "00".into(), ()), t0());
        let steps = cycle.advance(&mut Chain { quorum }, t0(), None, 10.0);
        let Some(Step::Reveal(to)) = steps.into_iter().next() else {
            panic!("revealed")
        };
        (cycle, to)
    }

    #[test]
    fn completions_reach_the_cycle_as_votes_in_slot_order() {
        let (optimizer, first, second) = (
            Identity::generate(),
            Identity::generate(),
            Identity::generate(),
        );
        let quorum = vec![first.peer_id().to_string(), second.peer_id().to_string()];
        let (mut cycle, to) = revealed(&optimizer, quorum);
        let claim = OptimaeClaim::sealed(&optimizer, &to.reveal, 0);
        let mut tasks = VerificationTasks::default();
        tasks.start(to.key, claim);
        let (tx1, rx1) = oneshot::channel();
        let (tx2, rx2) = oneshot::channel();
        let (_open_tx, open_rx) = oneshot::channel::<Completion>();
        tasks.await_task(to.key, 0, "q1".into(), rx1);
        tasks.await_task(to.key, 1, "q2".into(), rx2);
        tasks.await_task(to.key, 2, "open".into(), open_rx);
        tx2.send(completion(&second, &to.reveal, &optimizer)).ok();
        tasks.collect(&mut cycle);
        assert!(
            cycle.take_done(t0()).is_empty(),
            "the first member has not voted"
        );
        tx1.send(completion(&first, &to.reveal, &optimizer)).ok();
        tasks.collect(&mut cycle);
        assert!(
            cycle.take_done(t0()).is_empty(),
            "the open vote may still come"
        );
        let done = cycle.take_done(Timestamp::from_unix_secs(1_767_225_603));
        let order: Vec<&str> = done[0]
            .votes
            .iter()
            .map(|v| v.evaluator_id.as_str())
            .collect();
        assert_eq!(order, [first.peer_id(), second.peer_id()]);
        assert!(done[0].quorum_voted());
        assert_eq!(tasks.task_ids(to.key), ["q1", "q2", "open"]);
        let queue = TaskQueue::new();
        assert!(tasks.cancel(to.key, &queue).is_some());
        assert!(tasks.task_ids(to.key).is_empty());
    }

    #[test]
    fn a_quorum_task_dropped_without_a_vote_ends_the_proposal() {
        let (optimizer, member) = (Identity::generate(), Identity::generate());
        let (mut cycle, to) = revealed(&optimizer, vec![member.peer_id().to_string()]);
        let mut tasks = VerificationTasks::default();
        tasks.start(to.key, OptimaeClaim::sealed(&optimizer, &to.reveal, 0));
        let (tx, rx) = oneshot::channel::<Completion>();
        tasks.await_task(to.key, 0, "q".into(), rx);
        drop(tx);
        tasks.collect(&mut cycle);
        let done = cycle.take_done(t0());
        assert_eq!(done.len(), 1, "the task was dropped without a vote");
        assert!(!done[0].quorum_voted());
    }
}
