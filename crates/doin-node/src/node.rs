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
//!
//! Each component is launched by its own function (the crate's `launch` module) from the
//! typed config; every worker gets the node's stop token ([`crate::stop`]), which fires
//! before the runtime ends.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use doin_plugins::PluginRegistry;
use doin_primitives::identity::Identity;

use crate::api::BlockSource;
use crate::chain_service::ReaderPool;
use crate::config::NodeConfig;
use crate::inference::PaymentCheck;
use crate::launch;
use crate::migration::MigrantBoard;
use crate::peers::PeerSet;
use crate::stop::StopSignal;
use crate::task_queue::TaskQueue;
use crate::view::DomainBoard;

// Kept at its old path for callers; workers use `crate::stop` directly.
pub use crate::stop::stopping;

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

/// Where `chain.db` lives ([`NodeConfig::chain_db_path`]).
pub fn chain_db_path(config: &NodeConfig) -> PathBuf {
    config.chain_db_path()
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
    stop_tx: StopSignal,
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
/// through payment channels ([`crate::inference::ChannelPayment`]).
pub async fn start_with_plugins(
    config: NodeConfig,
    registry: PluginRegistry,
) -> anyhow::Result<RunningNode> {
    start_inner(config, registry, None).await
}

/// [`start_with_plugins`] with `payment` deciding whether inference requests are paid for
/// instead of [`crate::inference::ChannelPayment`] ([`crate::inference::FreeInference`] serves every
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
    let listener = bind(&mut config).await?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    if config.reset_chain {
        reset_chain(&config.data_dir)?;
    }
    let identity = Arc::new(Identity::load_or_generate(&config.identity_path())?);
    let clock = crate::clock::system();
    let checked = launch::chain::open_chain(&config, identity.peer_id()).await?;
    let (stop_tx, stop) = crate::stop::stop_signal();
    let stats = launch::stats::launch_stats(&config, &checked.db_path, &stop).await?;
    let chain =
        launch::chain::launch_chain(&config, checked, &identity, &stats.handle, clock.clone());
    let queue = Arc::new(TaskQueue::new());
    let board = DomainBoard::default();
    let runtime = tokio::runtime::Handle::current();
    let eval_domains = launch::workers::evaluator_domains(&config, &registry)?;
    let peers = PeerSet::new(&config.bootstrap_peers);
    let migrants = MigrantBoard::default();
    let (net, net_tasks) = crate::network::start(
        &config,
        identity.clone(),
        peers.clone(),
        chain.handle.clone(),
        migrants.clone(),
        stop.clone(),
        clock.clone(),
    )?;
    let shared = launch::Shared {
        config: &config,
        registry: &registry,
        params: &chain.params,
        identity: &identity,
        chain: &chain.handle,
        queue: &queue,
        board: &board,
        peers: &peers,
        net: &net,
        stats: &stats.handle,
        migrants: &migrants,
        stop: &stop,
        clock: &clock,
        runtime: &runtime,
    };
    let mut threads = Vec::new();
    threads.extend(launch::workers::launch_evaluator(&shared, eval_domains)?);
    threads.extend(launch::workers::launch_optimizers(&shared)?);
    let mut inference = launch::inference::launch_inference(&shared, payment)?;
    threads.extend(inference.thread.take());
    let blocks: Arc<dyn BlockSource> = Arc::new(ReaderPool::new(&chain.db_path));
    let sync = tokio::spawn(crate::peers::sync_loop(
        peers.clone(),
        chain.handle.clone(),
        blocks.clone(),
        stop.clone(),
    ));
    let server = launch::api::launch_api(&shared, listener, blocks, &inference);
    let retention = launch::inference::launch_retention(&config, &inference, &stop);
    let progress = tokio::spawn(crate::progress::run(
        board.clone(),
        chain.handle.watch(),
        stop.clone(),
    ));

    let mut tasks = vec![progress, sync];
    tasks.append(&mut inference.tasks);
    tasks.push(retention);
    tasks.extend(net_tasks);
    tasks.extend(chain.anchor_publisher);
    Ok(RunningNode {
        port: config.port,
        peer_id: identity.peer_id().to_owned(),
        peers,
        chain: chain.handle,
        stop_tx,
        threads,
        chain_thread: chain.thread,
        tasks,
        net,
        server,
        stats: stats.handle,
        pg_sync: stats.pg_sync,
    })
}

/// Listens on the configured host and port; with port 0, `config.port` becomes the port
/// the system chose.
async fn bind(config: &mut NodeConfig) -> anyhow::Result<tokio::net::TcpListener> {
    let addr = format!("{}:{}", config.host, config.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| {
            format!("cannot listen on {addr}: is another node using the port? (set --port)")
        })?;
    config.port = listener.local_addr()?.port();
    Ok(listener)
}
