//! Launching paid inference: the inference worker and its request log
//! ([`crate::inference::launch`]), the receiver's settlement of payment channels with its
//! watcher, and the log's retention.

use std::sync::Arc;

use super::Shared;
use crate::config::NodeConfig;
use crate::inference::settlement::Settlement;
use crate::inference::{ChannelPayment, InferenceService, PaymentCheck};
use crate::stop::StopToken;

/// The running inference component.
pub(crate) struct InferenceComponent {
    /// The inference service (the API's `/inference` routes).
    pub(crate) service: Arc<InferenceService>,
    /// The receiver's side of paid inference (the API's `/inference/channels` routes).
    pub(crate) settlement: Settlement,
    /// The inference worker's thread, when the node serves a domain.
    pub(crate) thread: Option<std::thread::JoinHandle<()>>,
    /// The settlement watcher and the log's retention.
    pub(crate) tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Starts inference for the evaluating domains, paid through `payment` (payment channels,
/// [`ChannelPayment`], when `None`).
pub(crate) fn launch_inference(
    w: &Shared<'_>,
    payment: Option<Arc<dyn PaymentCheck>>,
) -> anyhow::Result<InferenceComponent> {
    let Shared {
        config,
        params,
        registry,
        identity,
        queue,
        chain,
        stop,
        ..
    } = *w;
    let me = identity.peer_id();
    let runtime = tokio::runtime::Handle::current();
    let (service, thread) = crate::inference::launch(crate::inference::Launch {
        config,
        params,
        registry,
        peer_id: me,
        queue: queue.clone(),
        chain: chain.watch(),
        payment: payment.unwrap_or_else(|| {
            Arc::new(ChannelPayment::new(me, chain.downgrade(), runtime.clone()))
        }),
        stop: stop.clone(),
    })?;
    // The receiver's side of paid inference: closes on request, disputes and settles.
    let settlement = Settlement::new(
        identity.clone(),
        chain.downgrade(),
        chain.watch(),
        service.clone(),
    );
    let watcher = tokio::spawn(settlement.clone().run(stop.clone()));
    Ok(InferenceComponent {
        service,
        settlement,
        thread,
        tasks: vec![watcher],
    })
}

/// Starts the inference log's retention ([`crate::inference::enforce_retention`]).
pub(crate) fn launch_retention(
    config: &NodeConfig,
    inference: &InferenceComponent,
    stop: &StopToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(crate::inference::enforce_retention(
        inference.service.clone(),
        config.inference_retention.clone(),
        stop.clone(),
    ))
}
