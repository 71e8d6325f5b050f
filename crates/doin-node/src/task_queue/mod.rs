//! The pull-based, priority-ordered task queue evaluators draw from.
//!
//! Tasks are ordered by `(priority, created_at)` (0 is the most urgent: verification tasks
//! are 0, inference requests 10, as in the reference). Evaluators *pull*: local evaluator
//! workers wait on [`TaskQueue::wait_for_work`], remote ones call `GET /tasks/pending`,
//! `POST /tasks/claim` and `POST /tasks/complete`. The requester of a verification task
//! (the optimizer loop) waits on the task's completion channel for the votes.
//!
//! Claims carry no signature, so a claim made in a quorum member's name must neither hide
//! the task from the member nor lock it out: a task of a quorum stays listed in
//! `/tasks/pending` until it is completed, and its member may claim it again. What proves
//! who evaluated is the completion: a verification task completes only with a vote its
//! claimer sealed for this optimae, with that evaluator's synthetic seed
//! ([`doin_consensus::vote::QuorumVote::check_for`]); anything else is refused with the
//! rule it breaks.
//!
//! [`calls`] reads the claim and completion bodies of both transports.
//!
//! The queue is bounded ([`TaskQueue::MAX_TASKS`]); finished tasks are forgotten oldest
//! first so memory stays flat over a long run.

pub mod calls;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Mutex;

use doin_consensus::vote::{QuorumVote, VoteSubject};
use doin_primitives::value::{Map, Value};
use doin_primitives::Timestamp;
use tokio::sync::{oneshot, Notify};

/// What a task asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// Re-evaluate an optimae on seeded synthetic data.
    OptimaeVerification,
    /// Serve an inference request.
    InferenceRequest,
}

impl TaskKind {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::OptimaeVerification => "optimae_verification",
            TaskKind::InferenceRequest => "inference_request",
        }
    }
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Waiting for an evaluator.
    Pending,
    /// Claimed by an evaluator.
    Claimed,
    /// Done.
    Completed,
    /// Given up.
    Failed,
}

impl TaskState {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Claimed => "claimed",
            TaskState::Completed => "completed",
            TaskState::Failed => "failed",
        }
    }
}

/// A task in the queue.
#[derive(Debug, Clone)]
pub struct QueuedTask {
    /// Content id.
    pub id: String,
    /// What it asks for.
    pub kind: TaskKind,
    /// Domain.
    pub domain_id: String,
    /// State.
    pub state: TaskState,
    /// Who asked.
    pub requester_id: String,
    /// Who claimed it.
    pub evaluator_id: Option<String>,
    /// The parameters to evaluate.
    pub parameters: Map,
    /// The optimae it verifies.
    pub optimae_id: String,
    /// The optimizer's own figure.
    pub reported_performance: Option<f64>,
    /// When created.
    pub created_at: Timestamp,
    /// When claimed.
    pub claimed_at: Option<Timestamp>,
    /// When completed.
    pub completed_at: Option<Timestamp>,
    /// 0 is most urgent.
    pub priority: u8,
    /// The evaluator's figure.
    pub verified_performance: Option<f64>,
    /// The commitment the optimae was revealed against (DOIN extension).
    pub commitment_hash: String,
    /// Hash of the block the quorum and the synthetic seeds derive from (DOIN extension).
    pub seed_block_hash: String,
    /// The evaluators selected for this optimae's quorum (DOIN extension).
    pub quorum: Vec<String>,
    /// The requester's sealed claim on the optimae (DOIN extension, see
    /// [`crate::evidence`]); evaluators refuse a task without one.
    pub claim: Option<Value>,
}

impl QueuedTask {
    /// The reference's task wire object plus DOIN's extension fields.
    pub fn to_value(&self) -> Value {
        let ts = |t: &Option<Timestamp>| t.map(|t| Value::Str(t.wire())).unwrap_or(Value::Null);
        let mut m = doin_primitives::map! {
            "id" => self.id.clone(),
            "task_type" => self.kind.as_str(),
            "domain_id" => self.domain_id.clone(),
            "status" => self.state.as_str(),
            "requester_id" => self.requester_id.clone(),
            "evaluator_id" => self.evaluator_id.clone(),
            "parameters" => self.parameters.clone(),
            "optimae_id" => self.optimae_id.clone(),
            "reported_performance" => self.reported_performance,
            "metric_evidence" => Map::new(),
            "result" => Value::Null,
            "verified_performance" => self.verified_performance,
            "created_at" => self.created_at.wire(),
            "claimed_at" => ts(&self.claimed_at),
            "completed_at" => ts(&self.completed_at),
            "priority" => i64::from(self.priority),
        };
        m.extend(self.extension_fields());
        Value::Object(m)
    }

