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
//! before the runtime ends, and the node's clock ([`crate::clock`]: the system's, unless
//! [`NodeBuilder::clock`] swaps one in).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use doin_plugins::PluginRegistry;
use doin_primitives::identity::Identity;

use crate::block_source::BlockSource;
use crate::chain_service::ReaderPool;
use crate::clock::SharedClock;
use crate::config::NodeConfig;
use crate::inference::PaymentCheck;
use crate::launch;
use crate::migration::MigrantBoard;
use crate::mint_gate::MintGate;
use crate::optimizer_loop::PEER_WAIT;
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
    /// Its libp2p transport (`None` when `listen_addrs` is `[]`).
    pub p2p: Option<doin_net::p2p::P2pHandle>,
    p2p_task: Option<tokio::task::JoinHandle<()>>,
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
        if let Some(p2p) = &self.p2p {
            p2p.shutdown().await;
        }
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
        if let Some(task) = self.p2p_task {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(remaining, task).await.is_err() {
                tracing::warn!("the libp2p task did not stop in time");
            }
        }
        for t in self.tasks {
            t.abort();
        }
        tracing::info!("stopped");
    }
}

/// Starts every component of a node and returns once its API listens.
pub async fn start(config: NodeConfig) -> anyhow::Result<RunningNode> {
    NodeBuilder::new(config).start().await
}

/// [`start`] with the plugins of `registry` instead of the built-in ones (an embedding
/// application's own domains, or a test's deliberately faulty plugins). Inference is paid
/// through payment channels ([`crate::inference::ChannelPayment`]).
pub async fn start_with_plugins(
    config: NodeConfig,
    registry: PluginRegistry,
) -> anyhow::Result<RunningNode> {
    NodeBuilder::new(config).plugins(registry).start().await
}

/// [`start_with_plugins`] with `payment` deciding whether inference requests are paid for
/// instead of [`crate::inference::ChannelPayment`] ([`crate::inference::FreeInference`]
/// serves every request free).
pub async fn start_with_payment(
    config: NodeConfig,
    registry: PluginRegistry,
    payment: Arc<dyn PaymentCheck>,
) -> anyhow::Result<RunningNode> {
    NodeBuilder::new(config)
        .plugins(registry)
        .payment(payment)
        .start()
        .await
}

/// A node to start: its config, and the parts an embedding application or a test swaps in
/// (by default the built-in plugins, inference paid through payment channels, and the
/// system clock).
pub struct NodeBuilder {
    config: NodeConfig,
    registry: PluginRegistry,
    payment: Option<Arc<dyn PaymentCheck>>,
    clock: SharedClock,
}

impl NodeBuilder {
    /// A node from `config` with the defaults.
    pub fn new(config: NodeConfig) -> Self {
        NodeBuilder {
            config,
            registry: PluginRegistry::with_builtins(),
            payment: None,
            clock: crate::clock::system(),
        }
    }

    /// Runs the plugins of `registry` instead of the built-in ones.
    pub fn plugins(mut self, registry: PluginRegistry) -> Self {
        self.registry = registry;
        self
    }

    /// Decides with `payment` whether inference requests are paid for.
    pub fn payment(mut self, payment: Arc<dyn PaymentCheck>) -> Self {
        self.payment = Some(payment);
        self
    }

    /// Reads protocol time from `clock` (a [`crate::clock::ManualClock`] in a test).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Starts every component and returns once the API listens.
    pub async fn start(self) -> anyhow::Result<RunningNode> {
        start_inner(self).await
    }
}

