//! The proposer of one domain: takes the optimizer loop's latest best candidate and runs
//! commit → reveal → quorum evaluation → an accepted OPTIMAE_ACCEPTED transaction handed to
//! the chain service, on its own thread.
//!
//! A proposal waits for other nodes' votes (a network round trip and their evaluation), so
//! it runs beside the optimizer rather than in its rounds: the optimizer keeps its budget of
//! rounds whatever the quorum latency, and the proposer always takes the newest candidate
//! (an offer replaces the one not yet taken), so the queue between them holds one item.

use std::sync::Arc;
use std::time::Duration;

use doin_consensus::accepted::{Experiment, Reveal};
use doin_consensus::reference::compute_commitment;
use doin_consensus::vote::QuorumVote;
use doin_plugins::Candidate;
use doin_primitives::identity::Identity;
use doin_primitives::Timestamp;
use tokio::sync::watch;

use crate::chain_service::{ChainHandle, Proposal};
use crate::optimizer_loop::random_hex;
use crate::task_queue::{QueuedTask, TaskKind, TaskQueue, TaskState};
use crate::view::DomainBoard;

/// How long an optimizer on a young chain waits for the optional votes of other nodes.
const YOUNG_CHAIN_WAIT: Duration = Duration::from_secs(3);

/// A candidate the optimizer loop wants on chain.
#[derive(Debug, Clone)]
pub struct Offer {
    /// The parameters and the optimizer's own measurement of them.
    pub candidate: Candidate,
    /// The optimizer round that found it (experiment metadata).
    pub round: u64,
    /// Seconds since the optimizer started (experiment metadata).
    pub elapsed: f64,
}

/// What a domain's proposer needs.
pub struct Proposer {
    /// Domain id.
    pub domain_id: String,
    /// Whether higher performance is better.
    pub higher_is_better: bool,
    /// The optimizer's experiment id.
    pub experiment_id: String,
    /// Hash of the optimizer's config (experiment metadata).
    pub optimization_config_hash: String,
    /// This node.
    pub identity: Arc<Identity>,
    /// The chain service.
    pub chain: ChainHandle,
    /// The task queue quorum tasks go through.
    pub queue: Arc<TaskQueue>,
    /// Progress board.
    pub board: DomainBoard,
    /// Fires at shutdown.
    pub stop: watch::Receiver<bool>,
    /// The runtime (to talk to async components from this thread).
    pub runtime: tokio::runtime::Handle,
    /// The peers (no open tasks without any).
    pub peers: crate::peers::PeerSet,
    /// The network, to announce verification tasks (`task_created`).
    pub net: Option<doin_net::service::NetHandle>,
    /// How long to wait for a quorum's votes.
    pub quorum_timeout: Duration,
}

impl Proposer {
    /// Proposes the newest offer whenever one comes, until the loop drops its sender or the
    /// node stops. An offer the chain has overtaken meanwhile is skipped.
    pub fn run(mut self, mut offers: watch::Receiver<Option<Offer>>) {
        loop {
            let mut stop = self.stop.clone();
            let offered = self.runtime.block_on(async {
                tokio::select! {
                    r = offers.changed() => r.is_ok(),
                    _ = stop.wait_for(|s| *s) => false,
                }
            });
            if !offered {
                return;
            }
            let Some(offer) = offers.borrow_and_update().clone() else {
                continue;
            };
            let chain_best = self.chain.view().domain_best.get(&self.domain_id).copied();
            let better = |a: f64, b: f64| if self.higher_is_better { a > b } else { a < b };
            if chain_best.is_some_and(|cb| !better(offer.candidate.performance, cb)) {
                continue;
            }
            self.propose(&offer);
        }
    }

    /// Tells the domain's evaluators a task waits here (`task_created`, sealed); they pull
    /// it through `/tasks/pending`.
    fn announce_task(&self, task: &QueuedTask) {
        use doin_primitives::models::message::Message;
        use doin_primitives::models::payload::{Payload, TaskCreated};
        let Some(net) = &self.net else { return };
        let payload = Payload::TaskCreated(TaskCreated {
            task_id: task.id.clone(),
            task_type: task.kind.as_str().to_owned(),
            domain_id: task.domain_id.clone(),
            requester_id: task.requester_id.clone(),
            parameters: task.parameters.clone(),
            optimae_id: Some(task.optimae_id.clone()),
            reported_performance: task.reported_performance,
            metric_evidence: doin_primitives::value::Map::new(),
            priority: i64::from(task.priority),
            extra: doin_primitives::value::Map::new(),
        });
        let mut message = Message::new(self.identity.peer_id(), Timestamp::now_utc(), &payload);
        message.sign(&self.identity);
        let net = net.clone();
        self.runtime.spawn(async move {
            crate::metrics::METRICS.gossip_published.inc();
            let _ = net.publish(message).await;
        });
    }

