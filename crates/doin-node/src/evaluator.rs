//! The evaluator worker: pulls verification tasks for this node's evaluator domains from
//! the queue, re-evaluates the optimae on synthetic data seeded for this evaluator, and
//! completes the task with a signed quorum vote.
//!
//! It runs on its own thread because plugin calls are blocking, CPU-bound work.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use doin_consensus::quorum::synthetic_seed;
use doin_consensus::vote::QuorumVote;
use doin_primitives::identity::Identity;
use doin_primitives::Timestamp;
use tokio::sync::watch;

use crate::plugins::EvaluatorPlugins;
use crate::task_queue::{Completion, QueuedTask, TaskQueue};

/// What the worker needs.
pub struct EvaluatorWorker {
    /// This node.
    pub identity: Arc<Identity>,
    /// The queue it pulls from.
    pub queue: Arc<TaskQueue>,
    /// Plugins per evaluator domain.
    pub domains: BTreeMap<String, EvaluatorPlugins>,
    /// Fires at shutdown.
    pub stop: watch::Receiver<bool>,
    /// The runtime (to wait on the queue from this thread).
    pub runtime: tokio::runtime::Handle,
}

impl EvaluatorWorker {
    /// Pulls and evaluates tasks until shutdown.
    pub fn run(mut self) {
        let domains: Vec<String> = self.domains.keys().cloned().collect();
        let me = self.identity.peer_id().to_owned();
        while !*self.stop.borrow() {
            let Some(task) = self.queue.claim_next(&me, &domains) else {
                let queue = self.queue.clone();
                self.runtime
                    .block_on(queue.wait_for_work(Duration::from_millis(200)));
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

    /// Evaluates one task and signs the vote.
    pub fn evaluate(&mut self, task: &QueuedTask) -> Result<QuorumVote, String> {
        let me = self.identity.peer_id().to_owned();
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
        let performance = plugins
            .evaluator
            .evaluate(&task.parameters, &data)
            .map_err(|e| format!("evaluator: {e}"))?;
        let vote = QuorumVote {
            optimae_id: task.optimae_id.clone(),
            domain_id: task.domain_id.clone(),
            evaluator_id: me,
            verified_performance: performance,
            synthetic_seed: seed,
            synthetic_data_hash: data.data_hash,
            timestamp: Timestamp::now_utc(),
            seal: None,
        };
        Ok(vote.sealed(&self.identity))
    }
}
