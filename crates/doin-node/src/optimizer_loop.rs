//! The optimization loop of one domain: repeated optimizer rounds, and for every
//! improvement on the chain's best, an offer to the domain's [`Proposer`] (commit → reveal
//! → quorum evaluation → an accepted OPTIMAE_ACCEPTED transaction handed to the chain
//! service, which mints a block when the pending increments reach the threshold). The loop
//! stops when the domain's `target_performance` is reached, and says so.
//!
//! It runs on its own thread because optimizer steps are blocking, CPU-bound work; the
//! proposer runs on another, so that waiting for a quorum does not cost optimizer rounds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use doin_plugins::{Candidate, Optimizer};
use doin_primitives::identity::Identity;
use tokio::sync::watch;

use crate::chain_service::ChainHandle;
use crate::proposer::{Offer, Proposer};
use crate::task_queue::TaskQueue;
use crate::view::DomainBoard;

/// Longest an optimizer waits for its quorum's votes (see [`OptimizerLoop::quorum_timeout`]).
const MAX_QUORUM_TIMEOUT: Duration = Duration::from_secs(20);

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
    pub stop: watch::Receiver<bool>,
    /// The runtime (to talk to async components from this thread).
    pub runtime: tokio::runtime::Handle,
    /// The peers; with any configured, the loop first waits (bounded) for a sync with one.
    pub peers: crate::peers::PeerSet,
    /// The network, to announce verification tasks (`task_created`).
    pub net: Option<doin_net::service::NetHandle>,
    /// How long to wait for a quorum's votes: twice the evaluators' poll interval
    /// (`eval_poll_interval`), at least 2 s and at most 20 s.
    pub quorum_timeout: Duration,
    /// Experiment tracking (per-round CSV and OLAP rows); `None` records nothing.
    pub stats: Option<crate::stats::LoopStats>,
}

/// How long a node with peers waits for its first sync before optimizing alone.
const PEER_WAIT: Duration = Duration::from_secs(30);

/// The quorum wait for an `eval_poll_interval` (seconds).
pub fn quorum_timeout(eval_poll_interval: f64) -> Duration {
    let secs = if eval_poll_interval.is_finite() {
        eval_poll_interval * 2.0
    } else {
        20.0
    };
    Duration::from_secs_f64(secs.clamp(2.0, MAX_QUORUM_TIMEOUT.as_secs_f64()))
}

/// `bytes` random bytes from the OS, as hex.
pub(crate) fn random_hex(bytes: usize) -> String {
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
        // Like the reference, a node with peers, or on a network chain, first waits for a
        // peer (bounded), so that it starts from the network's chain rather than racing on
        // its own.
        if !self.peers.endpoints().is_empty() || !self.chain.view().solo {
            let waited = Instant::now();
            while !self.peers.synced_once()
                && waited.elapsed() < PEER_WAIT
                && !crate::node::stopping(&self.stop)
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
        let (offers, offered) = watch::channel(None);
        let proposer = Proposer {
            domain_id: domain.clone(),
            higher_is_better: self.higher_is_better,
            experiment_id: experiment_id.clone(),
            optimization_config_hash: self.optimization_config_hash.clone(),
            identity: self.identity.clone(),
            chain: self.chain.clone(),
            queue: self.queue.clone(),
            board: self.board.clone(),
            stop: self.stop.clone(),
            runtime: self.runtime.clone(),
            peers: self.peers.clone(),
            net: self.net.clone(),
            quorum_timeout: self.quorum_timeout,
        };
        let proposing = match std::thread::Builder::new()
            .name(format!("propose:{domain}"))
            .spawn(move || proposer.run(offered))
        {
            Ok(handle) => handle,
            Err(e) => {
                tracing::error!(domain = %domain, "cannot start the proposer thread: {e}");
                return;
            }
        };
        let mut round: u64 = 0;
        let mut failures: u32 = 0;
        while !crate::node::stopping(&self.stop) {
            round += 1;
            let step = || self.optimizer.step(best.as_ref());
            let candidate = match crate::metrics::timed(
                &crate::metrics::METRICS.optimizer_step_seconds,
                step,
            ) {
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
            tracing::debug!(domain = %domain, round, performance = candidate.performance, "round");
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
            let current = best.as_ref().map(|b| b.performance);
            self.board.update(&domain, |p| {
                p.round = round;
                p.best_performance = match (current, chain_best) {
                    (Some(a), Some(b)) => Some(if self.better(a, b) { a } else { b }),
                    (a, b) => a.or(b),
                };
            });
            if let Some(b) = best.clone() {
                if chain_best.is_none_or(|cb| self.better(b.performance, cb)) {
                    offers.send_replace(Some(Offer {
                        candidate: b,
                        round,
                        elapsed: started.elapsed().as_secs_f64(),
                    }));
                }
            }
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
                self.pause(Duration::from_secs_f64(self.round_interval));
            }
        }
        if let Some(t) = tracker {
            t.finish();
        }
        // The proposer finishes the proposal it may be running, then sees the loop gone.
        drop(offers);
        if proposing.join().is_err() {
            tracing::error!(domain = %domain, "the proposer panicked");
        }
    }

    fn pause(&mut self, d: Duration) {
        let mut stop = self.stop.clone();
        self.runtime.block_on(async move {
            let _ = tokio::time::timeout(d, stop.wait_for(|s| *s)).await;
        });
    }
}
