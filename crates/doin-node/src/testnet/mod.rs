//! A test network: N full nodes in this process on loopback, each with its own data
//! directory, peered with each other over libp2p (or, for tests of the reference bridge,
//! over HTTP), with helpers to partition and heal the network and to stop and restart a
//! node. Used by the multi-node tests and the network benchmarks. [`NodeApi`] calls the
//! nodes' HTTP APIs; [`minting_template`] and [`build_chain`] make chains to test on.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use doin_plugins::PluginRegistry;
use doin_primitives::identity::Identity;

use crate::config::{parse_peer_addr, NodeConfig, PeerAddr};
use crate::node::{start_with_plugins, RunningNode};
use crate::view::ChainView;
use ports::free_ports;

mod api;
mod chain;
pub mod ports;

pub use api::NodeApi;
pub use chain::{build_chain, minting_template};

/// The runtime a multi-node test runs in: two worker threads, as CI's machine has two
/// cores; node logs go to the test's output when `RUST_LOG` is set.
pub fn runtime() -> tokio::runtime::Runtime {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The libp2p address a test node listens on unless told: loopback, a port the system
/// picks.
const LOOPBACK_TCP: &str = "/ip4/127.0.0.1/tcp/0";

/// How a test network's nodes reach each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Links {
    /// Libp2p between the nodes, no HTTP peer: how doin nodes talk.
    P2p,
    /// The HTTP bridge only (libp2p off): how a doin node talks to reference nodes.
    Http,
}

/// N nodes in one process.
pub struct TestNet {
    /// The running nodes (`None` while stopped).
    pub nodes: Vec<Option<RunningNode>>,
    configs: Vec<NodeConfig>,
    /// The pairs `(a, b)` where `a` refuses `b` ([`TestNet::partition`]).
    severed: Mutex<BTreeSet<(usize, usize)>>,
    _dir: tempfile::TempDir,
}

impl TestNet {
    /// Starts `n` nodes from `template` (ports and data dirs replaced) on libp2p: each
    /// listens on a loopback TCP port and is given every other node's multiaddr (with
    /// `/p2p/<id>`, its key made before the start) and no HTTP peer, so everything between
    /// them — gossip, sync, evaluators' task calls — goes over libp2p. Their HTTP APIs
    /// listen on loopback for the test to call.
    pub async fn start(n: usize, template: &NodeConfig) -> anyhow::Result<TestNet> {
        Self::start_custom(n, template, |_, _| PluginRegistry::with_builtins()).await
    }

    /// [`Self::start`] where `customize(i, config)` may change node `i`'s node-local
    /// settings (its roles, say) and returns the plugins it runs, so that a test can give
    /// one node a faulty plugin under a built-in name. Restarts use the built-in plugins.
    pub async fn start_custom(
        n: usize,
        template: &NodeConfig,
        customize: impl Fn(usize, &mut NodeConfig) -> PluginRegistry,
    ) -> anyhow::Result<TestNet> {
        Self::launch(n, template, Links::P2p, customize).await
    }

    /// [`Self::start_custom`] on the HTTP bridge instead: libp2p off, each node given the
    /// others' `host:port` as HTTP peers, as reference nodes are. Only for tests of that
    /// bridge (what `POST /message` admits, relays and charges); doin nodes talk libp2p.
    pub async fn start_http(
        n: usize,
        template: &NodeConfig,
        customize: impl Fn(usize, &mut NodeConfig) -> PluginRegistry,
    ) -> anyhow::Result<TestNet> {
        Self::launch(n, template, Links::Http, customize).await
    }

