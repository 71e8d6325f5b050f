//! Launching the chain: `chain.db` opened and replayed, checked against the published
//! external anchors, then the chain service started with its anchor publisher.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use doin_consensus::anchor::AnchorSet;
use doin_consensus::params::ChainParams;
use doin_primitives::identity::Identity;

use crate::anchor::AnchorSinks;
use crate::chain_params::chain_params;
use crate::chain_service::{self, Anchoring, ChainHandle, ChainServiceConfig, OpenedChain};
use crate::clock::SharedClock;
use crate::config::NodeConfig;
use crate::mint_gate::MintGate;

/// The chain read from `chain.db` and checked against the published anchors, before its
/// service starts.
pub(crate) struct CheckedChain {
    /// The store's writer and the replayed state.
    pub(crate) opened: OpenedChain,
    /// The chain's parameters, from the config.
    pub(crate) params: ChainParams,
    /// Where `chain.db` is.
    pub(crate) db_path: PathBuf,
    /// The anchors read back from the sinks (enforced from now on).
    pub(crate) anchors: AnchorSet,
    /// Where new anchors go.
    pub(crate) sinks: AnchorSinks,
}

/// Opens and replays `chain.db`, then checks it against every anchor the sinks hold: a
/// chain that contradicts one is refused with what to do about it.
pub(crate) async fn open_chain(config: &NodeConfig, me: &str) -> anyhow::Result<CheckedChain> {
    let params = chain_params(config);
    let db_path = config.chain_db_path();
    let started = Instant::now();
    let opened = tokio::task::spawn_blocking({
        let db_path = db_path.clone();
        let params = params.clone();
        move || chain_service::open_chain(&db_path, &params)
    })
    .await??;
    tracing::info!(
        peer_id = %me,
        height = opened.state.height(),
        params_hash = %params.params_hash(),
        replay_ms = started.elapsed().as_millis() as u64,
        "chain opened from {}",
        db_path.display()
    );
    let chain_id = params.params_hash();
    let sinks = AnchorSinks::from_config(config);
    let anchors = sinks
        .load(&chain_id)
        .await
        .context("reading back the published anchors")?;
    if !anchors.is_empty() {
        let hashes = opened
            .store
            .block_hashes(0, opened.state.height() as i64)
            .context("reading the stored block hashes")?;
        let hashes: Vec<&str> = hashes.iter().map(|(_, h)| h.as_str()).collect();
        doin_consensus::anchor::check_chain(&anchors, &hashes).map_err(|e| {
            anyhow::anyhow!(
                "{} contradicts a published anchor: {e}; start with --reset-chain to sync a chain that agrees",
                db_path.display()
            )
        })?;
        tracing::info!(
            anchors = anchors.len(),
            last = anchors.last_height(),
            "published anchors enforced"
        );
    }
    if opened.state.is_solo() {
        tracing::info!(
            "solo chain: this node verifies its own optimae on independently seeded synthetic data"
        );
    }
    Ok(CheckedChain {
        opened,
        params,
        db_path,
        anchors,
        sinks,
    })
}

/// The running chain service and its anchor publisher.
pub(crate) struct ChainComponent {
    /// The service's handle.
    pub(crate) handle: ChainHandle,
    /// The service's thread.
    pub(crate) thread: std::thread::JoinHandle<()>,
    /// The task publishing anchors to the sinks, when the node creates anchors.
    pub(crate) anchor_publisher: Option<tokio::task::JoinHandle<()>>,
    /// The chain's parameters.
    pub(crate) params: ChainParams,
    /// Where `chain.db` is.
    pub(crate) db_path: PathBuf,
}

/// Starts the chain service over `chain`, recording blocks in `stats`, creating anchors
/// every `external_anchor_interval` blocks when sinks are configured, on `clock`, minting
/// once `mint_gate` opens.
pub(crate) fn launch_chain(
    config: &NodeConfig,
    chain: CheckedChain,
    identity: &Arc<Identity>,
    stats: &doin_stats::StatsHandle,
    clock: SharedClock,
    mint_gate: MintGate,
) -> ChainComponent {
    let CheckedChain {
        opened,
        params,
        db_path,
        anchors,
        sinks,
    } = chain;
    let mut anchoring = Anchoring {
        anchors,
        interval: u64::from(config.external_anchor_interval),
        publish: None,
    };
    let mut anchor_publisher = None;
    if anchoring.interval > 0 && !sinks.is_empty() {
        let (tx, rx) = tokio::sync::mpsc::channel(crate::anchor::PUBLISH_QUEUE);
        anchoring.publish = Some(tx);
        anchor_publisher = Some(tokio::spawn(crate::anchor::publish(
            sinks,
            params.params_hash(),
            identity.peer_id().to_string(),
            rx,
        )));
    }
    let (handle, thread) = chain_service::launch(
        opened,
        identity.clone(),
        ChainServiceConfig {
            stats: Some(stats.clone()),
            anchoring,
            mempool: crate::mempool::MempoolConfig {
                capacity: config.fee_config.mempool_size_limit.max(1),
                rate_limit: config.fee_config.rate_limit_max_tx,
            },
            clock,
            mint_gate,
        },
    );
    ChainComponent {
        handle,
        thread,
        anchor_publisher,
        params,
        db_path,
    }
}
