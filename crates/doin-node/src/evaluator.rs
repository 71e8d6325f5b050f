//! The evaluator worker: takes verification tasks for this node's evaluator domains from
//! their announcements ([`crate::announced_tasks`], when a quorum slot names it) or pulls
//! them from its own and its peers' queues, re-evaluates the optimae on synthetic data
//! seeded for this evaluator, and answers with a signed quorum vote: gossiped with the
//! task's claim ([`crate::evidence_gossip`]), and completing the task when it was pulled.
//!
//! It runs on its own thread because plugin calls are blocking, CPU-bound work.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use doin_consensus::bounds::check_parameters;
use doin_consensus::params::DomainParams;
use doin_consensus::quorum::synthetic_seed;
use doin_consensus::vote::QuorumVote;
use doin_primitives::identity::Identity;

use crate::peers::PeerSet;
use crate::plugins::EvaluatorPlugins;
use crate::remote_tasks::RemoteTasks;
use crate::task_queue::{Completion, QueuedTask, TaskQueue};

/// How often other nodes' queues are polled when there is no local work, for an
/// `eval_poll_interval` (seconds): that interval within 0.5 s and a minute. Tasks naming
/// this evaluator come at once with their announcements; the poll catches open slots and
/// announcements it missed, and reference nodes' tasks.
pub fn remote_poll(eval_poll_interval: f64) -> Duration {
    let secs = if eval_poll_interval.is_finite() {
        eval_poll_interval
    } else {
        60.0
    };
    Duration::from_secs_f64(secs.clamp(0.5, 60.0))
}
pub use crate::remote_tasks::REMOTE_TASKS;

/// What the worker needs.
pub struct EvaluatorWorker {
    /// This node.
    pub identity: Arc<Identity>,
    /// The queue it pulls from.
    pub queue: Arc<TaskQueue>,
    /// Plugins per evaluator domain.
    pub domains: BTreeMap<String, EvaluatorPlugins>,
    /// Fires at shutdown.
    pub stop: crate::stop::StopToken,
    /// The runtime (to wait on the queue from this thread).
    pub runtime: tokio::runtime::Handle,
    /// Other nodes whose queues this evaluator pulls from.
    pub peers: PeerSet,
    /// The chain's rules per domain (parameter bounds and limits).
    pub rules: BTreeMap<String, DomainParams>,
    /// The chain: its base fee for the claim's stake, and the pool this evaluator's votes
    /// go to for gossip ([`crate::evidence`]); `None` checks stakes at the lowest base fee.
    pub chain: Option<crate::chain_service::ChainHandle>,
    /// Wall time for the votes it signs.
    pub clock: crate::clock::SharedClock,
    /// The libp2p transport, to reach `/p2p/<id>` peers' queues.
    pub p2p: Option<doin_net::p2p::P2pHandle>,
    /// The tasks announced to this evaluator.
    pub announced: crate::announced_tasks::AnnouncedTasks,
    /// How often it polls its peers' queues ([`remote_poll`]).
    pub poll_interval: Duration,
}

/// Where the block a verification task is seeded from stands with this node's chain.
///
/// The evaluator's rule: it votes only on an optimae whose commit block (the block that
/// carries the commitment, which seeds the quorum and the data) is on its own chain. A
/// vote is an attestation of the chain up to that block (`doin_consensus::finality`);
/// voting on optimae of branches it does not hold made honest evaluators attest rival
/// branches alike, and on a loaded 32-node network several branches each gathered the
/// attestations to finalize (different blocks at height 22 on nodes that had all
/// finalized height 54).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SeedBlock {
    /// The chain carries the commitment in that very block.
    Held,
    /// The chain does not carry the commitment (yet).
    NotYet,
    /// The chain carries it in another block: the task was made on another branch.
    Elsewhere,
}

/// Most optimae remembered as voted on (so that a task pulled after its announcement is
/// not evaluated twice).
const REMEMBERED_VOTES: usize = 256;

/// The optimae this evaluator voted on lately, oldest first.
#[derive(Default)]
struct Voted(std::collections::VecDeque<String>);

impl Voted {
    fn contains(&self, optimae_id: &str) -> bool {
        self.0.iter().any(|o| o == optimae_id)
    }

