//! Verification tasks taken from their announcements: a `task_created` message carries the
//! whole task (the reference's payload plus [`QueuedTask::extension_fields`]: the claim,
//! the commitment, the seed block and the quorum slot it is for), so
//! an evaluator its quorum names evaluates it from the gossip and gossips its vote back
//! ([`crate::evidence_gossip`]), where the requester collects it from its rejection pool.
//! Nobody has to be connected to the requester: on a large network an evaluator reaches
//! only some peers' task queues, and a quorum drawn from the whole chain named evaluators
//! the requester could not hear from.
//!
//! An open slot (a young chain's optional extra vote, no quorum member named) is taken by
//! any evaluator of the domain, after the tasks that name it: that vote is how a new
//! evaluator first appears on chain and becomes eligible for quorums, wherever it is in
//! the network. A reference node's announcement (no DOIN fields) still goes the pull way:
//! the evaluator asks its peers' queues.
//!
//! What an announcement may make this node do is what a peer's queue could: evaluate a
//! task whose quorum names it, under a valid claim of its requester
//! ([`crate::evidence::admit_claim`]), seeded from a block its own chain holds (the
//! evaluator's rule, `crate::evaluator`); the inbox is bounded, the oldest dropped first.
//! A task whose commit block has not reached this node yet waits a little
//! ([`AnnouncedTasks::defer`], at most [`MAX_DEFERRAL`] from its announcement).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use doin_primitives::models::payload::TaskCreated;
use doin_primitives::value::{Map, Value};

use crate::task_queue::QueuedTask;

/// Most announced tasks waiting for the evaluator (oldest dropped first).
pub const MAX_ANNOUNCED: usize = 64;
/// Longest a task waits, from its announcement, for its commit block to reach this node.
pub const MAX_DEFERRAL: Duration = Duration::from_secs(10);
/// How long a deferred task waits before it is tried again.
const RETRY: Duration = Duration::from_millis(250);

/// A task taken from the inbox, with when it was announced (what [`AnnouncedTasks::defer`]
/// measures its wait from).
#[derive(Debug, Clone)]
pub struct Announced {
    /// The task.
    pub task: QueuedTask,
    announced: Instant,
}

/// A task in the inbox, not to be tried before `not_before`.
struct Waiting {
    entry: Announced,
    not_before: Instant,
}

/// The `task_created` announcement of `task`: the reference's payload, and DOIN's
/// extension fields beside it ([`QueuedTask::extension_fields`]), which [`task_of`] reads
/// back.
pub fn announcement(task: &QueuedTask) -> TaskCreated {
    TaskCreated {
        task_id: task.id.clone(),
        task_type: task.kind.as_str().to_owned(),
        domain_id: task.domain_id.clone(),
        requester_id: task.requester_id.clone(),
        parameters: task.parameters.clone(),
        optimae_id: Some(task.optimae_id.clone()),
        reported_performance: task.reported_performance,
        metric_evidence: Map::new(),
        priority: i64::from(task.priority),
        extra: task.extension_fields(),
    }
}

/// The task a `task_created` payload announces, when it carries the DOIN fields; `None`
/// for a reference node's announcement or a malformed one.
pub fn task_of(payload: &Map) -> Option<QueuedTask> {
    let mut m = payload.clone();
    let id = m.get("task_id")?.clone();
    m.insert("id".into(), id);
    QueuedTask::from_value(&Value::Object(m))
}

/// The announced tasks waiting for this node's evaluator: those whose quorum names it, in
/// a domain it evaluates. Cheap to clone (shared).
#[derive(Clone)]
pub struct AnnouncedTasks {
    me: Arc<str>,
    domains: Arc<[String]>,
    inbox: Arc<Mutex<VecDeque<Waiting>>>,
    ready: Arc<tokio::sync::Notify>,
}

