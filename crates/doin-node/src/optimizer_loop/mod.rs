//! The optimization loop of one domain: repeated optimizer rounds, and for every
//! improvement on the best known (the chain's, and this node's proposals), commit (a sealed
//! commitment to the chain service, gossiped, carried by the next block) → once the
//! commitment is on chain, reveal to the quorum its block draws → quorum evaluation → an
//! accepted OPTIMAE_ACCEPTED transaction handed to the chain service, which mints a block
//! when the pending increments reach the threshold. The loop stops when the domain's
//! `target_performance` is reached, and says so.
//!
//! A round does not wait for its commitment or its quorum: proposals stay in flight while
//! rounds go on; each round reveals the commitments that landed and hands the voted
//! proposals to the chain. What to commit, when to reveal, to whom, when a proposal is
//! done or given up are the [`crate::proposal_cycle`]'s decisions (shared with the
//! simulator); this loop carries them out. Each round starts from the best point known:
//! the optimizer's own, the chain's best optimae, or another node's newest reveal
//! ([`crate::migration`]).
//!
//! It runs on its own thread because optimizer steps are blocking, CPU-bound work. The
//! rounds and pauses are here; a proposal's I/O (the commitment to the chain service, the
//! reveal's tasks and announcements, the voted proposal to the chain) is in `proposal`,
//! the completions of its tasks in `verification`.

mod proposal;
mod verification;

use std::sync::Arc;
use std::time::{Duration, Instant};

use doin_plugins::{Candidate, Optimizer};
use doin_primitives::identity::Identity;

use crate::chain_service::ChainHandle;
use crate::clock::SharedClock;
use crate::migration::{same_point, MigrantBoard};
use crate::proposal_cycle::ProposalCycle;
use crate::task_queue::TaskQueue;
use crate::view::DomainBoard;
use proposal::{Proposals, Round};

/// One domain's loop.
pub struct OptimizerLoop {
    /// Domain id.
    pub domain_id: String,
    /// The optimizer plugin.
    pub optimizer: Box<dyn Optimizer>,
    /// Whether higher performance is better.
    pub higher_is_better: bool,
    /// Stop when reached.
    pub target_performance: Option<f64>,
    /// Pause between rounds (seconds; 0 runs rounds back to back).
    pub round_interval: f64,
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
    pub stop: crate::stop::StopToken,
    /// The runtime (to talk to async components from this thread).
    pub runtime: tokio::runtime::Handle,
    /// The peers; with any known, the loop first waits (bounded) for a sync with one.
    pub peers: crate::peers::PeerSet,
    /// The network, to announce verification tasks (`task_created`).
    pub net: Option<crate::p2p::broadcast::Broadcast>,
    /// How long to wait for a quorum's votes
    /// ([`crate::proposal_cycle::quorum_wait`] of `eval_poll_interval`).
    pub quorum_timeout: Duration,
    /// Experiment tracking (per-round CSV and OLAP rows); `None` records nothing.
    pub stats: Option<crate::stats::LoopStats>,
    /// Other nodes' revealed optimae, offered as starting points.
    pub migrants: MigrantBoard,
    /// Wall time for what it signs: commitments, reveals, messages, tasks.
    pub clock: SharedClock,
}

/// How long a node with peers waits for its first sync before optimizing alone.
pub const PEER_WAIT: Duration = Duration::from_secs(30);

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut buf);
    hex::encode(buf)
}

impl OptimizerLoop {
    fn better(&self, a: f64, b: f64) -> bool {
        if self.higher_is_better {
            a > b
        } else {
            a < b
        }
    }

    fn reached(&self, perf: f64) -> bool {
        match self.target_performance {
            Some(t) => {
                if self.higher_is_better {
                    perf >= t
                } else {
                    perf <= t
                }
            }
            None => false,
        }
    }

