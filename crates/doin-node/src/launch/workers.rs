//! Launching the worker threads: the evaluator (one for every evaluating or optimizing
//! domain) and one optimizer loop per optimizing domain.

use std::collections::BTreeMap;

use anyhow::Context;
use doin_plugins::PluginRegistry;

use super::Shared;
use crate::config::NodeConfig;
use crate::evaluator::EvaluatorWorker;
use crate::optimizer_loop::OptimizerLoop;
use crate::plugins::{evaluator_plugins, optimizer_plugin, plugin_config, EvaluatorPlugins};

/// The evaluator plugins of every evaluating domain, and every optimizing one (its own
/// optimae are verified locally when the quorum falls back to the optimizer).
pub(crate) fn evaluator_domains(
    config: &NodeConfig,
    registry: &PluginRegistry,
) -> anyhow::Result<BTreeMap<String, EvaluatorPlugins>> {
    let mut domains = BTreeMap::new();
    for role in config.domains.iter().filter(|d| d.evaluate || d.optimize) {
        let plugins = evaluator_plugins(registry, role)
            .with_context(|| format!("domain {}: evaluator plugins", role.domain_id))?;
        domains.insert(role.domain_id.clone(), plugins);
    }
    Ok(domains)
}

/// Starts the evaluator thread over `domains` (none when there are none).
pub(crate) fn launch_evaluator(
    w: &Shared<'_>,
    domains: BTreeMap<String, EvaluatorPlugins>,
) -> anyhow::Result<Option<std::thread::JoinHandle<()>>> {
    if domains.is_empty() {
        return Ok(None);
    }
    let worker = EvaluatorWorker {
        identity: w.identity.clone(),
        queue: w.queue.clone(),
        domains,
        stop: w.stop.clone(),
        runtime: w.runtime.clone(),
        peers: w.peers.clone(),
        rules: w
            .params
            .domains
            .iter()
            .map(|d| (d.domain_id.clone(), d.clone()))
            .collect(),
        chain: Some(w.chain.clone()),
        clock: w.clock.clone(),
        p2p: w.p2p.cloned(),
        announced: w.announced_tasks.clone(),
        poll_interval: crate::evaluator::remote_poll(w.config.eval_poll_interval),
    };
    Ok(Some(
        std::thread::Builder::new()
            .name("evaluator".into())
            .spawn(move || worker.run())?,
    ))
}

/// The seed of this node's optimizer plugins, drawn from its peer id.
fn rng_seed_of(peer_id: &str) -> u64 {
    let d = doin_primitives::hash::sha256(peer_id.as_bytes());
    u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// Starts one optimizer loop thread per optimizing domain.
pub(crate) fn launch_optimizers(
    w: &Shared<'_>,
) -> anyhow::Result<Vec<std::thread::JoinHandle<()>>> {
    let me = w.identity.peer_id();
    let mut threads = Vec::new();
    for role in w.config.domains.iter().filter(|d| d.optimize) {
        let optimizer = optimizer_plugin(w.registry, role, rng_seed_of(me))
            .with_context(|| format!("domain {}: optimizer plugin", role.domain_id))?;
        let cfg = plugin_config(role, &role.optimization_config)
            .with_context(|| format!("domain {}: optimization_config", role.domain_id))?;
        let round_interval = role
            .optimization_config
            .get("round_interval_seconds")
            .and_then(serde_json::Value::as_f64)
            .filter(|s| s.is_finite() && *s >= 0.0)
            .unwrap_or(0.0);
        let lp = OptimizerLoop {
            domain_id: role.domain_id.clone(),
            optimizer,
            higher_is_better: role.higher_is_better,
            target_performance: role.target_performance,
            round_interval,
            optimization_config_hash: doin_primitives::hash::content_id(
                &doin_primitives::value::Value::Object(cfg),
            ),
            identity: w.identity.clone(),
            chain: w.chain.clone(),
            queue: w.queue.clone(),
            board: w.board.clone(),
            stop: w.stop.clone(),
            runtime: w.runtime.clone(),
            peers: w.peers.clone(),
            net: Some(w.broadcast.clone()),
            quorum_timeout: crate::proposal_cycle::quorum_wait(w.config.eval_poll_interval),
            stats: Some(crate::stats::LoopStats::new(w.stats.clone(), role, me)),
            migrants: w.migrants.clone(),
            clock: w.clock.clone(),
        };
        threads.push(
            std::thread::Builder::new()
                .name(format!("optimize:{}", role.domain_id))
                .spawn(move || lp.run())?,
        );
    }
    Ok(threads)
}
