//! Time to target for 1, 2 and 4 in-process nodes with the same budget per node (one
//! optimizer round every `round_interval` each), and the speed-up, on three races. Nodes
//! cooperate through the chain (island migration: every optimizer starts each round from
//! the best point it knows: its own, the chain's best optimae, or another node's newest
//! reveal re-measured by its optimizer, `doin_node::migration`). Each node runs rounds at
//! the solo node's rate whether or not its quorum has voted (`doin_node::proposal_cycle`):
//! more nodes mean more search in total, not more per node.
//!
//! Sharing is bounded by commit-before-reveal: a node's improvement reaches the others only
//! once its commitment is in a block (a work block a tenth of a target block time after
//! its parent at the soonest, a commitment block one target block time after it), so
//! cooperation pays when a round takes longer than that wait, as a round of a real model
//! does:
//! * `quadratic`: 20 parameters, one evaluation a round every 150 ms (`trials_per_step`
//!   1), 0.3 s blocks: commitments land in about 0.1 s, within a round, and the nodes
//!   search in parallel. Target: 4 nodes at least 2.5x sooner than 1.
//! * `quadratic-fast`: 30 parameters, four evaluations a round every 50 ms, 1 s blocks:
//!   a commitment lands two to ten rounds after its improvement, by when the node that
//!   made it is that far ahead, and the others mostly repeat its search. Printed to show
//!   the bound, not as the target.
//! * `wine`: the domain's larger search space (`"feature_selection": true`: the three
//!   ridge hyperparameters and a weight in `[0, 1]` per measurement, 14 parameters) with
//!   the default (1+1) strategy, to target -0.395 on chain. The race ends on the chain's
//!   best: each verification scores on folds drawn from an evaluator's seed, about 0.003
//!   below the optimizer's own folds and scattered by about 10^-3, and an optimae is
//!   accepted only if its verified score beats the chain's. Near the target the
//!   optimizers' real improvements are smaller than that scatter, so the chain's best, the
//!   highest verification so far, stops moving: a solo run either meets the target within
//!   seconds or stalls. Differential evolution (`"optimizer": "differential_evolution"`)
//!   searches better offline (`cargo bench -p doin-plugins --bench wine_search`), but
//!   raced to -0.392 on chain it stalled solo on the same verification noise. Its blocks
//!   need sums of 10^-5, as the last improvements toward the target are that small.
//!
//! * `mlp`: the neural-network domain (`wine_mlp`): the training hyperparameters of a
//!   one-hidden-layer MLP trained with candle, narrowed to small networks and short
//!   trainings (up to 12 hidden units and 60 AdamW steps, a fraction of a second per
//!   five-fold evaluation), one evaluation a round every 200 ms, to target -0.42 on chain,
//!   with the domain's quorum tolerance (0.1). A round is CPU-bound: on two cores, eight
//!   in-process nodes share the cores, so the budget per node is the same round interval
//!   but not the same CPU time once the nodes outnumber the cores.
//!
//! A run that does not reach its target within [`RUN_LIMIT`] (or `DOIN_BENCH_RUN_LIMIT`
//! seconds) counts as that long and is reported. `DOIN_BENCH_RUNS` (default 2) runs per setting; `DOIN_BENCH_DOMAINS` (default
//! `quadratic,quadratic-fast,wine,mlp`) picks the races, `DOIN_BENCH_NODES` (default `1,2,4`)
//! the node counts; `DOIN_BENCH_BLOCK_TIME` and `DOIN_BENCH_ROUND` override every race's
//! block time and round interval.

use std::time::{Duration, Instant};

use doin_node::config::NodeConfig;
use doin_node::testnet::TestNet;

/// How long a run may take before it is reported as not reaching the target
/// (`DOIN_BENCH_RUN_LIMIT` seconds overrides it).
const RUN_LIMIT: Duration = Duration::from_secs(150);