    /// Commit → reveal → quorum → accepted transaction; logs the outcome.
    fn propose(&mut self, offer: &Offer) {
        let best = &offer.candidate;
        let (round, elapsed) = (offer.round, offer.elapsed);
        let experiment_id = self.experiment_id.as_str();
        let domain = self.domain_id.clone();
        let me = self.identity.peer_id().to_owned();
        let nonce = random_hex(16);
        let commitment_hash = compute_commitment(&best.parameters, &nonce);
        self.board.update(&domain, |p| p.committed += 1);
        crate::metrics::METRICS.optimae_committed.inc();
        let plan = match self.runtime.block_on(self.chain.plan_quorum(&domain, &me)) {
            Ok(plan) => plan,
            Err(e) => {
                tracing::warn!(domain = %domain, "cannot plan a quorum: {e}");
                return;
            }
        };
        let reveal = Reveal {
            domain_id: domain.clone(),
            parameters: best.parameters.clone(),
            nonce,
            reported_performance: best.performance,
            commit_height: plan.commit_height,
            timestamp: Timestamp::now_utc(),
        };
        let id = reveal.optimae_id(&me);
        // Reveal: one verification task per quorum member, pulled by that evaluator; on a
        // young chain, open tasks any other evaluator may take.
        let mut receivers = Vec::new();
        // Nobody could take open tasks on a node without peers.
        let extra = if self.peers.endpoints().is_empty() {
            0
        } else {
            plan.extra_votes
        };
        let open: Vec<String> = (0..extra).map(|i| format!("open-{i}")).collect();
        for evaluator in plan.quorum.iter().chain(open.iter()) {
            let is_open = evaluator.starts_with("open-");
            let task = QueuedTask {
                id: doin_primitives::hash::sha256_hex(format!("{id}:{evaluator}")),
                kind: TaskKind::OptimaeVerification,
                domain_id: domain.clone(),
                state: TaskState::Pending,
                requester_id: me.clone(),
                evaluator_id: None,
                parameters: best.parameters.clone(),
                optimae_id: id.clone(),
                reported_performance: Some(best.performance),
                created_at: Timestamp::now_utc(),
                claimed_at: None,
                completed_at: None,
                priority: 0,
                verified_performance: None,
                commitment_hash: commitment_hash.clone(),
                seed_block_hash: plan.seed_block_hash.clone(),
                quorum: if is_open {
                    Vec::new()
                } else {
                    vec![evaluator.clone()]
                },
            };
            let task_id = task.id.clone();
            self.announce_task(&task);
            match self.queue.push(task) {
                Ok(rx) => receivers.push((task_id, rx)),
                Err(e) => {
                    tracing::warn!(domain = %domain, "cannot queue verification: {e}");
                    return;
                }
            }
        }
        let mut stop = self.stop.clone();
        let required = plan.quorum.len();
        let votes: Vec<QuorumVote> = self.runtime.block_on(async {
            let mut votes = Vec::new();
            let deadline = tokio::time::Instant::now() + self.quorum_timeout;
            let young_deadline = tokio::time::Instant::now() + YOUNG_CHAIN_WAIT;
            for (i, (_, rx)) in receivers.iter_mut().enumerate() {
                let until = if i < required {
                    deadline
                } else {
                    young_deadline.max(tokio::time::Instant::now())
                };
                tokio::select! {
                    r = tokio::time::timeout_at(until, rx) => {
                        // The queue completes a task only with its claimer's sealed vote
                        // for this optimae and with that evaluator's seed.
                        if let Ok(Ok(c)) = r {
                            if let Some(v) = c.vote.as_ref().and_then(|v| QuorumVote::from_value(v).ok()) {
                                votes.push(v);
                            }
                        }
                    }
                    _ = stop.wait_for(|s| *s) => break,
                }
            }
            votes
        });
        for (task_id, _) in &receivers {
            self.queue.cancel(task_id);
        }
        let quorum_voted = plan
            .quorum
            .iter()
            .all(|q| votes.iter().any(|v| v.evaluator_id == *q));
        crate::metrics::METRICS.quorum_outcome(quorum_voted);
        if !quorum_voted {
            tracing::info!(domain = %domain, votes = votes.len(), quorum = plan.quorum.len(), "quorum incomplete; optimae dropped");
            return;
        }
        let data_hash = votes
            .first()
            .map(|v| v.synthetic_data_hash.clone())
            .unwrap_or_default();
        let experiment = Experiment {
            experiment_id: experiment_id.to_owned(),
            round_number: i64::try_from(round).unwrap_or(i64::MAX),
            time_to_this_result_seconds: elapsed,
            optimization_config_hash: self.optimization_config_hash.clone(),
            data_hash,
        };
        let proposal = Proposal {
            reveal,
            votes,
            experiment,
        };
        match self.runtime.block_on(self.chain.submit(proposal)) {
            Ok(outcome) => {
                self.board.update(&domain, |p| p.accepted += 1);
                crate::metrics::METRICS.optimae_accepted.inc();
                tracing::info!(
                    domain = %domain,
                    round,
                    performance = best.performance,
                    effective_increment = outcome.effective_increment,
                    minted = ?outcome.minted,
                    "optimae accepted"
                );
            }
            Err(reason) => {
                self.board.update(&domain, |p| p.rejected += 1);
                crate::metrics::METRICS.optimae_rejected.inc();
                tracing::info!(domain = %domain, round, "optimae not accepted: {reason}");
            }
        }
    }
}
