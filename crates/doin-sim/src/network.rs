//! The simulated network: who relays to whom (a random mesh closed into a ring, so it is
//! connected), one-way latency (a floor plus an exponential tail), loss, and partitions
//! that heal, and the load of a busy machine (each message waits for a core). Only the
//! faulty phase loses messages, partitions the nodes or loads them.

use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;

use crate::config::SimConfig;
use crate::rng::{chance, exponential};

/// The links of the simulated network.
pub struct Network {
    mesh: Vec<Vec<usize>>,
    latency_min: i64,
    latency_mean_extra: i64,
    loss: f64,
    load_delay_min: i64,
    load_delay_mean_extra: i64,
    partitions: Vec<crate::config::Partition>,
    fault_phase: i64,
}

impl Network {
    /// The network of a run: each node relays to its ring successor and `mesh_degree - 1`
    /// other random peers.
    pub fn new(cfg: &SimConfig, rng: &mut ChaCha8Rng) -> Self {
        let n = cfg.nodes;
        let mesh = (0..n)
            .map(|i| {
                let mut peers = vec![(i + 1) % n];
                while peers.len() < cfg.mesh_degree.min(n - 1) {
                    let p = (rng.next_u32() as usize) % n;
                    if p != i && !peers.contains(&p) {
                        peers.push(p);
                    }
                }
                peers
            })
            .collect();
        Network {
            mesh,
            latency_min: cfg.latency_min,
            latency_mean_extra: cfg.latency_mean_extra,
            loss: cfg.loss,
            load_delay_min: cfg.load_delay_min,
            load_delay_mean_extra: cfg.load_delay_mean_extra,
            partitions: cfg.partitions.clone(),
            fault_phase: cfg.fault_phase,
        }
    }

    /// The peers node `i` relays gossip to.
    pub fn relays(&self, i: usize) -> &[usize] {
        &self.mesh[i]
    }

    /// Whether a partition separates `a` from `b` at `t` (µs after the start).
    pub fn partitioned(&self, a: usize, b: usize, t: i64) -> bool {
        self.partitions
            .iter()
            .any(|p| t >= p.start && t < p.heal && p.side_a[a] != p.side_a[b])
    }

    /// When a message sent from `a` to `b` at `t` arrives, or `None` if it is lost.
    pub fn deliver_at(&self, a: usize, b: usize, t: i64, rng: &mut ChaCha8Rng) -> Option<i64> {
        let mut delay = self.latency_min + exponential(rng, self.latency_mean_extra.max(1));
        let faulty = t < self.fault_phase;
        // Drawn only under load, so that runs without it replay as before.
        if faulty && self.load_delay_mean_extra > 0 {
            delay += self.load_delay_min + exponential(rng, self.load_delay_mean_extra);
        }
        if faulty && (self.partitioned(a, b, t) || chance(rng, self.loss)) {
            return None;
        }
        // A partition that starts while the message is in flight cuts it too.
        if faulty && self.partitioned(a, b, t + delay) {
            return None;
        }
        Some(t + delay)
    }
}