/// [`RUN_LIMIT`], or `DOIN_BENCH_RUN_LIMIT` seconds.
fn run_limit() -> Duration {
    env_f64("DOIN_BENCH_RUN_LIMIT")
        .filter(|s| *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(RUN_LIMIT)
}

/// A domain to race on.
struct Race {
    /// What `DOIN_BENCH_DOMAINS` calls it.
    name: &'static str,
    /// Domain id in the config.
    domain: &'static str,
    /// What the figures say it is.
    label: &'static str,
    /// The chain best that ends a run.
    target: f64,
    /// The initial block threshold: the sum of increments (improvements relative to
    /// `max(|best|, 1)`) a block needs. The wine metric moves by 0.25 in all, so its
    /// blocks need small sums.
    threshold: f64,
    /// The chain's `target_block_time`, seconds.
    block_time: f64,
    /// Each node's `round_interval_seconds`: its budget.
    round_interval: f64,
    /// The chain's `quorum_tolerance`.
    tolerance: f64,
    /// Sets up the domain's role in a config.
    setup: fn(&mut doin_node::config::DomainRole),
}

const RACES: [Race; 4] = [
    Race {
        name: "quadratic",
        domain: "quadratic",
        label: "quadratic (20 params, one evaluation a round every 150 ms, 0.3 s blocks, target -2.0)",
        target: -2.0,
        threshold: 0.01,
        block_time: 0.3,
        round_interval: 0.15,
        tolerance: 0.05,
        setup: |d| {
            d.optimization_config
                .insert("n_params".into(), serde_json::json!(20));
            d.optimization_config
                .insert("trials_per_step".into(), serde_json::json!(1));
        },
    },
    Race {
        name: "quadratic-fast",
        domain: "quadratic",
        label: "quadratic, latency-bound (30 params, four evaluations a round every 50 ms, 1 s blocks, target -2.0)",
        target: -2.0,
        threshold: 0.01,
        block_time: 1.0,
        round_interval: 0.05,
        tolerance: 0.05,
        setup: |d| {
            d.optimization_config
                .insert("n_params".into(), serde_json::json!(30));
        },
    },
    Race {
        name: "wine",
        domain: "wine",
        label: "wine quality (ridge + 11 feature weights, 10-fold CV, target neg_cv_mse -0.395)",
        target: -0.395,
        threshold: 0.00001,
        block_time: 1.0,
        round_interval: 0.05,
        tolerance: 0.05,
        setup: |d| {
            d.domain_id = "wine".into();
            d.optimization_plugin = doin_plugins::wine::NAME.into();
            d.inference_plugin = doin_plugins::wine::NAME.into();
            d.synthetic_data_plugin = doin_plugins::wine::NAME.into();
            d.param_bounds.clear();
            d.optimization_config = serde_json::json!({"seed": 7, "feature_selection": true})
                .as_object()
                .cloned()
                .unwrap_or_default();
        },
    },
    Race {
        name: "mlp",
        domain: "wine_mlp",
        label: "neural network (MLP, candle, 5-fold CV; up to 12 hidden units and 60 AdamW steps; target neg_cv_mse -0.42)",
        target: -0.42,
        threshold: 0.001,
        block_time: 1.0,
        round_interval: 0.2,
        tolerance: doin_plugins::mlp::QUORUM_TOLERANCE,
        setup: |d| {
            d.domain_id = "wine_mlp".into();
            d.optimization_plugin = doin_plugins::mlp::NAME.into();
            d.inference_plugin = doin_plugins::mlp::NAME.into();
            d.synthetic_data_plugin = doin_plugins::mlp::NAME.into();
            d.param_bounds.clear();
            d.optimization_config = serde_json::json!({
                "seed": 7,
                "param_bounds": {"hidden": [2, 12], "steps": [10, 60]},
            })
            .as_object()
            .cloned()
            .unwrap_or_default();
        },
    },
];

/// `DOIN_BENCH_BLOCK_TIME` / `DOIN_BENCH_ROUND` override every race's block time / round
/// interval, to explore how cooperation depends on them.
fn env_f64(key: &str) -> Option<f64> {
    std::env::var(key).ok().and_then(|s| s.parse().ok())
}

fn config(race: &Race, nodes: usize) -> NodeConfig {
    let mut c = NodeConfig::embedded_default();
    c.quorum_min_evaluators = if nodes == 1 { 0 } else { 1 };
    c.eval_poll_interval = 1.0;
    c.initial_threshold = race.threshold;
    c.quorum_tolerance = race.tolerance;
    c.target_block_time = env_f64("DOIN_BENCH_BLOCK_TIME").unwrap_or(race.block_time);
    let round = env_f64("DOIN_BENCH_ROUND").unwrap_or(race.round_interval);
    for d in &mut c.domains {
        (race.setup)(d);
        d.target_performance = Some(race.target);
        d.optimization_config
            .insert("round_interval_seconds".into(), serde_json::json!(round));
    }
    c
}

/// The time from starting the nodes to the target on chain, or `None` past [`run_limit`].
fn time_to_target(race: &Race, nodes: usize) -> Option<Duration> {
    doin_node::testnet::runtime().block_on(async {
        let started = Instant::now();
        let net = TestNet::start(nodes, &config(race, nodes))
            .await
            .expect("network");
        let reached = net
            .wait_for(run_limit(), "the target on chain", |v| {
                v.iter().any(|v| {
                    v.domain_best
                        .get(race.domain)
                        .is_some_and(|b| *b >= race.target)
                })
            })
            .await;
        let took = started.elapsed();
        net.shutdown().await;
        match reached {
            Ok(_) => Some(took),
            Err(e) => {
                println!("  {nodes} node(s): {e}");
                None
            }
        }
    })
}

/// The node counts to race: `DOIN_BENCH_NODES` (default `1,2,4`; the speed-ups are over the
/// first).
fn node_counts() -> Vec<usize> {
    std::env::var("DOIN_BENCH_NODES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| vec![1, 2, 4])
}

fn main() {
    let runs: usize = std::env::var("DOIN_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2)
        .max(1);
    let domains = std::env::var("DOIN_BENCH_DOMAINS")
        .unwrap_or_else(|_| "quadratic,quadratic-fast,wine,mlp".into());
    for race in RACES
        .iter()
        .filter(|r| domains.split(',').any(|d| d == r.name))
    {
        let mut results = Vec::new();
        for nodes in node_counts() {
            let mut times: Vec<f64> = (0..runs)
                .map(|_| {
                    time_to_target(race, nodes)
                        .unwrap_or_else(run_limit)
                        .as_secs_f64()
                })
                .collect();
            times.sort_by(f64::total_cmp);
            let median = times[times.len() / 2];
            println!(
                "{}, {nodes} node(s): median time to target {median:.1} s over {runs} runs {times:.1?}",
                race.label
            );
            results.push((nodes, median));
        }
        let base = results[0].1;
        for (nodes, t) in &results[1..] {
            println!(
                "{}: speed-up with {nodes} nodes: {:.2}x",
                race.name,
                base / t
            );
        }
    }
}