    /// DOIN's extension fields beside the reference's: the commitment, the seed block, the
    /// quorum slot and the requester's claim (what `task_created` announcements carry too,
    /// [`crate::announced_tasks`]).
    pub fn extension_fields(&self) -> Map {
        let mut m = Map::new();
        m.insert(
            "commitment_hash".into(),
            self.commitment_hash.clone().into(),
        );
        m.insert(
            "seed_block_hash".into(),
            self.seed_block_hash.clone().into(),
        );
        m.insert(
            "quorum".into(),
            Value::Array(self.quorum.iter().map(|q| q.clone().into()).collect()),
        );
        if let Some(claim) = &self.claim {
            m.insert(doin_consensus::rejection::CLAIM_KEY.into(), claim.clone());
        }
        m
    }
}

impl QueuedTask {
    /// Reads a task as another node's `/tasks/pending` serves it (DOIN extension fields
    /// included); `None` when a field the evaluator needs is missing or mistyped.
    pub fn from_value(v: &Value) -> Option<QueuedTask> {
        let m = v.as_object()?;
        let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
        let kind = match m.get("task_type").and_then(Value::as_str)? {
            "optimae_verification" => TaskKind::OptimaeVerification,
            "inference_request" => TaskKind::InferenceRequest,
            _ => return None,
        };
        let quorum = m
            .get("quorum")
            .and_then(Value::as_array)
            .map(|q| {
                q.iter()
                    .filter_map(|e| e.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Some(QueuedTask {
            id: s("id")?,
            kind,
            domain_id: s("domain_id")?,
            state: TaskState::Pending,
            requester_id: s("requester_id").unwrap_or_default(),
            evaluator_id: None,
            parameters: m.get("parameters").and_then(Value::as_object)?.clone(),
            optimae_id: s("optimae_id")?,
            reported_performance: m.get("reported_performance").and_then(Value::as_f64),
            created_at: m
                .get("created_at")
                .and_then(|t| Timestamp::parse_wire(t).ok())
                .unwrap_or_else(Timestamp::now_utc),
            claimed_at: None,
            completed_at: None,
            priority: m
                .get("priority")
                .and_then(Value::as_i64)
                .and_then(|p| u8::try_from(p).ok())
                .unwrap_or(0),
            verified_performance: None,
            commitment_hash: s("commitment_hash")?,
            seed_block_hash: s("seed_block_hash")?,
            quorum,
            claim: m.get(doin_consensus::rejection::CLAIM_KEY).cloned(),
        })
    }
}

/// What an evaluator hands back when it completes a task.
#[derive(Debug, Clone)]
pub struct Completion {
    /// The evaluator.
    pub evaluator_id: String,
    /// Its figure.
    pub verified_performance: f64,
    /// Its signed quorum vote (wire object), when it sent one.
    pub vote: Option<Value>,
}

/// Why a claim or completion was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// No pending task with that id.
    #[error("task not found or already claimed")]
    NotClaimable,
    /// No claimed task with that id, or claimed by someone else.
    #[error("task not found or not claimed")]
    NotCompletable,
    /// The evaluator is not in the task's quorum.
    #[error("evaluator {0} is not in this task's quorum")]
    NotInQuorum(String),
    /// The queue is full.
    #[error("task queue is full ({0} tasks); retry later")]
    Full(usize),
    /// The completion's vote does not count for this task.
    #[error("vote refused: {0}")]
    BadVote(String),
}

#[derive(Default)]
struct Inner {
    tasks: HashMap<String, QueuedTask>,
    pending: BTreeSet<(u8, i64, String)>,
    finished: VecDeque<String>,
    waiters: HashMap<String, Vec<oneshot::Sender<Completion>>>,
}

/// Counts for `/status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskCounts {
    /// Waiting.
    pub pending: usize,
    /// Claimed.
    pub claimed: usize,
    /// Completed (still remembered).
    pub completed: usize,
}

/// The queue (shared by the API, the optimizer loops and the evaluator workers).
#[derive(Default)]
pub struct TaskQueue {
    inner: Mutex<Inner>,
    work: Notify,
}

impl TaskQueue {
    /// Most tasks held at once (pending + claimed + remembered finished ones).
    pub const MAX_TASKS: usize = 10_000;
    /// Finished tasks remembered for the API.
    const MAX_FINISHED: usize = 1_000;

    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a task; returns a receiver that yields each completion.
    pub fn push(&self, task: QueuedTask) -> Result<oneshot::Receiver<Completion>, TaskError> {
        let (tx, rx) = oneshot::channel();
        let mut inner = self.lock();
        if inner.tasks.len() >= Self::MAX_TASKS {
            return Err(TaskError::Full(Self::MAX_TASKS));
        }
        inner.pending.insert(Self::pending_key(&task));
        inner.waiters.entry(task.id.clone()).or_default().push(tx);
        inner.tasks.insert(task.id.clone(), task);
        drop(inner);
        self.work.notify_waiters();
        Ok(rx)
    }

