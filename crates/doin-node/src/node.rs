//! Node assembly: opens the chain, starts the chain service, the evaluator worker, one
//! optimizer loop per optimizing domain, the HTTP API and the progress lines, then waits
//! for SIGINT/SIGTERM and shuts everything down within a few seconds.
//!
//! Bird's eye view of what runs:
//! * thread `chain` — [`crate::chain_service`]: store writer + consensus state;
//! * thread `evaluator` — [`crate::evaluator`]: pulls verification tasks;
//! * thread `inference` — [`crate::inference`]: serves inference requests;
//! * thread `optimize:<domain>` — [`crate::optimizer_loop`], one per optimizing domain;
//! * tokio tasks — the HTTP server ([`crate::http_server`] serving [`crate::api`]),
//!   [`crate::progress`] and the inference log's retention.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use doin_plugins::PluginRegistry;
use doin_primitives::identity::Identity;
use tokio::sync::watch;

use crate::api::{self, ApiState, DomainInfo, NodeInfo};
use crate::chain_params::chain_params;
use crate::chain_service::{self, ReaderPool};
use crate::config::NodeConfig;
use crate::evaluator::EvaluatorWorker;
use crate::inference::{ChannelPayment, PaymentCheck};
use crate::optimizer_loop::OptimizerLoop;
use crate::plugins::{evaluator_plugins, optimizer_plugin, plugin_config};
use crate::task_queue::TaskQueue;
use crate::view::DomainBoard;

/// How long shutdown may take before the node exits anyway (SQLite is crash-safe).
const SHUTDOWN_BUDGET: Duration = Duration::from_millis(4500);

/// Files `--reset-chain` deletes from the data directory.
const CHAIN_FILES: [&str; 6] = [
    "chain.db",
    "chain.db-wal",
    "chain.db-shm",
    "olap.db",
    "olap.db-wal",
    "olap.db-shm",
];

/// Where `chain.db` lives.
pub fn chain_db_path(config: &NodeConfig) -> PathBuf {
    if config.db_path.is_empty() {
        config.data_dir.join("chain.db")
    } else {
        PathBuf::from(&config.db_path)
    }
}

fn reset_chain(data_dir: &Path) -> anyhow::Result<()> {
    for name in CHAIN_FILES {
        let p = data_dir.join(name);
        if p.exists() {
            std::fs::remove_file(&p)
                .with_context(|| format!("--reset-chain: removing {}", p.display()))?;
        }
    }
    Ok(())
}