    /// Runs rounds until the target is reached or the node stops.
    pub fn run(mut self) {
        let experiment_id = random_hex(16);
        let started = Instant::now();
        let domain = self.domain_id.clone();
        self.board.update(&domain, |p| {
            p.target_performance = self.target_performance;
            p.experiment_id = experiment_id.clone();
        });
        tracing::info!(domain = %domain, experiment_id = %experiment_id, target = ?self.target_performance, "optimizing");
        let mut tracker = self.stats.as_ref().map(|s| s.start(&experiment_id));
        // A node with peers to sync from first waits for one (bounded), so that it starts
        // from the network's chain rather than racing on its own. A node with none (the
        // first node of a network) has nobody to wait for and starts at once; the
        // reference waited 30 s here whenever its chain had a quorum.
        if !self.peers.endpoints().is_empty() {
            let waited = Instant::now();
            while !self.peers.synced_once()
                && waited.elapsed() < PEER_WAIT
                && !crate::stop::stopping(&self.stop)
            {
                self.pause(Duration::from_millis(100));
            }
            tracing::info!(domain = %domain, synced = self.peers.synced_once(), "peers checked; optimizing");
        }
        // Start from the chain's best optimae of this domain, whoever found it.
        let view = self.chain.view();
        let mut best: Option<Candidate> = match (
            view.domain_best_parameters.get(&domain),
            view.domain_best.get(&domain),
        ) {
            (Some(parameters), Some(performance)) => Some(Candidate {
                parameters: parameters.clone(),
                performance: *performance,
            }),
            _ => None,
        };
        self.migrants.register(&domain, self.higher_is_better);
        let mut proposals = Proposals {
            cycle: ProposalCycle::new(
                &domain,
                self.identity.peer_id(),
                self.higher_is_better,
                self.quorum_timeout,
            ),
            tasks: Default::default(),
        };
        // The parameters of the last migrant the optimizer adopted from another node's
        // reveal (never proposed as this node's).
        let mut borrowed: Option<doin_primitives::value::Map> = None;
        let mut round: u64 = 0;
        let mut failures: u32 = 0;
        while !crate::stop::stopping(&self.stop) {
            round += 1;
            let migrant = self
                .migrants
                .take_better_than(&domain, best.as_ref().map(|b| b.performance));
            let candidate = match self.step_from(best.as_ref(), migrant.as_ref()) {
                Ok(c) => {
                    failures = 0;
                    c
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(domain = %domain, round, "optimizer round failed: {e}");
                    self.pause(Duration::from_millis(100u64 << failures.min(6)));
                    continue;
                }
            };
            let claimed = migrant.as_ref().map(|m| m.claimed);
            // The optimizer adopted the migrant and found nothing better yet.
            if let Some(m) = migrant.filter(|m| same_point(&m.parameters, &candidate.parameters)) {
                borrowed = Some(m.parameters);
            }
            tracing::debug!(domain = %domain, round, performance = candidate.performance, node = %&self.identity.peer_id()[..6], migrant = ?claimed, "round");
            if let Some(t) = tracker.as_mut() {
                let height = self.chain.view().height;
                t.record_round(
                    round,
                    candidate.performance,
                    &candidate.parameters,
                    height,
                    0,
                );
            }
            if best
                .as_ref()
                .is_none_or(|b| self.better(candidate.performance, b.performance))
            {
                best = Some(candidate.clone());
            }
            // Island migration: the best optimae on chain, found by any node, replaces this
            // optimizer's own best when it is better, so nodes cooperate rather than race.
            let view = self.chain.view();
            if let (Some(parameters), Some(performance)) = (
                view.domain_best_parameters.get(&domain),
                view.domain_best.get(&domain),
            ) {
                if best
                    .as_ref()
                    .is_none_or(|b| self.better(*performance, b.performance))
                {
                    best = Some(Candidate {
                        parameters: parameters.clone(),
                        performance: *performance,
                    });
                }
            }
            let chain_best = view.domain_best.get(&domain).copied();
            proposals.cycle.pending_optimae(view.pending_optimae);
            let current = best.as_ref().map(|b| b.performance);
            self.board.update(&domain, |p| {
                p.round = round;
                p.best_performance = match (current, chain_best) {
                    (Some(a), Some(b)) => Some(if self.better(a, b) { a } else { b }),
                    (a, b) => a.or(b),
                };
            });
            self.settle(&mut proposals, &experiment_id);
            // Worth proposing: better than the chain's best and everything this node has
            // proposed, and found by this optimizer (not another node's reveal it adopted).
            if let Some(b) = best.clone() {
                let ours = borrowed
                    .as_ref()
                    .is_none_or(|p| !same_point(p, &b.parameters));
                if ours && proposals.cycle.worth_committing(b.performance, chain_best) {
                    let elapsed = started.elapsed().as_secs_f64();
                    self.commit(&mut proposals, &b, Round { round, elapsed });
                }
            }
            // Committed first, so that a block the reveals below make the chain mint
            // carries this round's commitment.
            self.reveal_landed(&mut proposals, chain_best);
            // A solo chain's quorum is empty: a revealed proposal is done at once.
            self.settle(&mut proposals, &experiment_id);
            let chain_best = self.chain.view().domain_best.get(&domain).copied();
            if let Some(cb) = chain_best {
                if self.reached(cb) {
                    self.board.update(&domain, |p| p.converged = true);
                    tracing::info!(
                        domain = %domain,
                        best = cb,
                        target = ?self.target_performance,
                        rounds = round,
                        "target_performance reached on chain; optimizing of this domain stopped"
                    );
                    break;
                }
            }
            if self.round_interval > 0.0 {
                self.pause_revealing(Duration::from_secs_f64(self.round_interval), &mut proposals);
            }
        }
        for key in proposals.cycle.drain() {
            proposals.tasks.cancel(key, &self.queue);
        }
        if let Some(t) = tracker {
            t.finish();
        }
    }