async fn start_inner(node: NodeBuilder) -> anyhow::Result<RunningNode> {
    install_tls_provider();
    let NodeBuilder {
        mut config,
        registry,
        payment,
        clock,
    } = node;
    // Read before `bind` gives port 0 its real number: port 0 means a port of libp2p's own.
    let p2p_listen = config
        .p2p_listen_addrs()
        .map_err(|e| anyhow::anyhow!("config: {e}"))?;
    let listener = bind(&mut config).await?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    if config.reset_chain {
        reset_chain(&config.data_dir)?;
    }
    let identity = Arc::new(Identity::load_or_generate(&config.identity_path())?);
    // Before anything else runs, so that an address already in use fails the start.
    let p2p_node = launch::p2p::start_p2p(&config, &identity, p2p_listen).await?;
    let checked = launch::chain::open_chain(&config, identity.peer_id()).await?;
    let (stop_tx, stop) = crate::stop::stop_signal();
    let stats = launch::stats::launch_stats(&config, &checked.db_path, &stop).await?;
    let queue = Arc::new(TaskQueue::new());
    let board = DomainBoard::default();
    let runtime = tokio::runtime::Handle::current();
    let eval_domains = launch::workers::evaluator_domains(&config, &registry)?;
    // The peers to sync from first: HTTP ones, and the libp2p ones when libp2p runs (an
    // optimizer waits for one sync before it starts, rather than racing on its own chain).
    let mut initial_peers = config.http_bootstrap();
    if p2p_node.is_some() {
        initial_peers.extend(
            config
                .p2p_bootstrap_peers()
                .iter()
                .map(crate::p2p::endpoint_of),
        );
    }
    let peers = PeerSet::new(&initial_peers);
    // A node with peers to sync from mints once it has caught up with them (or waited long
    // enough): a joining node must not build a branch of its own meanwhile.
    // A relay (no domain optimized or evaluated here) never mints: a block's generator is
    // drawn into quorums it would never answer.
    let serves_a_domain = config.domains.iter().any(|d| d.optimize || d.evaluate);
    let mint_gate = if !serves_a_domain {
        MintGate::never()
    } else if peers.endpoints().is_empty() {
        MintGate::open()
    } else {
        MintGate::after_first_sync(peers.first_contact(), clock.now_micros(), PEER_WAIT)
    };
    let chain = launch::chain::launch_chain(
        &config,
        checked,
        &identity,
        &stats.handle,
        clock.clone(),
        mint_gate,
    );
    let migrants = MigrantBoard::default();
    let announced_tasks = crate::announced_tasks::AnnouncedTasks::new(
        identity.peer_id(),
        eval_domains.keys().cloned(),
    );
    let blocks: Arc<dyn BlockSource> = Arc::new(ReaderPool::new(&chain.db_path));
    let (p2p_wiring, p2p) = match p2p_node {
        Some(node) => {
            let parts = launch::p2p::P2pParts {
                peers: &peers,
                chain: &chain.handle,
                blocks: &blocks,
                queue: &queue,
                clock: &clock,
                stop: &stop,
                accept_unsigned: config.accept_unsigned_messages,
            };
            let (wiring, launched) = launch::p2p::wire_p2p(node, parts);
            (Some(wiring), Some(launched))
        }
        None => (None, None),
    };
    let started = crate::network::start(
        &config,
        identity.clone(),
        peers.clone(),
        chain.handle.clone(),
        crate::network::Announcements {
            migrants: migrants.clone(),
            tasks: announced_tasks.clone(),
        },
        stop.clone(),
        clock.clone(),
        p2p_wiring,
    )?;
    let p2p_handle = p2p.as_ref().map(|l| l.handle.clone());
    let net = started.net;
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
        broadcast: &started.broadcast,
        p2p: p2p_handle.as_ref(),
        stats: &stats.handle,
        migrants: &migrants,
        announced_tasks: &announced_tasks,
        stop: &stop,
        clock: &clock,
        runtime: &runtime,
    };
    let mut threads = Vec::new();
    threads.extend(launch::workers::launch_evaluator(&shared, eval_domains)?);
    threads.extend(launch::workers::launch_optimizers(&shared)?);
    let mut inference = launch::inference::launch_inference(&shared, payment)?;
    threads.extend(inference.thread.take());
    let sync = tokio::spawn(crate::peers::sync_loop(
        peers.clone(),
        chain.handle.clone(),
        blocks.clone(),
        p2p_handle.clone(),
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
    tasks.extend(started.tasks);
    let p2p_task = p2p.map(|l| {
        tasks.push(l.events);
        l.task
    });
    tasks.extend(chain.anchor_publisher);
    Ok(RunningNode {
        port: config.port,
        peer_id: identity.peer_id().to_string(),
        peers,
        chain: chain.handle,
        stop_tx,
        threads,
        chain_thread: chain.thread,
        tasks,
        net,
        p2p: p2p_handle,
        p2p_task,
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

/// Makes ring ([`doin_stats::pg_tls::ring_provider`]) rustls's process-wide provider.
/// doin builds its own TLS configurations with ring explicitly, but the libp2p QUIC
/// transport links rustls's aws-lc-rs backend too, and with both backends linked a library
/// that asks rustls for the default provider (an HTTPS client, a test's server) would
/// panic instead of choosing. Idempotent.
pub fn install_tls_provider() {
    let _ = doin_stats::pg_tls::ring_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use doin_primitives::Timestamp;

    /// A whole node handed a manual clock reads protocol time from it: its first block (the
    /// commitment block of its first optimae) carries the clock's time, not the system's.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_node_on_a_manual_clock_stamps_its_blocks_with_it() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut config = crate::testnet::minting_template(0, 0.0);
        config.host = "127.0.0.1".into();
        config.port = 0;
        config.data_dir = dir.path().to_path_buf();
        let db = config.chain_db_path();
        let t0 = Timestamp::from_unix_secs(1_767_225_600);
        let clock = ManualClock::new(t0);
        let node = NodeBuilder::new(config)
            .clock(clock.shared())
            .start()
            .await
            .expect("the node starts");
        let mut views = node.chain.watch();
        tokio::time::timeout(
            Duration::from_secs(60),
            views.wait_for(|v| v.tip_index >= 1),
        )
        .await
        .expect("a block within a minute")
        .expect("the chain service runs");
        drop(views);
        let first = ReaderPool::new(&db)
            .block(1)
            .expect("the store reads")
            .expect("block 1 is stored");
        assert_eq!(first.header.timestamp.unix_micros(), t0.unix_micros());
        node.shutdown().await;
    }

    /// A libp2p listen address another process holds fails the start with the address and
    /// what to do, before the chain opens.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_libp2p_address_in_use_fails_the_start_with_a_clear_error() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let held = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let port = held.local_addr().expect("its address").port();
        let mut config = crate::testnet::minting_template(0, 0.0);
        config.host = "127.0.0.1".into();
        config.port = 0;
        config.data_dir = dir.path().to_path_buf();
        config.listen_addrs = Some(vec![format!("/ip4/127.0.0.1/tcp/{port}")]);
        let err = match start(config).await {
            Ok(node) => {
                node.shutdown().await;
                panic!("the node started on a port in use");
            }
            Err(e) => format!("{e:#}"),
        };
        assert!(
            err.contains("cannot start libp2p on /ip4/127.0.0.1/tcp/"),
            "{err}"
        );
        assert!(err.contains("listen_addrs"), "{err}");
        assert!(
            !dir.path().join("chain.db").exists(),
            "the chain was opened"
        );
        drop(held);
    }
}
