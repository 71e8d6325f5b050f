//! The I/O of one proposal's way through the protocol, whose decisions are the
//! [`ProposalCycle`]'s: commit (a sealed commitment to the chain service), reveal once the
//! commitment is on chain (verification tasks queued for the quorum its block draws, and
//! announced), then the quorum's votes → an accepted transaction handed to the chain, or
//! the proposal dropped.

use doin_consensus::accepted::Experiment;
use doin_consensus::commitment::OptimaeCommitment;
use doin_plugins::Candidate;

use super::verification::VerificationTasks;
use super::{random_hex, OptimizerLoop};
use crate::chain_service::{CommittedAt, Proposal, QuorumPlan};
use crate::commitment_pool::CommitmentPoolError;
use crate::proposal_cycle::{
    Committed, Concluded, CycleChain, Dropped, ProposalCycle, RevealTo, Step,
};
use crate::task_queue::{QueuedTask, TaskKind, TaskState};

/// What the loop keeps with a proposal: the round that found it, and when.
#[derive(Debug, Clone, Copy)]
pub(super) struct Round {
    /// The optimizer round that found it.
    pub(super) round: u64,
    /// Seconds from the start of the experiment to the result.
    pub(super) elapsed: f64,
}

/// A domain's proposals: the cycle's decisions and their verification tasks.
pub(super) struct Proposals {
    pub(super) cycle: ProposalCycle<Round>,
    pub(super) tasks: VerificationTasks,
}

/// The chain as the cycle sees it from the loop: the chain service, asked and waited for.
struct ServiceChain<'a> {
    lp: &'a OptimizerLoop,
}

impl CycleChain for ServiceChain<'_> {
    fn committed_at(&mut self, bound: &str) -> Option<CommittedAt> {
        let lp = self.lp;
        let me = lp.identity.peer_id();
        crate::worker_runtime::until_stopped(
            &lp.runtime,
            &lp.stop,
            lp.chain.commit_block(bound, me),
        )
        .flatten()
    }

    fn plan_quorum(&mut self, commit_height: u64) -> Result<QuorumPlan, String> {
        let lp = self.lp;
        let me = lp.identity.peer_id();
        let mut plan = crate::worker_runtime::until_stopped(
            &lp.runtime,
            &lp.stop,
            lp.chain.plan_quorum(&lp.domain_id, me, commit_height),
        )
        .ok_or_else(|| "the node is stopping".to_owned())??;
        // Nobody could take open tasks on a node without peers.
        if lp.peers.endpoints().is_empty() {
            plan.extra_votes = 0;
        }
        Ok(plan)
    }
}

impl OptimizerLoop {
    /// Tells the domain's evaluators a task waits here (`task_created`, sealed): the
    /// quorum member it names evaluates it from the announcement
    /// ([`crate::announced_tasks`]); open slots are pulled through `/tasks/pending`.
    fn announce_task(&self, task: &QueuedTask) {
        use doin_primitives::models::message::Message;
        use doin_primitives::models::payload::Payload;
        let Some(net) = &self.net else { return };
        // The whole task rides along (claim, commitment, seed block, quorum slot): the
        // evaluator it names evaluates it from the announcement, and evidence can be drawn
        // from announcements too.
        let payload = Payload::TaskCreated(crate::announced_tasks::announcement(task));
        let mut message = Message::new(self.identity.peer_id(), self.clock.now(), &payload);
        message.sign(&self.identity);
        let net = net.clone();
        self.runtime.spawn(async move {
            crate::metrics::METRICS.gossip_published.inc();
            let _ = net.publish(message).await;
        });
    }

    /// Hands a sealed commitment to `commitment_hash` to the chain service (which gossips
    /// it, and mints a commitment block for it when one is due). `None` when the node
    /// stops.
    fn submit_commitment(
        &self,
        commitment_hash: &str,
    ) -> Option<Result<(), Option<CommitmentPoolError>>> {
        let sealed = OptimaeCommitment::sealed(
            &self.identity,
            &self.domain_id,
            commitment_hash,
            self.clock.now(),
        );
        crate::worker_runtime::until_stopped(
            &self.runtime,
            &self.stop,
            self.chain.submit_commitment(sealed, true),
        )
    }