    /// Pending tasks of the given domains (all when empty), most urgent first.
    pub fn pending(&self, domains: &[String], limit: usize) -> (Vec<QueuedTask>, usize) {
        let inner = self.lock();
        let total = inner.pending.len();
        let tasks = inner
            .pending
            .iter()
            .filter_map(|(_, _, id)| inner.tasks.get(id))
            .filter(|t| domains.is_empty() || domains.contains(&t.domain_id))
            .take(limit)
            .cloned()
            .collect();
        (tasks, total)
    }

    /// The most urgent pending verification task this evaluator may take in `domains`,
    /// claimed for it.
    pub fn claim_next(&self, evaluator_id: &str, domains: &[String]) -> Option<QueuedTask> {
        self.claim_next_of(TaskKind::OptimaeVerification, evaluator_id, domains)
    }

    /// [`Self::claim_next`] for tasks of `kind` (inference requests have their own worker).
    pub fn claim_next_of(
        &self,
        kind: TaskKind,
        evaluator_id: &str,
        domains: &[String],
    ) -> Option<QueuedTask> {
        let id = {
            let inner = self.lock();
            inner
                .pending
                .iter()
                .filter_map(|(_, _, id)| inner.tasks.get(id))
                .find(|t| {
                    t.kind == kind
                        && domains.contains(&t.domain_id)
                        && Self::may_take(&inner, t, evaluator_id)
                })
                .map(|t| t.id.clone())?
        };
        self.claim(&id, evaluator_id).ok()
    }

    /// Claims a pending task, or claims again a task of a quorum (a claim made in a member's
    /// name does not lock the member out; see the module doc).
    pub fn claim(&self, task_id: &str, evaluator_id: &str) -> Result<QueuedTask, TaskError> {
        let mut inner = self.lock();
        let task = inner
            .tasks
            .get_mut(task_id)
            .ok_or(TaskError::NotClaimable)?;
        if task.state == TaskState::Claimed && task.quorum.iter().any(|q| q == evaluator_id) {
            task.evaluator_id = Some(evaluator_id.to_owned());
            return Ok(task.clone());
        }
        let task = inner.tasks.get(task_id).ok_or(TaskError::NotClaimable)?;
        if task.state != TaskState::Pending {
            return Err(TaskError::NotClaimable);
        }
        if !Self::may_take(&inner, task, evaluator_id) {
            return Err(TaskError::NotInQuorum(evaluator_id.to_owned()));
        }
        // A quorum task stays listed until its member completes it (see the module doc).
        if task.quorum.is_empty() {
            let key = Self::pending_key(task);
            inner.pending.remove(&key);
        }
        let task = inner
            .tasks
            .get_mut(task_id)
            .ok_or(TaskError::NotClaimable)?;
        task.state = TaskState::Claimed;
        task.evaluator_id = Some(evaluator_id.to_owned());
        task.claimed_at = Some(Timestamp::now_utc());
        Ok(task.clone())
    }

    /// A task's place in the pending order.
    fn pending_key(task: &QueuedTask) -> (u8, i64, String) {
        (
            task.priority,
            task.created_at.unix_micros(),
            task.id.clone(),
        )
    }

    /// Whether `evaluator_id` may take `task`: a member of its quorum, or, for an open task
    /// (empty quorum, offered on a young chain), any evaluator but the requester that has
    /// not already taken a task of the same optimae.
    fn may_take(inner: &Inner, task: &QueuedTask, evaluator_id: &str) -> bool {
        if !task.quorum.is_empty() {
            return task.quorum.iter().any(|q| q == evaluator_id);
        }
        task.requester_id != evaluator_id
            && !inner.tasks.values().any(|t| {
                t.optimae_id == task.optimae_id && t.evaluator_id.as_deref() == Some(evaluator_id)
            })
    }

