//! Building a node's inference service and worker from its config.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use doin_plugins::PluginRegistry;
use tokio::sync::watch;

use super::{InferenceService, InferenceWorker, PaymentCheck, ServedDomain, FILE_NAME};
use crate::config::NodeConfig;
use crate::task_queue::TaskQueue;
use crate::view::ChainView;

/// What [`launch`] needs from the node.
pub struct Launch<'a> {
    /// The node's config (domains, roles, data directory).
    pub config: &'a NodeConfig,
    /// The chain's parameters (its domains).
    pub params: &'a doin_consensus::ChainParams,
    /// The plugins the node runs.
    pub registry: &'a PluginRegistry,
    /// This node's peer id.
    pub peer_id: &'a str,
    /// The node's task queue.
    pub queue: Arc<TaskQueue>,
    /// The chain's snapshots.
    pub chain: watch::Receiver<Arc<ChainView>>,
    /// Decides whether requests are paid for.
    pub payment: Arc<dyn PaymentCheck>,
    /// Fires at shutdown.
    pub stop: watch::Receiver<bool>,
}

/// Opens the service (its log in the data directory) and starts the `inference` thread
/// when the node serves any domain: those it evaluates.
pub fn launch(
    l: Launch<'_>,
) -> anyhow::Result<(Arc<InferenceService>, Option<std::thread::JoinHandle<()>>)> {
    let mut known: BTreeSet<String> = l
        .params
        .domains
        .iter()
        .map(|d| d.domain_id.clone())
        .collect();
    known.extend(l.config.domains.iter().map(|d| d.domain_id.clone()));
    let mut served = BTreeMap::new();
    let mut plugins = BTreeMap::new();
    for role in l.config.domains.iter().filter(|d| d.evaluate) {
        let plugin = crate::plugins::inference_plugin(l.registry, role)
            .with_context(|| format!("domain {}: inference plugin", role.domain_id))?;
        plugins.insert(role.domain_id.clone(), plugin);
        let secs = role.resource_limits.max_training_seconds;
        // A second instance checks inputs on the API's side; an external one would be a
        // second process, so its inputs are checked when they run.
        let validator = if doin_plugins::external::is_external_name(
            crate::plugins::inference_plugin_name(role),
        ) {
            None
        } else {
            Some(std::sync::Mutex::new(
                crate::plugins::inference_plugin(l.registry, role)
                    .with_context(|| format!("domain {}: inference plugin", role.domain_id))?,
            ))
        };
        served.insert(
            role.domain_id.clone(),
            ServedDomain {
                price: role.inference_price,
                time_limit: Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX),
                validator,
            },
        );
    }
    let path = l.config.data_dir.join(FILE_NAME);
    let service =
        InferenceService::open(&path, l.peer_id, l.queue, l.chain, known, served, l.payment)
            .with_context(|| format!("opening the inference log {}", path.display()))?;
    if plugins.is_empty() {
        return Ok((service, None));
    }
    let worker = InferenceWorker {
        service: service.clone(),
        plugins,
        stop: l.stop,
        runtime: tokio::runtime::Handle::current(),
        provenance: super::Provenance::new(l.config.chain_db_path()),
    };
    let thread = std::thread::Builder::new()
        .name("inference".into())
        .spawn(move || worker.run())?;
    Ok((service, Some(thread)))
}