fn rng_seed_of(peer_id: &str) -> u64 {
    let d = doin_primitives::hash::sha256(peer_id.as_bytes());
    u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// Whether a component should stop: shutdown was asked for, or the node that owns the
/// signal is gone.
pub fn stopping(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

/// Waits for SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Runs the node until SIGINT/SIGTERM.
pub async fn run(config: NodeConfig) -> anyhow::Result<()> {
    let node = start(config).await?;
    shutdown_signal().await;
    node.shutdown().await;
    Ok(())
}

/// A node started in this process (the binary runs one; tests run several).
pub struct RunningNode {
    /// The HTTP port it listens on (the real one when the config asked for port 0).
    pub port: u16,
    /// Its peer id.
    pub peer_id: String,
    /// Its peer endpoints.
    pub peers: crate::peers::PeerSet,
    /// Its chain service.
    pub chain: crate::chain_service::ChainHandle,
    /// Its network service.
    pub net: doin_net::service::NetHandle,
    stop_tx: watch::Sender<bool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    chain_thread: std::thread::JoinHandle<()>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    stats: doin_stats::StatsHandle,
    pg_sync: Option<std::thread::JoinHandle<()>>,
}

impl RunningNode {
    /// The `host:port` other nodes reach it at on loopback.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops every component; returns within about [`SHUTDOWN_BUDGET`].
    pub async fn shutdown(self) {
        tracing::info!("shutting down");
        let deadline = Instant::now() + SHUTDOWN_BUDGET;
        let _ = self.stop_tx.send(true);
        self.net.shutdown().await;
        drop(self.chain);
        let threads = self.threads;
        let chain_thread = self.chain_thread;
        let joined = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
            let _ = chain_thread.join();
        });
        let remaining = deadline.saturating_duration_since(Instant::now());
        if tokio::time::timeout(remaining, joined).await.is_err() {
            tracing::warn!("components did not stop within {SHUTDOWN_BUDGET:?}; exiting anyway (the chain store is crash-safe)");
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        let _ = tokio::time::timeout(remaining, self.server).await;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let stats = self.stats;
        let flushed = tokio::task::spawn_blocking(move || stats.flush_timeout(remaining));
        if !matches!(flushed.await, Ok(Ok(()))) {
            tracing::warn!("experiment stats not flushed in time (the CSV has every round)");
        }
        drop(self.pg_sync);
        for t in self.tasks {
            t.abort();
        }
        tracing::info!("stopped");
    }
}

/// Starts every component of a node and returns once its API listens.
pub async fn start(config: NodeConfig) -> anyhow::Result<RunningNode> {
    start_with_plugins(config, PluginRegistry::with_builtins()).await
}

/// [`start`] with the plugins of `registry` instead of the built-in ones (an embedding
/// application's own domains, or a test's deliberately faulty plugins). Inference is paid
/// through payment channels ([`ChannelPayment`]).
pub async fn start_with_plugins(
    config: NodeConfig,
    registry: PluginRegistry,
) -> anyhow::Result<RunningNode> {
    start_inner(config, registry, None).await
}

/// [`start_with_plugins`] with `payment` deciding whether inference requests are paid for
/// instead of [`ChannelPayment`] ([`crate::inference::FreeInference`] serves every
/// request free).
pub async fn start_with_payment(
    config: NodeConfig,
    registry: PluginRegistry,
    payment: Arc<dyn PaymentCheck>,
) -> anyhow::Result<RunningNode> {
    start_inner(config, registry, Some(payment)).await
}

async fn start_inner(
    mut config: NodeConfig,
    registry: PluginRegistry,
    payment: Option<Arc<dyn PaymentCheck>>,
) -> anyhow::Result<RunningNode> {
    let addr = format!("{}:{}", config.host, config.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| {
            format!("cannot listen on {addr}: is another node using the port? (set --port)")
        })?;
    config.port = listener.local_addr()?.port();
    let addr = format!("{}:{}", config.host, config.port);
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    if config.reset_chain {
        reset_chain(&config.data_dir)?;
    }
    let identity = Arc::new(Identity::load_or_generate(&config.identity_path())?);
    let me = identity.peer_id().to_owned();
    let params = chain_params(&config);
    let db_path = chain_db_path(&config);
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
    let sinks = crate::anchor::AnchorSinks::from_config(&config);
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

    // Experiment stats: CSV + OLAP, caught up with the stored chain before new blocks come.
    let stats = crate::stats::open(&config)?;
    let caught_up = tokio::task::spawn_blocking({
        let stats = stats.clone();
        let db_path = db_path.clone();
        move || crate::stats::catch_up(&stats, &db_path)
    })
    .await??;
    tracing::info!(blocks_read = caught_up, olap = %stats.olap_path().display(), csv = %config.stats_file_path().display(), "experiment stats open");

    let (stop_tx, stop) = watch::channel(false);
    let pg_sync = crate::stats::spawn_pg_sync(&config, stop.clone())?;
    let mut anchoring = chain_service::Anchoring {
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
            chain_id,
            me.clone(),
            rx,
        )));
    }
    let (chain, chain_thread) = chain_service::spawn_with(
        opened,
        identity.clone(),
        Some(stats.clone()),
        anchoring,
        crate::mempool::MempoolConfig {
            capacity: config.fee_config.mempool_size_limit.max(1),
            rate_limit: config.fee_config.rate_limit_max_tx,
        },
    );
    let queue = Arc::new(TaskQueue::new());
    let board = DomainBoard::default();
    let runtime = tokio::runtime::Handle::current();

    // Evaluator worker: every evaluating domain, and every optimizing one (its own optimae
    // are verified locally when the quorum falls back to the optimizer).
    let mut eval_domains = BTreeMap::new();
    for role in config.domains.iter().filter(|d| d.evaluate || d.optimize) {
        let plugins = evaluator_plugins(&registry, role)
            .with_context(|| format!("domain {}: evaluator plugins", role.domain_id))?;
        eval_domains.insert(role.domain_id.clone(), plugins);
    }
    let peers = crate::peers::PeerSet::new(&config.bootstrap_peers);
    let migrants = crate::migration::MigrantBoard::default();
    let (net, net_tasks) = crate::network::start(
        &config,
        identity.clone(),
        peers.clone(),
        chain.clone(),
        migrants.clone(),
        stop.clone(),
    )?;
    let mut threads = Vec::new();
    if !eval_domains.is_empty() {
        let worker = EvaluatorWorker {
            identity: identity.clone(),
            queue: queue.clone(),
            domains: eval_domains,
            stop: stop.clone(),
            runtime: runtime.clone(),
            peers: peers.clone(),
            rules: params
                .domains
                .iter()
                .map(|d| (d.domain_id.clone(), d.clone()))
                .collect(),
            chain: Some(chain.clone()),
        };
        threads.push(
            std::thread::Builder::new()
                .name("evaluator".into())
                .spawn(move || worker.run())?,
        );
    }
    for role in config.domains.iter().filter(|d| d.optimize) {
        let optimizer = optimizer_plugin(&registry, role, rng_seed_of(&me))
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
            identity: identity.clone(),
            chain: chain.clone(),
            queue: queue.clone(),
            board: board.clone(),
            stop: stop.clone(),
            runtime: runtime.clone(),
            peers: peers.clone(),
            net: Some(net.clone()),
            quorum_timeout: crate::optimizer_loop::quorum_timeout(config.eval_poll_interval),
            stats: Some(crate::stats::LoopStats::new(stats.clone(), role, &me)),
            migrants: migrants.clone(),
        };
        threads.push(
            std::thread::Builder::new()
                .name(format!("optimize:{}", role.domain_id))
                .spawn(move || lp.run())?,
        );
    }

    let (inference, inference_thread) = crate::inference::launch(crate::inference::Launch {
        config: &config,
        params: &params,
        registry: &registry,
        peer_id: &me,
        queue: queue.clone(),
        chain: chain.watch(),
        payment: payment.unwrap_or_else(|| {
            Arc::new(ChannelPayment::new(&me, chain.downgrade(), runtime.clone()))
        }),
        stop: stop.clone(),
    })?;
    threads.extend(inference_thread);
    // The receiver's side of paid inference: closes on request, disputes and settles.
    let settlement = crate::inference::settlement::Settlement::new(
        identity.clone(),
        chain.downgrade(),
        chain.watch(),
        inference.clone(),
    );
    let watcher = tokio::spawn(settlement.clone().run(stop.clone()));

    let info = NodeInfo {
        peer_id: me.clone(),
        port: config.port,
        storage_backend: "sqlite".into(),
        network_protocol: config.network_protocol.clone(),
        fee_market_enabled: true,
        domains: config
            .domains
            .iter()
            .map(|d| DomainInfo {
                domain_id: d.domain_id.clone(),
                optimize: d.optimize,
                evaluate: d.evaluate,
                synthetic: d.has_synthetic_data,
                target_performance: d.target_performance,
            })
            .collect(),
        fleet_nodes: config.fleet_nodes.clone(),
        started: Some(std::time::Instant::now()),
    };
    let blocks: Arc<dyn crate::api::BlockSource> = Arc::new(ReaderPool::new(&db_path));
    let sync = tokio::spawn(crate::peers::sync_loop(
        peers.clone(),
        chain.clone(),
        blocks.clone(),
        stop.clone(),
    ));
    let api_state = ApiState {
        chain: chain.watch(),
        blocks,
        peers: peers.clone(),
        net: Some(net.clone()),
        tasks: queue.clone(),
        board: board.clone(),
        info: Arc::new(info),
        stats: Some(stats.clone()),
        chain_service: Some(chain.downgrade()),
    };
    tracing::info!("HTTP API on http://{addr} (peer id {me})");
    let retention = tokio::spawn(crate::inference::enforce_retention(
        inference.clone(),
        config.inference_retention.clone(),
        stop.clone(),
    ));
    let app = api::app(api_state, Some((inference, settlement)))
        // gzip for clients that ask (`/chain/blocks` pages to syncing nodes); the fastest
        // level, as sync is CPU-bound on a fast link (benches/chain_pages.rs).
        .layer(
            tower_http::compression::CompressionLayer::new()
                .quality(tower_http::CompressionLevel::Fastest),
        );
    let server = tokio::spawn(crate::http_server::serve(
        listener,
        app,
        config.http_limits.clone(),
        stop.clone(),
    ));
    let progress = tokio::spawn(crate::progress::run(
        board.clone(),
        chain.watch(),
        stop.clone(),
    ));

    Ok(RunningNode {
        port: config.port,
        peer_id: me,
        peers,
        chain,
        stop_tx,
        threads,
        chain_thread,
        tasks: {
            let mut t = vec![progress, sync, watcher, retention];
            t.extend(net_tasks);
            t.extend(anchor_publisher);
            t
        },
        net,
        server,
        stats,
        pg_sync,
    })
}