impl AnnouncedTasks {
    /// The inbox of evaluator `me` for `domains` (none: it takes nothing).
    pub fn new(me: &str, domains: impl IntoIterator<Item = String>) -> Self {
        AnnouncedTasks {
            me: me.into(),
            domains: domains.into_iter().collect(),
            inbox: Arc::default(),
            ready: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Waiting>> {
        self.inbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes an announced task ([`task_of`]) if it is for this evaluator (its quorum slot
    /// names it, or an open slot of another requester), in a domain it evaluates; whether
    /// it was taken.
    pub fn offer(&self, task: QueuedTask) -> bool {
        let for_me = if task.quorum.is_empty() {
            *task.requester_id != *self.me
        } else {
            task.quorum.iter().any(|q| **q == *self.me)
        };
        if !for_me || !self.domains.contains(&task.domain_id) {
            return false;
        }
        let mut inbox = self.lock();
        if inbox.iter().any(|w| {
            let t = &w.entry.task;
            t.optimae_id == task.optimae_id && t.requester_id == task.requester_id
        }) {
            return false;
        }
        if inbox.len() >= MAX_ANNOUNCED {
            inbox.pop_front();
        }
        let now = Instant::now();
        inbox.push_back(Waiting {
            entry: Announced {
                task,
                announced: now,
            },
            not_before: now,
        });
        drop(inbox);
        self.ready.notify_one();
        true
    }

    /// The oldest task due that names this evaluator, else the oldest open one due.
    pub fn take(&self) -> Option<Announced> {
        self.take_at(Instant::now())
    }

    fn take_at(&self, now: Instant) -> Option<Announced> {
        let mut inbox = self.lock();
        let due = |w: &Waiting| w.not_before <= now;
        let at = inbox
            .iter()
            .position(|w| due(w) && !w.entry.task.quorum.is_empty())
            .or_else(|| inbox.iter().position(due))?;
        inbox.remove(at).map(|w| w.entry)
    }

    /// Puts a task taken back, to be tried again shortly (its commit block has not reached
    /// this node yet); whether it was, that is whether it is within [`MAX_DEFERRAL`] of
    /// its announcement and the inbox has room.
    pub fn defer(&self, entry: Announced) -> bool {
        self.defer_at(entry, Instant::now())
    }

    fn defer_at(&self, entry: Announced, now: Instant) -> bool {
        if now.duration_since(entry.announced) >= MAX_DEFERRAL {
            return false;
        }
        let mut inbox = self.lock();
        if inbox.len() >= MAX_ANNOUNCED {
            return false;
        }
        inbox.push_back(Waiting {
            entry,
            not_before: now + RETRY,
        });
        true
    }

    /// Waits until a task may be waiting (or `timeout`); whether one was announced.
    pub async fn announced(&self, timeout: std::time::Duration) -> bool {
        tokio::time::timeout(timeout, self.ready.notified())
            .await
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task_queue::{TaskKind, TaskState};
    use doin_primitives::map;
    use doin_primitives::Timestamp;

    fn task(quorum: &[&str], optimae: &str) -> QueuedTask {
        QueuedTask {
            id: format!("task-{optimae}"),
            kind: TaskKind::OptimaeVerification,
            domain_id: "d".into(),
            state: TaskState::Pending,
            requester_id: "optimizer".into(),
            evaluator_id: None,
            parameters: map! { "x" => 0.5 },
            optimae_id: optimae.into(),
            reported_performance: Some(-1.0),
            created_at: Timestamp::from_unix_secs(1_767_225_600),
            claimed_at: None,
            completed_at: None,
            priority: 0,
            verified_performance: None,
            commitment_hash: "c".repeat(64),
            seed_block_hash: "b".repeat(64),
            quorum: quorum.iter().map(|q| (*q).to_owned()).collect(),
            claim: Some(map! { "optimizer_id" => "optimizer" }.into()),
        }
    }

    /// The payload as the optimizer loop announces it.
    fn announced(t: &QueuedTask) -> Map {
        announcement(t).to_map()
    }

    /// The task an announcement of `t` carries, as the network hands it over.
    fn carried(t: &QueuedTask) -> QueuedTask {
        task_of(&announced(t)).expect("a DOIN announcement")
    }

    #[test]
    fn an_announcement_carries_the_whole_task() {
        let t = task(&["e1"], "o1");
        let back = task_of(&announced(&t)).expect("a DOIN announcement reads");
        assert_eq!(back.id, t.id);
        assert_eq!(back.optimae_id, t.optimae_id);
        assert_eq!(back.parameters, t.parameters);
        assert_eq!(back.commitment_hash, t.commitment_hash);
        assert_eq!(back.seed_block_hash, t.seed_block_hash);
        assert_eq!(back.quorum, t.quorum);
        assert_eq!(back.claim, t.claim);
        assert_eq!(back.reported_performance, Some(-1.0));
    }

    #[test]
    fn a_reference_announcement_is_not_a_task() {
        let t = task(&["e1"], "o1");
        let mut payload = announced(&t);
        payload.shift_remove("seed_block_hash");
        assert!(task_of(&payload).is_none());
    }

    #[test]
    fn only_tasks_naming_this_evaluator_in_its_domains_are_taken_once() {
        let inbox = AnnouncedTasks::new("e1", ["d".to_owned()]);
        assert!(
            !inbox.offer(carried(&task(&["e2"], "o1"))),
            "another's slot"
        );
        let mut other_domain = task(&["e1"], "o1");
        other_domain.domain_id = "elsewhere".into();
        assert!(!inbox.offer(carried(&other_domain)));
        let mut own_open = task(&[], "o0");
        own_open.requester_id = "e1".into();
        assert!(!inbox.offer(carried(&own_open)), "its own open slot");
        assert!(inbox.offer(carried(&task(&[], "o0"))), "an open slot");
        assert!(inbox.offer(carried(&task(&["e1"], "o1"))));
        assert!(!inbox.offer(carried(&task(&["e1"], "o1"))), "a repeat");
        assert_eq!(
            inbox.take().map(|a| a.task.optimae_id),
            Some("o1".into()),
            "the slot naming it first"
        );
        assert_eq!(inbox.take().map(|a| a.task.optimae_id), Some("o0".into()));
        assert!(inbox.take().is_none());
    }

    #[test]
    fn a_deferred_task_comes_back_after_a_while_until_its_deferral_runs_out() {
        let inbox = AnnouncedTasks::new("e1", ["d".to_owned()]);
        assert!(inbox.offer(carried(&task(&["e1"], "o1"))));
        let t0 = Instant::now();
        let t = inbox.take_at(t0).expect("due at once");
        assert!(inbox.defer_at(t, t0));
        assert!(inbox.take_at(t0).is_none(), "not due yet");
        let later = t0 + RETRY;
        let t = inbox.take_at(later).expect("due again");
        assert!(
            !inbox.defer_at(t, later + MAX_DEFERRAL),
            "deferred no longer than MAX_DEFERRAL from its announcement"
        );
        assert!(inbox.take_at(later + MAX_DEFERRAL).is_none());
    }

    #[test]
    fn the_inbox_is_bounded_oldest_dropped() {
        let inbox = AnnouncedTasks::new("e1", ["d".to_owned()]);
        for i in 0..MAX_ANNOUNCED + 3 {
            assert!(inbox.offer(carried(&task(&["e1"], &format!("o{i}")))));
        }
        assert_eq!(inbox.take().map(|a| a.task.optimae_id), Some("o3".into()));
    }
}