    fn insert(&mut self, optimae_id: &str) {
        if self.0.len() >= REMEMBERED_VOTES {
            self.0.pop_front();
        }
        self.0.push_back(optimae_id.to_owned());
    }
}

/// Whether a verification task may be evaluated at all: its domain is one of the chain's
/// and its parameters pass the chain's bounds and size limit
/// ([`doin_consensus::bounds::check_parameters`]); the error is the reason it is refused.
pub fn admit(task: &QueuedTask, rules: &BTreeMap<String, DomainParams>) -> Result<(), String> {
    let domain = rules
        .get(&task.domain_id)
        .ok_or_else(|| format!("domain {} is not a domain of this chain", task.domain_id))?;
    check_parameters(&task.parameters, domain).map_err(|e| format!("refused: {e}"))
}

impl EvaluatorWorker {
    /// Pulls and evaluates tasks until shutdown.
    pub fn run(mut self) {
        let domains: Vec<String> = self.domains.keys().cloned().collect();
        let me = self.identity.peer_id().to_string();
        let remote = RemoteTasks::new(self.p2p.clone());
        let mut last_remote_poll = std::time::Instant::now();
        let mut voted = Voted::default();
        while !crate::stop::stopping(&self.stop) {
            // Tasks announced to this evaluator first: their requester waits on the vote.
            if let Some(announced) = self.announced.take() {
                self.serve_announced(announced, &mut voted);
                continue;
            }
            let Some(task) = self.queue.claim_next(&me, &domains) else {
                if last_remote_poll.elapsed() >= self.poll_interval {
                    last_remote_poll = std::time::Instant::now();
                    self.serve_remote(&remote, &domains, &mut voted);
                }
                let queue = self.queue.clone();
                let peers = self.peers.clone();
                let inbox = self.announced.clone();
                let poll_requested =
                    crate::worker_runtime::until_stopped(&self.runtime, &self.stop, async {
                        tokio::select! {
                            _ = queue.wait_for_work(Duration::from_millis(200)) => false,
                            _ = inbox.announced(Duration::from_millis(200)) => false,
                            a = peers.task_poll_requested(Duration::from_millis(200)) => a,
                        }
                    })
                    .unwrap_or(false);
                if poll_requested {
                    last_remote_poll = std::time::Instant::now();
                    self.serve_remote(&remote, &domains, &mut voted);
                }
                continue;
            };
            match self.evaluate(&task) {
                Ok(vote) => {
                    let completion = Completion {
                        evaluator_id: me.clone(),
                        verified_performance: vote.verified_performance,
                        vote: Some(vote.to_value()),
                    };
                    if let Err(e) = self.queue.complete(&task.id, completion) {
                        tracing::warn!(task = %task.id, "could not complete task: {e}");
                    }
                }
                Err(reason) => {
                    tracing::warn!(task = %task.id, domain = %task.domain_id, "evaluation failed: {reason}");
                    self.queue.fail(&task.id);
                }
            }
        }
    }

    /// Where the block a verification task is seeded from stands with this node's chain
    /// (without a chain, as in unit tests, it is taken as held).
    fn seed_block(&self, task: &QueuedTask) -> SeedBlock {
        let Some(chain) = &self.chain else {
            return SeedBlock::Held;
        };
        if task.kind != crate::task_queue::TaskKind::OptimaeVerification {
            return SeedBlock::Held;
        }
        let bound =
            doin_consensus::commitment::bound_commitment(&task.requester_id, &task.commitment_hash);
        let at = crate::worker_runtime::until_stopped(
            &self.runtime,
            &self.stop,
            chain.commit_block(&bound, &task.requester_id),
        )
        .flatten();
        match at {
            Some(at) if at.block_hash == task.seed_block_hash => SeedBlock::Held,
            Some(_) => SeedBlock::Elsewhere,
            None => SeedBlock::NotYet,
        }
    }

