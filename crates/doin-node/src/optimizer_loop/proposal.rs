//! One proposal's way through the protocol: commit (a sealed commitment to the chain
//! service), reveal once the commitment is on chain (to the quorum its block draws, with
//! the verification tasks announced), then the quorum's votes → an accepted transaction
//! handed to the chain, or the proposal dropped.

use std::time::{Duration, Instant};

use doin_consensus::accepted::{Experiment, Reveal};
use doin_consensus::reference::compute_commitment;
use doin_plugins::Candidate;

use super::{random_hex, OptimizerLoop, MAX_COMMIT_WAIT, YOUNG_CHAIN_WAIT};
use crate::chain_service::Proposal;
use crate::proposals::{Committed, InFlight, InFlightSet};
use crate::task_queue::{QueuedTask, TaskKind, TaskState};

impl OptimizerLoop {
    /// Tells the domain's evaluators a task waits here (`task_created`, sealed); they pull
    /// it through `/tasks/pending`.
    pub(super) fn announce_task(&self, task: &QueuedTask) {
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
            // The claim rides along, so that evidence can be drawn from announcements too.
            extra: task
                .claim
                .iter()
                .map(|c| (doin_consensus::rejection::CLAIM_KEY.to_owned(), c.clone()))
                .collect(),
        });
        let mut message = Message::new(self.identity.peer_id(), self.clock.now(), &payload);
        message.sign(&self.identity);
        let net = net.clone();
        self.runtime.spawn(async move {
            crate::metrics::METRICS.gossip_published.inc();
            let _ = net.publish(message).await;
        });
    }

    /// Commit: seals a commitment to `best` under a fresh nonce and hands it to the chain
    /// service (which gossips it, and mints a commitment block for it when one is due).
    /// Nothing about the parameters leaves the node until the commitment is on chain.
    pub(super) fn commit(
        &mut self,
        best: &Candidate,
        round: u64,
        elapsed: f64,
    ) -> Option<Committed> {
        let domain = self.domain_id.clone();
        let nonce = random_hex(16);
        let commitment_hash = compute_commitment(&best.parameters, &nonce);
        let sealed = doin_consensus::commitment::OptimaeCommitment::sealed(
            &self.identity,
            &domain,
            &commitment_hash,
            self.clock.now(),
        );
        let submitted = crate::worker_runtime::until_stopped(
            &self.runtime,
            &self.stop,
            self.chain.submit_commitment(sealed, true),
        )?;
        if let Err(e) = submitted {
            tracing::warn!(domain = %domain, "commitment not taken: {e:?}");
            return None;
        }
        self.board.update(&domain, |p| p.committed += 1);
        crate::metrics::METRICS.optimae(&domain, crate::metrics::OptimaeOutcome::Committed);
        Some(Committed {
            candidate: best.clone(),
            nonce,
            commitment_hash,
            round,
            elapsed,
            since: Instant::now(),
        })
    }

    /// Reveals every committed proposal whose commitment is on chain and that still
    /// improves on the chain's best and this node's accepted best; drops those that no
    /// longer do and those whose commitment did not land in time. First, a revealed
    /// proposal whose commit block a reorganisation replaced (its votes would be seeded
    /// from a block no longer on chain) goes back to waiting for its commitment, which the
    /// winning branch may carry at another height or the pool will carry again.
    pub(super) fn reveal_landed(
        &mut self,
        in_flight: &mut InFlightSet,
        chain_best: Option<f64>,
        accepted: Option<f64>,
    ) {
        let me = self.identity.peer_id().to_owned();
        let stale = in_flight.take_stale(|p| {
            let bound =
                doin_consensus::commitment::bound_commitment(&me, &p.reveal.commitment_hash());
            let at = crate::worker_runtime::until_stopped(
                &self.runtime,
                &self.stop,
                self.chain.commit_block(&bound, &me),
            )
            .flatten();
            at.is_none_or(|at| at.block_hash != p.commit_block)
        });
        for p in stale {
            self.cancel_tasks(&p);
            tracing::debug!(domain = %self.domain_id, "commit block replaced by a reorganisation; revealing again");
            let commitment_hash = p.reveal.commitment_hash();
            let sealed = doin_consensus::commitment::OptimaeCommitment::sealed(
                &self.identity,
                &self.domain_id,
                &commitment_hash,
                self.clock.now(),
            );
            // Back in the pool in case the winning branch does not carry it.
            let _ = crate::worker_runtime::until_stopped(
                &self.runtime,
                &self.stop,
                self.chain.submit_commitment(sealed, true),
            );
            in_flight.push_committed(Committed {
                candidate: Candidate {
                    parameters: p.reveal.parameters.clone(),
                    performance: p.reveal.reported_performance,
                },
                nonce: p.reveal.nonce.clone(),
                commitment_hash,
                round: p.round,
                elapsed: p.elapsed,
                since: Instant::now(),
            });
        }
        let target = self.chain.view().target_block_time;
        let wait = Duration::from_secs_f64((target * 3.0).clamp(5.0, 120.0)).min(MAX_COMMIT_WAIT);
        for c in in_flight.take_committed() {
            let bound = doin_consensus::commitment::bound_commitment(&me, &c.commitment_hash);
            let landed = crate::worker_runtime::until_stopped(
                &self.runtime,
                &self.stop,
                self.chain.commit_block(&bound, &me),
            )
            .flatten();
            match landed {
                // Its evaluators are busy with this node's earlier reveals: wait.
                Some(_) if !in_flight.can_reveal() => in_flight.push_committed(c),
                Some(at) if at.domain_id == self.domain_id => {
                    let floor = [chain_best, accepted].into_iter().flatten().reduce(|x, y| {
                        if self.better(y, x) {
                            y
                        } else {
                            x
                        }
                    });
                    if floor.is_some_and(|f| !self.better(c.candidate.performance, f)) {
                        tracing::debug!(domain = %self.domain_id, "committed optimae overtaken before its reveal; dropped");
                        continue;
                    }
                    tracing::debug!(domain = %self.domain_id, waited_ms = c.since.elapsed().as_millis() as u64, "commitment landed; revealing");
                    if let Some(p) = self.reveal(c, at.height) {
                        in_flight.push(p);
                    }
                }
                Some(at) => {
                    tracing::warn!(domain = %self.domain_id, other = %at.domain_id, "our commitment is on chain for another domain; dropped");
                }
                None if c.since.elapsed() > wait => {
                    tracing::info!(domain = %self.domain_id, waited = ?c.since.elapsed(), "commitment did not land in a block; dropped");
                }
                None => in_flight.push_committed(c),
            }
        }
    }

    /// Reveal: plans the quorum the commitment's block draws, queues one verification task
    /// per quorum member (pulled by that evaluator; on a young chain, open tasks any other
    /// evaluator may take too) and announces each. The votes are collected by later
    /// rounds.
    pub(super) fn reveal(&mut self, c: Committed, commit_height: u64) -> Option<InFlight> {
        let domain = self.domain_id.clone();
        let me = self.identity.peer_id().to_owned();
        let Committed {
            candidate: best,
            nonce,
            commitment_hash,
            round,
            elapsed,
            ..
        } = c;
        let plan = match crate::worker_runtime::until_stopped(
            &self.runtime,
            &self.stop,
            self.chain.plan_quorum(&domain, &me, commit_height),
        )? {
            Ok(plan) => plan,
            Err(e) => {
                tracing::warn!(domain = %domain, "cannot plan a quorum: {e}");
                return None;
            }
        };
        let reveal = Reveal {
            domain_id: domain.clone(),
            parameters: best.parameters.clone(),
            nonce,
            reported_performance: best.performance,
            commit_height: plan.commit_height,
            timestamp: self.clock.now(),
        };
        let id = reveal.optimae_id(&me);
        // The sealed claim binds the report and the stake before anyone evaluates it.
        let stake = doin_consensus::rejection::claim_stake(self.chain.view().base_fee);
        let claim = doin_consensus::rejection::OptimaeClaim::sealed(&self.identity, &reveal, stake);
        let _ = self.chain.rejections().offer_claim(&claim);
        let mut proposal = InFlight::new(
            reveal,
            claim.clone(),
            round,
            elapsed,
            plan.quorum.clone(),
            Instant::now(),
            self.quorum_timeout,
            YOUNG_CHAIN_WAIT,
        );
        proposal.commit_block = plan.seed_block_hash.clone();
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
                created_at: self.clock.now(),
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
                claim: Some(claim.to_value()),
            };
            // Queued before it is announced, so an evaluator woken by the announcement
            // finds it.
            let announced = task.clone();
            match self.queue.push(task) {
                Ok(rx) => proposal.await_task(announced.id.clone(), !is_open, rx),
                Err(e) => {
                    tracing::warn!(domain = %domain, "cannot queue verification: {e}");
                    self.cancel_tasks(&proposal);
                    return None;
                }
            }
            self.announce_task(&announced);
        }
        Some(proposal)
    }

    /// Hands the voted proposals among `in_flight` to the chain and notes the best
    /// accepted one in `accepted`.
    pub(super) fn settle(
        &mut self,
        in_flight: &mut InFlightSet,
        experiment_id: &str,
        accepted: &mut Option<f64>,
    ) {
        for done in in_flight.take_done(Instant::now()) {
            if let Some(perf) = self.conclude(done, experiment_id) {
                if accepted.is_none_or(|a| self.better(perf, a)) {
                    *accepted = Some(perf);
                }
            }
        }
    }

    /// Drops a proposal's tasks from the queue.
    pub(super) fn cancel_tasks(&self, proposal: &InFlight) {
        for task_id in &proposal.task_ids {
            self.queue.cancel(task_id);
        }
    }

    /// A proposal whose votes are in (or whose wait is over) → an accepted transaction
    /// when its whole quorum voted; logs the outcome and returns the accepted performance.
    /// Every vote goes to the rejection pool with the claim, whatever the outcome.
    pub(super) fn conclude(&mut self, mut p: InFlight, experiment_id: &str) -> Option<f64> {
        let domain = self.domain_id.clone();
        self.cancel_tasks(&p);
        for v in p.votes() {
            let _ = self.chain.rejections().offer_vote(&p.claim, v);
        }
        let quorum_voted = p.quorum_voted();
        crate::metrics::METRICS.quorum_outcome(&domain, quorum_voted);
        if !quorum_voted {
            tracing::info!(domain = %domain, votes = p.votes().count(), quorum = p.quorum.len(), "quorum incomplete; optimae dropped");
            return None;
        }
        let votes = p.take_votes();
        let data_hash = votes
            .first()
            .map(|v| v.synthetic_data_hash.clone())
            .unwrap_or_default();
        let performance = p.performance();
        // As the reference writes them: seconds rounded to milliseconds, and the
        // optimizer's own measurement of its champion as its metrics.
        let experiment = Experiment {
            experiment_id: experiment_id.to_owned(),
            round_number: i64::try_from(p.round).unwrap_or(i64::MAX),
            time_to_this_result_seconds: (p.elapsed * 1000.0).round() / 1000.0,
            optimization_config_hash: self.optimization_config_hash.clone(),
            data_hash,
            champion_metrics: doin_primitives::map! { "performance" => performance },
        };
        let round = p.round;
        let proposal = Proposal {
            reveal: p.reveal,
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