    /// Completes a claimed task and hands the completion to whoever waits on it; a
    /// verification task needs its claimer's valid vote ([`Self::check_vote`]).
    pub fn complete(&self, task_id: &str, completion: Completion) -> Result<QueuedTask, TaskError> {
        let mut inner = self.lock();
        let task = inner
            .tasks
            .get_mut(task_id)
            .ok_or(TaskError::NotCompletable)?;
        if task.state != TaskState::Claimed
            || task.evaluator_id.as_deref() != Some(completion.evaluator_id.as_str())
        {
            return Err(TaskError::NotCompletable);
        }
        if task.kind == TaskKind::OptimaeVerification {
            Self::check_vote(task, &completion)?;
        }
        task.state = TaskState::Completed;
        task.completed_at = Some(Timestamp::now_utc());
        task.verified_performance = Some(completion.verified_performance);
        let done = task.clone();
        inner.pending.remove(&Self::pending_key(&done));
        for waiter in inner.waiters.remove(task_id).unwrap_or_default() {
            let _ = waiter.send(completion.clone());
        }
        Self::remember_finished(&mut inner, task_id);
        Ok(done)
    }

    /// The vote of a verification task's completion must be its claimer's, sealed, for this
    /// optimae and with the claimer's synthetic seed; its figure is the completion's.
    fn check_vote(task: &QueuedTask, completion: &Completion) -> Result<(), TaskError> {
        let bad = |reason: String| TaskError::BadVote(reason);
        let value = completion
            .vote
            .as_ref()
            .ok_or_else(|| bad("a verification needs the evaluator's signed vote".into()))?;
        let vote = QuorumVote::from_value(value).map_err(|e| bad(e.to_string()))?;
        let subject = VoteSubject {
            optimae_id: &task.optimae_id,
            domain_id: &task.domain_id,
            commitment_hash: &task.commitment_hash,
            seed_block_hash: &task.seed_block_hash,
        };
        vote.check_for(&completion.evaluator_id, &subject)
            .map_err(|e| bad(e.to_string()))?;
        if vote.verified_performance.to_bits() != completion.verified_performance.to_bits() {
            return Err(bad(format!(
                "verified_performance {} differs from the vote's {}",
                completion.verified_performance, vote.verified_performance
            )));
        }
        Ok(())
    }

    /// Marks a claimed task failed (the evaluator could not evaluate it).
    pub fn fail(&self, task_id: &str) {
        let mut inner = self.lock();
        if let Some(task) = inner.tasks.get_mut(task_id) {
            task.state = TaskState::Failed;
            task.completed_at = Some(Timestamp::now_utc());
            let key = Self::pending_key(task);
            inner.pending.remove(&key);
            inner.waiters.remove(task_id);
            Self::remember_finished(&mut inner, task_id);
        }
    }

    /// Drops a task whatever its state (its requester gave up on it).
    pub fn cancel(&self, task_id: &str) {
        let mut inner = self.lock();
        if let Some(task) = inner.tasks.remove(task_id) {
            inner.pending.remove(&Self::pending_key(&task));
        }
        inner.waiters.remove(task_id);
    }

    fn remember_finished(inner: &mut Inner, task_id: &str) {
        inner.finished.push_back(task_id.to_owned());
        while inner.finished.len() > Self::MAX_FINISHED {
            if let Some(old) = inner.finished.pop_front() {
                inner.tasks.remove(&old);
            }
        }
    }

    /// Counts by state.
    pub fn counts(&self) -> TaskCounts {
        self.counts_where(|_| true)
    }

    /// Counts by state of the tasks of one kind.
    pub fn counts_of(&self, kind: TaskKind) -> TaskCounts {
        self.counts_where(|t| t.kind == kind)
    }

    fn counts_where(&self, keep: impl Fn(&QueuedTask) -> bool) -> TaskCounts {
        let inner = self.lock();
        let mut c = TaskCounts::default();
        for t in inner.tasks.values().filter(|t| keep(t)) {
            match t.state {
                TaskState::Pending => c.pending += 1,
                TaskState::Claimed => c.claimed += 1,
                TaskState::Completed => c.completed += 1,
                TaskState::Failed => {}
            }
        }
        c
    }

    /// Waits until a task is pushed (or `timeout` passes).
    pub async fn wait_for_work(&self, timeout: std::time::Duration) {
        let _ = tokio::time::timeout(timeout, self.work.notified()).await;
    }
}

#[cfg(test)]
mod tests;