    /// Evaluates a task announced to this evaluator once its chain holds the task's commit
    /// block; the vote goes out by gossip with the task's claim ([`Self::evaluate`]), which
    /// is how its requester receives it. A task whose block has not come yet waits a
    /// little ([`crate::announced_tasks::AnnouncedTasks::defer`]).
    fn serve_announced(&mut self, announced: crate::announced_tasks::Announced, voted: &mut Voted) {
        let task = &announced.task;
        if voted.contains(&task.optimae_id) {
            return;
        }
        match self.seed_block(task) {
            SeedBlock::Held => {}
            SeedBlock::NotYet => {
                let id = task.id.clone();
                if !self.announced.defer(announced) {
                    tracing::debug!(task = %id, "commit block never reached this node; not voting");
                }
                return;
            }
            SeedBlock::Elsewhere => {
                tracing::debug!(task = %task.id, "commit block not on this node's chain; not voting");
                return;
            }
        }
        match self.evaluate(task) {
            Ok(_) => {
                voted.insert(&task.optimae_id);
                tracing::debug!(task = %task.id, requester = %task.requester_id, "announced verification voted");
            }
            Err(reason) => {
                tracing::warn!(task = %task.id, requester = %task.requester_id, "announced evaluation failed: {reason}");
            }
        }
    }

    /// Pulls, claims, evaluates and completes the tasks other nodes' queues hold for this
    /// evaluator (their quorum names it, or an open slot), over HTTP or libp2p as each peer
    /// is reached; an optimae already voted on is not evaluated again.
    fn serve_remote(&mut self, remote: &RemoteTasks, domains: &[String], voted: &mut Voted) {
        let me = self.identity.peer_id().to_string();
        // Every peer asked at once: one slow peer does not hold up the others.
        let endpoints = self.peers.endpoints();
        let asked = endpoints.iter().map(|e| remote.pending(e, domains));
        let answers = crate::worker_runtime::until_stopped(
            &self.runtime,
            &self.stop,
            futures_util::future::join_all(asked),
        )
        .unwrap_or_default();
        for (endpoint, tasks) in endpoints.into_iter().zip(answers) {
            // Announced tasks first, between peers: their requesters wait on the votes.
            while let Some(announced) = self.announced.take() {
                self.serve_announced(announced, voted);
            }
            let Some(tasks) = tasks else { continue };
            let tasks: Vec<QueuedTask> = tasks.iter().filter_map(QueuedTask::from_value).collect();
            let mine = |t: &QueuedTask| {
                (t.quorum.contains(&me) || (t.quorum.is_empty() && t.requester_id != me))
                    && !voted.contains(&t.optimae_id)
            };
            let mine: Vec<QueuedTask> = tasks
                .into_iter()
                .filter(mine)
                .filter(|t| self.seed_block(t) == SeedBlock::Held)
                .collect();
            let mut taken = std::collections::BTreeSet::new();
            for task in mine {
                if !taken.insert(task.optimae_id.clone()) {
                    continue;
                }
                let claim = serde_json::json!({"task_id": task.id, "evaluator_id": me}).to_string();
                let claimed = crate::worker_runtime::until_stopped(
                    &self.runtime,
                    &self.stop,
                    remote.claim(&endpoint, claim),
                )
                .unwrap_or(false);
                if !claimed {
                    continue;
                }
                match self.evaluate(&task) {
                    Ok(vote) => {
                        voted.insert(&task.optimae_id);
                        let vote_text = doin_primitives::json::to_wire_json(&vote.to_value());
                        let body = format!(
                            r#"{{"task_id":{},"evaluator_id":{},"verified_performance":{},"vote":{}}}"#,
                            serde_json::Value::from(task.id.clone()),
                            serde_json::Value::from(me.clone()),
                            doin_primitives::json::to_wire_json(&vote.verified_performance.into()),
                            vote_text
                        );
                        let done = crate::worker_runtime::until_stopped(
                            &self.runtime,
                            &self.stop,
                            remote.complete(&endpoint, body),
                        )
                        .unwrap_or(false);
                        tracing::debug!(peer = %endpoint, task = %task.id, done, "remote verification");
                    }
                    Err(reason) => {
                        tracing::warn!(peer = %endpoint, task = %task.id, "remote evaluation failed: {reason}");
                    }
                }
            }
        }
    }