    /// Commit: seals a commitment to `best` under a fresh nonce and hands it to the chain
    /// service; the cycle then waits for it to land. Nothing about the parameters leaves
    /// the node until the commitment is on chain.
    pub(super) fn commit(&mut self, proposals: &mut Proposals, best: &Candidate, round: Round) {
        let c = Committed::new(
            best.parameters.clone(),
            best.performance,
            random_hex(16),
            round,
        );
        match self.submit_commitment(&c.commitment_hash) {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                tracing::warn!(domain = %self.domain_id, "commitment not taken: {e:?}");
                return;
            }
            None => return,
        }
        let domain = &self.domain_id;
        self.board.update(domain, |p| p.committed += 1);
        crate::metrics::METRICS.optimae(domain, crate::metrics::OptimaeOutcome::Committed);
        proposals.cycle.commit(c, self.clock.now());
    }

    /// Looks at the chain: reveals the committed proposals whose commitment landed and
    /// that still improve on `chain_best` and this node's accepted best, drops those that
    /// no longer do or did not land in time, and sends back to waiting the revealed ones
    /// whose commit block a reorganisation replaced (their tasks withdrawn, the commitment
    /// offered to the pool again in case the winning branch does not carry it).
    pub(super) fn reveal_landed(&mut self, proposals: &mut Proposals, chain_best: Option<f64>) {
        let target = self.chain.view().target_block_time;
        let now = self.clock.now();
        let steps =
            proposals
                .cycle
                .advance(&mut ServiceChain { lp: self }, now, chain_best, target);
        let domain = self.domain_id.clone();
        for step in steps {
            match step {
                Step::Recommit {
                    key,
                    commitment_hash,
                } => {
                    proposals.tasks.cancel(key, &self.queue);
                    tracing::debug!(domain = %domain, "commit block replaced by a reorganisation; revealing again");
                    // Back in the pool in case the winning branch does not carry it.
                    let _ = self.submit_commitment(&commitment_hash);
                }
                Step::Reveal(to) => {
                    tracing::debug!(domain = %domain, waited_ms = to.waited_micros / 1000, "commitment landed; revealing");
                    if !self.reveal(proposals, &to) {
                        proposals.tasks.cancel(to.key, &self.queue);
                        proposals.cycle.abandon(to.key);
                    }
                }
                Step::Drop { why, .. } => match why {
                    Dropped::Overtaken => {
                        tracing::debug!(domain = %domain, "committed optimae overtaken before its reveal; dropped");
                    }
                    Dropped::OtherDomain(other) => {
                        tracing::warn!(domain = %domain, other = %other, "our commitment is on chain for another domain; dropped");
                    }
                    Dropped::NotLanded(waited) => {
                        tracing::info!(domain = %domain, waited_ms = waited / 1000, "commitment did not land in a block; dropped");
                    }
                    Dropped::NoQuorum(e) => {
                        tracing::warn!(domain = %domain, "cannot plan a quorum: {e}");
                    }
                },
            }
        }
    }

    /// Reveal: queues one verification task per slot of the quorum the commitment's block
    /// draws (pulled by that evaluator; on a young chain, open tasks any other evaluator
    /// may take too) and announces each, under a sealed claim; whether all were queued.
    /// The votes are collected by later rounds.
    fn reveal(&mut self, proposals: &mut Proposals, to: &RevealTo) -> bool {
        let domain = self.domain_id.clone();
        let me = self.identity.peer_id().to_string();
        let reveal = &to.reveal;
        let id = reveal.optimae_id(&me);
        // The sealed claim binds the report and the stake before anyone evaluates it.
        let stake = doin_consensus::rejection::claim_stake(self.chain.view().base_fee);
        let claim = doin_consensus::rejection::OptimaeClaim::sealed(&self.identity, reveal, stake);
        let _ = self.chain.rejections().offer_claim(&claim);
        proposals.tasks.start(to.key, claim.clone());
        let open: Vec<String> = (0..to.open).map(|i| format!("open-{i}")).collect();
        for (slot, evaluator) in to.quorum.iter().chain(open.iter()).enumerate() {
            let is_open = slot >= to.quorum.len();
            let task = QueuedTask {
                id: doin_primitives::hash::sha256_hex(format!("{id}:{evaluator}")),
                kind: TaskKind::OptimaeVerification,
                domain_id: domain.clone(),
                state: TaskState::Pending,
                requester_id: me.clone(),
                evaluator_id: None,
                parameters: reveal.parameters.clone(),
                optimae_id: id.clone(),
                reported_performance: Some(reveal.reported_performance),
                created_at: self.clock.now(),
                claimed_at: None,
                completed_at: None,
                priority: 0,
                verified_performance: None,
                commitment_hash: to.commitment_hash.clone(),
                seed_block_hash: to.seed_block_hash.clone(),
                quorum: if is_open {
                    Vec::new()
                } else {
                    vec![evaluator.clone()]
                },
                claim: Some(claim.to_value()),
            };
            // Queued before it is announced, so an evaluator woken by the announcement
            // finds it.
            let announced = task.clone();
            match self.queue.push(task) {
                Ok(rx) => proposals
                    .tasks
                    .await_task(to.key, slot, announced.id.clone(), rx),
                Err(e) => {
                    tracing::warn!(domain = %domain, "cannot queue verification: {e}");
                    return false;
                }
            }
            self.announce_task(&announced);
        }
        true
    }

    /// Collects the votes that arrived and hands the voted proposals to the chain; the
    /// cycle notes the best accepted one.
    pub(super) fn settle(&mut self, proposals: &mut Proposals, experiment_id: &str) {
        proposals.tasks.collect(&mut proposals.cycle);
        proposals
            .tasks
            .collect_gossiped(self.chain.rejections(), &mut proposals.cycle);
        for done in proposals.cycle.take_done(self.clock.now()) {
            let claim = proposals.tasks.cancel(done.key, &self.queue);
            if let Some(perf) = self.conclude(done, claim, experiment_id) {
                proposals.cycle.accept(perf);
            }
        }
    }

    /// A proposal whose votes are in (or whose wait is over) → an accepted transaction
    /// when its whole quorum voted; logs the outcome and returns the accepted performance.
    /// Every vote goes to the rejection pool with the claim, whatever the outcome.
    fn conclude(
        &mut self,
        done: Concluded<Round>,
        claim: Option<doin_consensus::rejection::OptimaeClaim>,
        experiment_id: &str,
    ) -> Option<f64> {
        let domain = self.domain_id.clone();
        if let Some(claim) = &claim {
            for v in &done.votes {
                let _ = self.chain.rejections().offer_vote(claim, v);
            }
        }
        let quorum_voted = done.quorum_voted();
        crate::metrics::METRICS.quorum_outcome(&domain, quorum_voted);
        if !quorum_voted {
            tracing::info!(domain = %domain, votes = done.votes.len(), quorum = done.quorum.len(), "quorum incomplete; optimae dropped");
            return None;
        }
        let Concluded {
            reveal,
            votes,
            meta: Round { round, elapsed },
            ..
        } = done;
        let data_hash = votes
            .first()
            .map(|v| v.synthetic_data_hash.clone())
            .unwrap_or_default();
        let performance = reveal.reported_performance;
        // As the reference writes them: seconds rounded to milliseconds, and the
        // optimizer's own measurement of its champion as its metrics.
        let experiment = Experiment {
            experiment_id: experiment_id.to_owned(),
            round_number: i64::try_from(round).unwrap_or(i64::MAX),
            time_to_this_result_seconds: (elapsed * 1000.0).round() / 1000.0,
            optimization_config_hash: self.optimization_config_hash.clone(),
            data_hash,
            champion_metrics: doin_primitives::map! { "performance" => performance },
        };
        let proposal = Proposal {
            reveal: std::sync::Arc::unwrap_or_clone(reveal),
            votes,
            experiment,
        };
        match crate::worker_runtime::until_stopped(
            &self.runtime,
            &self.stop,
            self.chain.submit(proposal),
        )? {
            Ok(outcome) => {
                self.board.update(&domain, |p| p.accepted += 1);
                crate::metrics::METRICS.optimae(&domain, crate::metrics::OptimaeOutcome::Accepted);
                tracing::info!(
                    domain = %domain,
                    round,
                    performance,
                    effective_increment = outcome.effective_increment,
                    minted = ?outcome.minted,
                    "optimae accepted"
                );
                Some(performance)
            }
            Err(reason) => {
                self.board.update(&domain, |p| p.rejected += 1);
                crate::metrics::METRICS.optimae(&domain, crate::metrics::OptimaeOutcome::Rejected);
                tracing::info!(domain = %domain, round, "optimae not accepted: {reason}");
                None
            }
        }
    }
}