    /// One optimizer round from `best`, or from another node's `migrant` when there is
    /// one (the plugin re-measures it); a migrant the plugin cannot read is skipped.
    fn step_from(
        &mut self,
        best: Option<&Candidate>,
        migrant: Option<&crate::migration::Migrant>,
    ) -> Result<Candidate, doin_plugins::PluginError> {
        let timer = crate::metrics::METRICS
            .plugin_call(crate::metrics::PluginCall::OptimizerStep, &self.domain_id);
        let metric = timer.as_ref();
        if let Some(m) = migrant {
            let from = Candidate {
                parameters: m.parameters.clone(),
                performance: m.claimed,
            };
            match crate::metrics::timed(metric, || self.optimizer.step(Some(&from))) {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::debug!(domain = %self.domain_id, from = %m.from, "migrant skipped: {e}");
                }
            }
        }
        crate::metrics::timed(metric, || self.optimizer.step(best))
    }

    /// Waits `d` between rounds; a new chain tip meanwhile reveals at once the proposals
    /// whose commitments it landed, rather than at the next round: other nodes start
    /// from a reveal as soon as they hear of it ([`crate::migration`]). Other changes of
    /// the chain view (pending optimae, pools) land no commitment and are passed over.
    fn pause_revealing(&mut self, d: Duration, proposals: &mut Proposals) {
        let deadline = Instant::now() + d;
        let mut tips = self.chain.watch();
        let mut tip = tips.borrow_and_update().tip_hash.clone();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || crate::stop::stopping(&self.stop) {
                return;
            }
            let changed =
                crate::worker_runtime::until_stopped(&self.runtime, &self.stop, async move {
                    tokio::select! {
                        changed = tips.changed() => changed.is_ok().then_some(tips),
                        _ = tokio::time::sleep(left) => None,
                    }
                })
                .flatten();
            let Some(t) = changed else { return };
            tips = t;
            let now = tips.borrow_and_update().tip_hash.clone();
            if now != tip && proposals.cycle.has_committed() {
                let chain_best = self.chain.view().domain_best.get(&self.domain_id).copied();
                self.reveal_landed(proposals, chain_best);
            }
            tip = now;
        }
    }

    fn pause(&mut self, d: Duration) {
        let _ = crate::worker_runtime::until_stopped(&self.runtime, &self.stop, async move {
            tokio::time::sleep(d).await;
        });
    }
}