    async fn launch(
        n: usize,
        template: &NodeConfig,
        links: Links,
        customize: impl Fn(usize, &mut NodeConfig) -> PluginRegistry,
    ) -> anyhow::Result<TestNet> {
        let mut net = TestNet {
            nodes: Vec::new(),
            configs: Vec::new(),
            severed: Mutex::default(),
            _dir: tempfile::tempdir()?,
        };
        // Ports and keys first, so that every node knows every other's address from its
        // start, as the peers of a real network are configured (and a test's `customize`
        // its own). The HTTP APIs take any port on libp2p (nobody dials them but the test).
        let mut ports = match links {
            Links::P2p => vec![0; n],
            Links::Http => free_ports(n)?,
        };
        let mut p2p_addrs = match links {
            Links::P2p => {
                let p2p_ports = free_ports(n)?;
                let mut addrs = Vec::new();
                for (i, port) in p2p_ports.iter().enumerate() {
                    addrs.push(net.p2p_addr_of(i, template, *port)?);
                }
                addrs
            }
            Links::Http => Vec::new(),
        };
        for i in 0..n {
            let mut attempt = 1;
            loop {
                let mut c = net.node_config(i, template, ports[i]);
                // Every test node is in 127.0.0.0/24: let the whole network peer within it.
                c.max_peers_per_range = c
                    .max_peers_per_range
                    .max(u32::try_from(n).unwrap_or(u32::MAX));
                match links {
                    Links::P2p => {
                        let own = &p2p_addrs[i];
                        let listen = own.split("/p2p/").next().unwrap_or(own);
                        c.listen_addrs = Some(vec![listen.to_owned()]);
                        c.bootstrap_peers =
                            p2p_addrs.iter().filter(|a| *a != own).cloned().collect();
                    }
                    Links::Http => {
                        c.listen_addrs = Some(Vec::new());
                        c.bootstrap_peers = ports
                            .iter()
                            .enumerate()
                            .filter(|(j, _)| *j != i)
                            .map(|(_, p)| format!("127.0.0.1:{p}"))
                            .collect();
                    }
                }
                let plugins = customize(i, &mut c);
                match net.launch_node(c, plugins).await {
                    Ok(_) => break,
                    // Another test took the port since it was drawn: draw again (the
                    // nodes already running learn the new address when this one dials
                    // them).
                    Err(e) if attempt < 4 && ports::is_address_in_use(&e) => {
                        tracing::warn!("test node {i}: {e:#}; drawing another port");
                        attempt += 1;
                        match links {
                            Links::P2p => {
                                p2p_addrs[i] = net.p2p_addr_of(i, template, free_ports(1)?[0])?;
                            }
                            Links::Http => ports[i] = free_ports(1)?[0],
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(net)
    }

    /// Node `i`'s libp2p address on loopback `port`, with `/p2p/<id>` of the key made in
    /// its data directory (the node loads it when it starts).
    fn p2p_addr_of(&self, i: usize, template: &NodeConfig, port: u16) -> anyhow::Result<String> {
        let c = self.node_config(i, template, 0);
        std::fs::create_dir_all(&c.data_dir)?;
        let key = Identity::load_or_generate(&c.identity_path())?;
        let peer = doin_net::p2p::keypair_of(&key)?.public().to_peer_id();
        Ok(format!("/ip4/127.0.0.1/tcp/{port}/p2p/{peer}"))
    }

    /// Node `i`'s config from `template`: loopback, HTTP on `port`, libp2p on a port the
    /// system picks (unless the caller chooses one), its own data directory.
    fn node_config(&self, i: usize, template: &NodeConfig, port: u16) -> NodeConfig {
        let mut c = template.clone();
        c.host = "127.0.0.1".into();
        c.port = port;
        c.data_dir = self._dir.path().join(format!("node{i}"));
        c.listen_addrs = Some(vec![LOOPBACK_TCP.into()]);
        c
    }

    /// Starts a node from `c` and keeps its config with the ports it got, so that a
    /// restart listens where its peers look for it.
    async fn launch_node(
        &mut self,
        mut c: NodeConfig,
        plugins: PluginRegistry,
    ) -> anyhow::Result<usize> {
        let i = self.nodes.len();
        let node = start_with_plugins(c.clone(), plugins).await?;
        c.port = node.port;
        self.nodes.push(Some(node));
        if self.node(i).p2p.is_some() {
            let addrs = self.listen_addrs(i).await?;
            c.listen_addrs = Some(addrs.iter().map(ToString::to_string).collect());
        }
        self.configs.push(c);
        Ok(i)
    }

    /// Starts one more node on libp2p (as [`TestNet::start`]'s), bootstrapped to every
    /// running node's multiaddr; returns its index.
    pub async fn add_node(&mut self, template: &NodeConfig) -> anyhow::Result<usize> {
        let i = self.nodes.len();
        let mut c = self.node_config(i, template, 0);
        c.bootstrap_peers = self.p2p_addrs_except(i).await?;
        self.launch_node(c, PluginRegistry::with_builtins()).await
    }

    /// Starts one more node on libp2p bootstrapped to the multiaddrs of running nodes
    /// `peers` only (the others it finds through them, as a node on the internet does);
    /// returns its index.
    pub async fn add_node_bootstrapped(
        &mut self,
        template: &NodeConfig,
        peers: &[usize],
    ) -> anyhow::Result<usize> {
        let i = self.nodes.len();
        let mut c = self.node_config(i, template, 0);
        let mut addrs = Vec::with_capacity(peers.len());
        for &j in peers.iter().filter(|j| **j != i) {
            addrs.push(self.p2p_addr(j).await?);
        }
        c.bootstrap_peers = addrs;
        self.launch_node(c, PluginRegistry::with_builtins()).await
    }

    /// The libp2p addresses of every running node but `i` that runs libp2p.
    async fn p2p_addrs_except(&self, i: usize) -> anyhow::Result<Vec<String>> {
        let mut addrs = Vec::new();
        for (j, node) in self.nodes.iter().enumerate() {
            if j != i && node.as_ref().is_some_and(|n| n.p2p.is_some()) {
                addrs.push(self.p2p_addr(j).await?);
            }
        }
        Ok(addrs)
    }

    /// Node `i`'s libp2p listen addresses, once it listens (within 30 s).
    async fn listen_addrs(&self, i: usize) -> anyhow::Result<Vec<libp2p::Multiaddr>> {
        let p2p = self
            .node(i)
            .p2p
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("node {i} does not run libp2p"))?;
        let start = Instant::now();
        loop {
            let addrs = p2p.listen_addrs().await;
            if !addrs.is_empty() {
                return Ok(addrs);
            }
            if start.elapsed() > Duration::from_secs(30) {
                anyhow::bail!("node {i} has no libp2p listen address after 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Node `i`'s libp2p address with its `/p2p/<id>`, once it listens (within 30 s).
    pub async fn p2p_addr(&self, i: usize) -> anyhow::Result<String> {
        let addrs = self.listen_addrs(i).await?;
        let peer = self.node(i).p2p.as_ref().map(|p| p.local_peer());
        match (addrs.first(), peer) {
            (Some(a), Some(peer)) => Ok(format!("{a}/p2p/{peer}")),
            _ => anyhow::bail!("node {i} does not run libp2p"),
        }
    }

    /// Node `i` (panics if stopped).
    pub fn node(&self, i: usize) -> &RunningNode {
        self.nodes[i]
            .as_ref()
            .unwrap_or_else(|| panic!("node {i} is stopped"))
    }

    /// The chain views of the running nodes.
    pub fn views(&self) -> Vec<std::sync::Arc<ChainView>> {
        self.nodes
            .iter()
            .flatten()
            .map(|n| n.chain.view())
            .collect()
    }

    /// Splits the network: nodes of different groups stop talking to each other. On
    /// libp2p each node blocks the other groups' peers (connections close, none is
    /// accepted or dialed: no gossip, sync or task call crosses); between HTTP nodes the
    /// sync loop stops pulling from the other groups.
    pub async fn partition(&self, groups: &[&[usize]]) -> anyhow::Result<()> {
        for (gi, g) in groups.iter().enumerate() {
            for (hi, h) in groups.iter().enumerate() {
                if gi == hi {
                    continue;
                }
                for &a in g.iter() {
                    for &b in h.iter() {
                        self.sever(a, b).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Node `a` stops talking to node `b` (both running).
    async fn sever(&self, a: usize, b: usize) -> anyhow::Result<()> {
        let (Some(na), Some(nb)) = (&self.nodes[a], &self.nodes[b]) else {
            return Ok(());
        };
        na.peers.block(&nb.endpoint());
        if let (Some(pa), Some(pb)) = (&na.p2p, &nb.p2p) {
            na.peers.block(&crate::p2p::endpoint_of(&pb.local_peer()));
            pa.block_peer(pb.local_peer()).await?;
        }
        self.lock_severed().insert((a, b));
        Ok(())
    }

    fn lock_severed(&self) -> std::sync::MutexGuard<'_, BTreeSet<(usize, usize)>> {
        self.severed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ends every partition: the blocks are lifted and each severed pair of libp2p nodes
    /// is dialed at once (a real network finds its peers again through the DHT; the test
    /// measures convergence from the moment the links are back).
    pub async fn heal(&self) -> anyhow::Result<()> {
        let severed = std::mem::take(&mut *self.lock_severed());
        for n in self.nodes.iter().flatten() {
            n.peers.unblock_all();
        }
        for &(a, b) in &severed {
            if let (Some(na), Some(nb)) = (&self.nodes[a], &self.nodes[b]) {
                if let (Some(pa), Some(pb)) = (&na.p2p, &nb.p2p) {
                    pa.unblock_peer(pb.local_peer()).await?;
                }
            }
        }
        for &(a, b) in severed.iter().filter(|(a, b)| a < b) {
            let Some(pa) = self.nodes[a].as_ref().and_then(|n| n.p2p.as_ref()) else {
                continue;
            };
            if self.nodes[b].as_ref().is_some_and(|n| n.p2p.is_some()) {
                pa.dial(self.p2p_addr(b).await?.parse()?).await?;
            }
        }
        Ok(())
    }

    /// Stops node `i` (its data directory stays).
    pub async fn stop(&mut self, i: usize) {
        if let Some(n) = self.nodes[i].take() {
            n.shutdown().await;
        }
    }

    /// Restarts node `i` on its ports, key and data directory; on libp2p it dials every
    /// running node (which know it at the same address and `/p2p/<id>`).
    pub async fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        let mut c = self.configs[i].clone();
        if c.listen_addrs.as_ref().is_some_and(|l| !l.is_empty()) {
            c.bootstrap_peers
                .retain(|p| !matches!(parse_peer_addr(p), Ok(PeerAddr::P2p { .. })));
            c.bootstrap_peers.extend(self.p2p_addrs_except(i).await?);
        }
        self.nodes[i] = Some(crate::node::start(c).await?);
        Ok(())
    }

    /// Data directory of node `i`.
    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.configs[i].data_dir.clone()
    }

    /// The accepted optimae in node `i`'s stored chain below its tip, oldest first, each
    /// with its block's index and generator.
    pub fn accepted_optimae(
        &self,
        i: usize,
    ) -> Vec<(i64, String, doin_consensus::accepted::AcceptedOptimae)> {
        use crate::block_source::BlockSource;
        let height = self.node(i).chain.view().height;
        let reader = crate::chain_service::ReaderPool::new(&self.data_dir(i).join("chain.db"));
        let Ok(blocks) = reader.blocks(1, height - 1) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for b in &blocks {
            let Ok(layout) = b.check_layout() else {
                continue;
            };
            for tx in layout.accepted {
                if let Ok(a) = doin_consensus::accepted::AcceptedOptimae::from_tx(tx) {
                    out.push((b.header.index, b.header.generator_id.clone(), a));
                }
            }
        }
        out
    }

    /// Every node's identity key (made at start if its file was missing).
    pub fn identities(&self) -> Vec<doin_primitives::identity::Identity> {
        self.configs
            .iter()
            .map(|c| {
                doin_primitives::identity::Identity::load_or_generate(&c.identity_path())
                    .unwrap_or_else(|e| panic!("identity of {}: {e}", c.data_dir.display()))
            })
            .collect()
    }

    /// Waits until `pred` holds for the views of the running nodes, or fails after
    /// `timeout` with the views.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&[std::sync::Arc<ChainView>]) -> bool,
    ) -> anyhow::Result<Duration> {
        let start = Instant::now();
        loop {
            let views = self.views();
            if pred(&views) {
                return Ok(start.elapsed());
            }
            if start.elapsed() > timeout {
                let nodes: Vec<String> = views.iter().map(|v| describe(v)).collect();
                anyhow::bail!(
                    "timed out after {timeout:?} waiting for {what}; nodes at [{}]",
                    nodes.join("; ")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The hash of the block every running node's chain holds at `index`, if they all hold
    /// the same one there.
    pub fn common_block(&self, index: i64) -> anyhow::Result<Option<String>> {
        let hashes = self.block_hashes_at(index)?;
        let first = hashes.first().cloned().flatten();
        Ok(first.filter(|f| hashes.iter().all(|h| h.as_ref() == Some(f))))
    }

    fn block_hashes_at(&self, index: i64) -> anyhow::Result<Vec<Option<String>>> {
        let mut hashes = Vec::new();
        for (i, _) in self.nodes.iter().enumerate().filter(|(_, n)| n.is_some()) {
            let reader = doin_store::ChainReader::open(&self.data_dir(i).join("chain.db"))?;
            hashes.push(reader.block_hash(index)?);
        }
        Ok(hashes)
    }

    /// Waits until every running node's chain holds one and the same block at `index`,
    /// or fails after `timeout` naming each node's hash there. On a network that keeps
    /// minting, this is what "one chain" means: the newest block may still be raced for
    /// (two generators a few milliseconds apart), the history below it is settled.
    pub async fn wait_for_common_block(
        &self,
        index: i64,
        timeout: Duration,
        what: &str,
    ) -> anyhow::Result<Duration> {
        let start = Instant::now();
        loop {
            if self.common_block(index)?.is_some() {
                return Ok(start.elapsed());
            }
            if start.elapsed() > timeout {
                let hashes = self.block_hashes_at(index)?;
                let views: Vec<String> = self.views().iter().map(|v| describe(v)).collect();
                anyhow::bail!(
                    "timed out after {timeout:?} waiting for {what}: block {index} per node \
                     {hashes:?}; nodes at [{}]",
                    views.join("; ")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops every node.
    pub async fn shutdown(mut self) {
        for i in 0..self.nodes.len() {
            self.stop(i).await;
        }
    }
}

impl TestNet {
    /// Each node's chain up to `height`, replayed from its `chain.db` into consensus state
    /// (what a restarted node would rebuild).
    pub fn replayed(
        &self,
        config: &NodeConfig,
        height: i64,
    ) -> anyhow::Result<Vec<doin_consensus::ChainState>> {
        (0..self.configs.len())
            .map(|i| {
                let reader = doin_store::ChainReader::open(&self.data_dir(i).join("chain.db"))?;
                let blocks = reader.blocks(1, height)?;
                let params = crate::chain_params::chain_params(config);
                Ok(doin_consensus::ChainState::replay(params, &blocks)?)
            })
            .collect()
    }

    /// A [`NodeApi`] for this network's nodes.
    pub fn api(&self) -> anyhow::Result<NodeApi> {
        NodeApi::new(self.configs.iter().map(|c| c.port).collect())
    }
}

/// One node's view for a failure message: height, tip, threshold, pending optimae and the
/// best performance per domain (what tells a stalled chain from a slow one).
pub fn describe(v: &ChainView) -> String {
    format!(
        "height {} tip {} finalized {} threshold {:.4} pending {} summing {:.4} best {:?}",
        v.height,
        v.tip_hash.get(..8).unwrap_or(&v.tip_hash),
        v.finalized_height,
        v.threshold,
        v.pending_optimae,
        v.pending_sum,
        v.domain_best
    )
}

/// Whether every view has the same tip.
pub fn agree(views: &[std::sync::Arc<ChainView>]) -> bool {
    views.windows(2).all(|w| w[0].tip_hash == w[1].tip_hash)
}
