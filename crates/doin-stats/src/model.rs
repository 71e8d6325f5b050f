//! The records the stats sinks store: one experiment, one round, one experiment's summary,
//! one accepted optimae read from the chain.

use doin_primitives::Timestamp;

/// One optimization run of one domain on one node (a `dim_experiment` row).
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentInfo {
    /// Random 32-hex id of the run.
    pub experiment_id: String,
    /// The domain optimized.
    pub domain_id: String,
    /// This node's peer id.
    pub node_id: String,
    /// The machine's host name.
    pub hostname: String,
    /// Optimizer plugin name.
    pub optimizer_plugin: String,
    /// Name of the performance metric.
    pub performance_metric: String,
    /// Name of the metric schema (empty when the domain has none).
    pub metric_schema: String,
    /// Direction of the metric.
    pub higher_is_better: bool,
    /// The optimizer's configuration, as JSON text with sorted keys.
    pub optimization_config: String,
    /// The parameter bounds, as JSON text with sorted keys.
    pub param_bounds: String,
    /// The target the run stops at.
    pub target_performance: Option<f64>,
    /// When the run started.
    pub started_at: Timestamp,
    /// This software's version.
    pub doin_version: String,
}

impl ExperimentInfo {
    /// Whether `a` is a better performance than `b` in this experiment's direction.
    pub fn better(&self, a: f64, b: f64) -> bool {
        if self.higher_is_better {
            a > b
        } else {
            a < b
        }
    }

    /// Whether `performance` reaches the target.
    pub fn reaches_target(&self, performance: f64) -> bool {
        match self.target_performance {
            Some(t) if self.higher_is_better => performance >= t,
            Some(t) => performance <= t,
            None => false,
        }
    }
}

/// One optimization round (a `fact_round` row and a CSV line).
#[derive(Debug, Clone, PartialEq)]
pub struct RoundRecord {
    /// Random 32-hex id of the round.
    pub round_id: String,
    /// The experiment.
    pub experiment_id: String,
    /// The domain.
    pub domain_id: String,
    /// 1-based round number.
    pub round_number: u64,
    /// When the round ended.
    pub timestamp: Timestamp,
    /// The round's candidate performance.
    pub performance: f64,
    /// Best performance of the experiment so far (this round included).
    pub best_performance: f64,
    /// Improvement of this round over the previous best (positive when better; 0 in round 1).
    pub performance_delta: f64,
    /// Whether this round set a new best.
    pub is_improvement: bool,
    /// The candidate's parameters, JSON text with sorted keys.
    pub parameters: String,
    /// The best parameters so far, JSON text with sorted keys.
    pub best_parameters: String,
    /// Seconds the round itself took.
    pub wall_clock_seconds: f64,
    /// Seconds since the experiment started.
    pub elapsed_seconds: f64,
    /// Seconds from the start to the current best.
    pub time_to_current_best_seconds: f64,
    /// Seconds from the start to the first round that reached the target.
    pub time_to_target_seconds: Option<f64>,
    /// Blocks on this node's chain (genesis included) when the round ended.
    pub chain_height: i64,
    /// Connected peers when the round ended.
    pub peers_count: i64,
    /// Whether the target has been reached (latches).
    pub converged: bool,
    /// Extra metrics as JSON text with sorted keys (`{}` when none).
    pub metrics: String,
}

/// One finished experiment (a `fact_experiment_summary` row).
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentSummary {
    /// The experiment.
    pub experiment_id: String,
    /// The domain.
    pub domain_id: String,
    /// Rounds run.
    pub total_rounds: u64,
    /// The last round's performance.
    pub final_performance: Option<f64>,
    /// The best performance.
    pub best_performance: Option<f64>,
    /// Seconds to the target, when reached.
    pub time_to_target_seconds: Option<f64>,
    /// Seconds the experiment ran.
    pub total_elapsed_seconds: f64,
    /// Whether the target was reached.
    pub converged: bool,
    /// The first round that reached the target.
    pub rounds_to_convergence: Option<u64>,
    /// This node.
    pub node_id: String,
    /// The machine.
    pub hostname: String,
    /// When the experiment finished.
    pub finished_at: Timestamp,
}

/// One accepted optimae as the chain carries it (a `fact_chain_optimae` row).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChainOptimaeRow {
    /// The optimae id.
    pub optimae_id: String,
    /// The domain.
    pub domain_id: String,
    /// The optimizer's peer id.
    pub optimizer_id: String,
    /// The optimizer's experiment id.
    pub experiment_id: String,
    /// The round that produced it.
    pub round_number: i64,
    /// Parameters, JSON text with sorted keys.
    pub parameters: String,
    /// What the optimizer reported.
    pub reported_performance: f64,
    /// The quorum median.
    pub verified_performance: f64,
    /// Its effective increment.
    pub effective_increment: f64,
    /// Seconds from the optimizer's experiment start to this result.
    pub time_to_this_result_seconds: f64,
    /// Hash of the optimizer's configuration.
    pub optimization_config_hash: String,
    /// Hash of the evaluation data.
    pub data_hash: String,
    /// The domain's best before this optimae (`None` for the first one seen).
    pub previous_best_performance: Option<f64>,
    /// The verification incentive's reward fraction.
    pub reward_fraction: f64,
    /// Fraction of quorum votes that agree with the median.
    pub quorum_agree_fraction: Option<f64>,
    /// Index of the block carrying it.
    pub block_height: i64,
    /// The block's timestamp (isoformat).
    pub block_timestamp: String,
}