    /// Evaluates one task and signs the vote (a task [`admit`] or
    /// [`crate::evidence::admit_claim`] refuses is not evaluated); the vote is gossiped with
    /// the task's claim.
    pub fn evaluate(&mut self, task: &QueuedTask) -> Result<QuorumVote, String> {
        admit(task, &self.rules)?;
        let base_fee = self
            .chain
            .as_ref()
            .map_or(doin_consensus::fee_market::MIN_BASE_FEE, |c| {
                c.view().base_fee
            });
        // Only an optimae verification has a claim to answer for.
        let claim = match task.kind {
            crate::task_queue::TaskKind::OptimaeVerification => {
                Some(crate::evidence::admit_claim(task, base_fee)?)
            }
            crate::task_queue::TaskKind::InferenceRequest => None,
        };
        let vote = self.measure(task)?;
        if let (Some(chain), Some(claim)) = (&self.chain, &claim) {
            chain.rejections().publish_vote(claim, &vote);
        }
        Ok(vote)
    }

    fn measure(&mut self, task: &QueuedTask) -> Result<QuorumVote, String> {
        let me = self.identity.peer_id().to_string();
        let plugins = self
            .domains
            .get_mut(&task.domain_id)
            .ok_or_else(|| format!("not an evaluator of domain {}", task.domain_id))?;
        let seed = synthetic_seed(
            &task.commitment_hash,
            &task.domain_id,
            &me,
            &task.seed_block_hash,
        );
        let data = plugins
            .generator
            .generate(seed)
            .map_err(|e| format!("synthetic data: {e}"))?;
        let evaluate = || plugins.evaluator.evaluate(&task.parameters, &data);
        let timer = crate::metrics::METRICS
            .plugin_call(crate::metrics::PluginCall::Evaluation, &task.domain_id);
        let performance = crate::metrics::timed(timer.as_ref(), evaluate)
            .map_err(|e| format!("evaluator: {e}"))?;
        let vote = QuorumVote {
            optimae_id: task.optimae_id.clone(),
            domain_id: task.domain_id.clone(),
            evaluator_id: me,
            verified_performance: performance,
            synthetic_seed: seed,
            synthetic_data_hash: data.data_hash,
            timestamp: self.clock.now(),
            seal: None,
        };
        Ok(vote.sealed(&self.identity))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task_queue::{TaskKind, TaskState};
    use doin_primitives::map;
    use doin_primitives::value::{Map, Value};
    use doin_primitives::Timestamp;

    fn task(parameters: Map) -> QueuedTask {
        QueuedTask {
            id: "t".into(),
            kind: TaskKind::OptimaeVerification,
            domain_id: "d".into(),
            state: TaskState::Pending,
            requester_id: "r".into(),
            evaluator_id: None,
            parameters,
            optimae_id: "o".into(),
            reported_performance: None,
            created_at: Timestamp::from_unix_secs(1_767_225_600),
            claimed_at: None,
            completed_at: None,
            priority: 0,
            verified_performance: None,
            commitment_hash: String::new(),
            seed_block_hash: String::new(),
            quorum: Vec::new(),
            claim: None,
        }
    }

    #[test]
    fn tasks_breaking_the_chain_bounds_are_refused_with_the_reason() {
        let rules: BTreeMap<String, DomainParams> = [(
            "d".to_owned(),
            DomainParams::new("d", true).with_bound("x", -1.0, 1.0),
        )]
        .into();
        assert_eq!(admit(&task(map! { "x" => 0.5 }), &rules), Ok(()));
        let err = admit(&task(map! { "x" => 2.0 }), &rules).expect_err("out of bounds");
        assert!(err.contains("parameter x: 2 is outside [-1, 1]"), "{err}");
        let err = admit(&task(map! { "x" => "0.5" }), &rules).expect_err("a string");
        assert!(err.contains("expected a number"), "{err}");
        let huge = "9".repeat(doin_consensus::bounds::MAX_PARAMETERS_BYTES);
        let err = admit(&task(map! { "y" => huge }), &rules).expect_err("too large");
        assert!(err.contains("more than the limit"), "{err}");
        let mut other = task(map! { "x" => Value::Float(0.0) });
        other.domain_id = "elsewhere".into();
        assert!(admit(&other, &rules).is_err());
    }
}
