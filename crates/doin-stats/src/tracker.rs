//! One experiment's bookkeeping: turns the optimization loop's raw figures (round number,
//! the candidate's performance and parameters, the chain height) into [`RoundRecord`]s with
//! the best so far, the delta, the timings and the latching `converged` flag.

use std::sync::Arc;
use std::time::Instant;

use doin_primitives::cjson::to_cjson;
use doin_primitives::{Map, Timestamp, Value};

use crate::model::{ExperimentInfo, ExperimentSummary, RoundRecord};
use crate::olap::StatsHandle;

/// A random 32-hex id (the reference's `uuid4().hex` shape).
pub fn random_id() -> String {
    let mut buf = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut buf);
    hex::encode(buf)
}

/// The running state of one experiment; made by [`StatsHandle::start_experiment`].
#[derive(Debug)]
pub struct ExperimentTracker {
    info: Arc<ExperimentInfo>,
    handle: StatsHandle,
    started: Instant,
    last_round_end: Instant,
    rounds: u64,
    best: Option<(f64, String)>,
    time_to_best: f64,
    time_to_target: Option<f64>,
    rounds_to_convergence: Option<u64>,
    last_performance: Option<f64>,
}

impl ExperimentTracker {
    pub(crate) fn new(info: Arc<ExperimentInfo>, handle: StatsHandle) -> Self {
        let now = Instant::now();
        ExperimentTracker {
            info,
            handle,
            started: now,
            last_round_end: now,
            rounds: 0,
            best: None,
            time_to_best: 0.0,
            time_to_target: None,
            rounds_to_convergence: None,
            last_performance: None,
        }
    }

    /// The experiment.
    pub fn info(&self) -> &ExperimentInfo {
        &self.info
    }

    /// Records round `round_number` whose candidate scored `performance` with `parameters`,
    /// ended with the chain at `chain_height` blocks and `peers_count` peers; returns the
    /// record written.
    pub fn record_round(
        &mut self,
        round_number: u64,
        performance: f64,
        parameters: &Map,
        chain_height: i64,
        peers_count: i64,
    ) -> RoundRecord {
        let now = Instant::now();
        let elapsed = now.duration_since(self.started).as_secs_f64();
        let wall = now.duration_since(self.last_round_end).as_secs_f64();
        self.last_round_end = now;
        self.rounds = self.rounds.max(round_number);
        self.last_performance = Some(performance);
        let params = to_cjson(&Value::Object(parameters.clone()));
        let previous = self.best.as_ref().map(|b| b.0);
        let is_improvement =
            performance.is_finite() && previous.is_none_or(|b| self.info.better(performance, b));
        // Signed improvement over the previous best: positive when better.
        let delta = match previous {
            Some(b) if performance.is_finite() && self.info.higher_is_better => performance - b,
            Some(b) if performance.is_finite() => b - performance,
            _ => 0.0,
        };
        if is_improvement {
            self.best = Some((performance, params.clone()));
            self.time_to_best = elapsed;
        }
        let (best_performance, best_parameters) = self
            .best
            .clone()
            .unwrap_or_else(|| (performance, params.clone()));
        if self.time_to_target.is_none() && self.info.reaches_target(best_performance) {
            self.time_to_target = Some(elapsed);
            self.rounds_to_convergence = Some(round_number);
        }
        let record = RoundRecord {
            round_id: random_id(),
            experiment_id: self.info.experiment_id.clone(),
            domain_id: self.info.domain_id.clone(),
            round_number,
            timestamp: Timestamp::now_utc(),
            performance,
            best_performance,
            performance_delta: delta,
            is_improvement,
            parameters: params,
            best_parameters,
            wall_clock_seconds: wall,
            elapsed_seconds: elapsed,
            time_to_current_best_seconds: self.time_to_best,
            time_to_target_seconds: self.time_to_target,
            chain_height,
            peers_count,
            converged: self.time_to_target.is_some(),
            metrics: "{}".into(),
        };
        self.handle.record_round(record.clone());
        record
    }

    /// The summary of the experiment so far.
    pub fn summary(&self) -> ExperimentSummary {
        ExperimentSummary {
            experiment_id: self.info.experiment_id.clone(),
            domain_id: self.info.domain_id.clone(),
            total_rounds: self.rounds,
            final_performance: self.last_performance,
            best_performance: self.best.as_ref().map(|b| b.0),
            time_to_target_seconds: self.time_to_target,
            total_elapsed_seconds: self.started.elapsed().as_secs_f64(),
            converged: self.time_to_target.is_some(),
            rounds_to_convergence: self.rounds_to_convergence,
            node_id: self.info.node_id.clone(),
            hostname: self.info.hostname.clone(),
            finished_at: Timestamp::now_utc(),
        }
    }

    /// Ends the experiment: writes its summary.
    pub fn finish(self) {
        self.handle.finish_experiment(self.summary());
    }
}
