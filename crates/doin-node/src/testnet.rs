//! A test network: N full nodes in this process on `127.0.0.1:0`, each with its own data
//! directory, peered with each other, with helpers to partition and heal the network and
//! to stop and restart a node. Used by the multi-node tests and the network benchmarks.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::config::NodeConfig;
use crate::node::{start, RunningNode};
use crate::view::ChainView;

/// N nodes in one process.
pub struct TestNet {
    /// The running nodes (`None` while stopped).
    pub nodes: Vec<Option<RunningNode>>,
    configs: Vec<NodeConfig>,
    _dir: tempfile::TempDir,
}

impl TestNet {
    /// Starts `n` nodes from `template` (ports and data dirs replaced), fully meshed.
    pub async fn start(n: usize, template: &NodeConfig) -> anyhow::Result<TestNet> {
        let dir = tempfile::tempdir()?;
        let mut configs = Vec::new();
        // Reserve ports first so every node knows every other's endpoint.
        let mut listeners = Vec::new();
        for _ in 0..n {
            listeners.push(std::net::TcpListener::bind("127.0.0.1:0")?);
        }
        let ports: Vec<u16> = listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()))
            .collect::<Result<_, _>>()?;
        drop(listeners);
        for (i, port) in ports.iter().enumerate() {
            let mut c = template.clone();
            c.host = "127.0.0.1".into();
            c.port = *port;
            c.data_dir = dir.path().join(format!("node{i}"));
            c.bootstrap_peers = ports
                .iter()
                .filter(|p| *p != port)
                .map(|p| format!("127.0.0.1:{p}"))
                .collect();
            configs.push(c);
        }
        let mut nodes = Vec::new();
        for c in &configs {
            nodes.push(Some(start(c.clone()).await?));
        }
        Ok(TestNet {
            nodes,
            configs,
            _dir: dir,
        })
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

    /// Splits the network: nodes of different groups stop talking to each other.
    pub fn partition(&self, groups: &[&[usize]]) {
        for (gi, g) in groups.iter().enumerate() {
            for (hi, h) in groups.iter().enumerate() {
                if gi == hi {
                    continue;
                }
                for &a in g.iter() {
                    for &b in h.iter() {
                        if let (Some(na), Some(_)) = (&self.nodes[a], &self.nodes[b]) {
                            na.peers
                                .block(&format!("127.0.0.1:{}", self.configs[b].port));
                        }
                    }
                }
            }
        }
    }

    /// Ends every partition.
    pub fn heal(&self) {
        for n in self.nodes.iter().flatten() {
            n.peers.unblock_all();
        }
    }

    /// Stops node `i` (its data directory stays).
    pub async fn stop(&mut self, i: usize) {
        if let Some(n) = self.nodes[i].take() {
            n.shutdown().await;
        }
    }

    /// Restarts node `i` on its port and data directory.
    pub async fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        self.nodes[i] = Some(start(self.configs[i].clone()).await?);
        Ok(())
    }

    /// Data directory of node `i`.
    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.configs[i].data_dir.clone()
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
                let heights: Vec<_> = views
                    .iter()
                    .map(|v| (v.height, v.tip_hash[..8].to_owned()))
                    .collect();
                anyhow::bail!(
                    "timed out after {timeout:?} waiting for {what}; nodes at {heights:?}"
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

/// Whether every view has the same tip.
pub fn agree(views: &[std::sync::Arc<ChainView>]) -> bool {
    views.windows(2).all(|w| w[0].tip_hash == w[1].tip_hash)
}
