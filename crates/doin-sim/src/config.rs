//! What one run simulates: the network's size, its parameters and the faults, all drawn
//! from the run's seed ([`SimConfig::from_seed`]) or set by hand.

use doin_consensus::{ChainParams, DomainParams};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use crate::rng::{range_f64, range_u64};

/// The domain every simulated optimizer works on (the built-in quadratic domain's id).
pub const DOMAIN: &str = "quadratic";

/// Microseconds in a second of virtual time.
pub const SECOND: i64 = 1_000_000;

/// The earliest a drawn partition starts, µs.
pub const PARTITION_EARLIEST: i64 = 30 * SECOND;

/// The longest a drawn partition lasts, µs.
pub const PARTITION_LONGEST: i64 = 60 * SECOND;

/// What a misbehaving node does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adversary {
    /// Mints on a private branch and releases it every `release_every_secs`.
    Withholder {
        /// Seconds between releases of the private branch.
        release_every_secs: u64,
    },
    /// Relays corrupted copies of the blocks it sees (same hash, tampered coinbase; forged
    /// seals; far-future timestamps) before honest copies.
    InvalidRelay,
}

/// A bug planted on purpose in one node, to show that the invariants catch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlantedBug {
    /// Node 0 never asks peers for blocks it is missing (no sync).
    NoSync,
    /// Node 0 reports one base unit more in its balances than its chain gives.
    LeakOneUnit,
    /// The checker judges every node's finality by depth alone (the rule before
    /// `doin_consensus::finality` asked for attestations): a checkpoint `finality_depth`
    /// blocks deep counts as final.
    FinalityByDepth,
    /// Every node measures its work-block wait from the tip's timestamp alone (the mint
    /// schedule before `doin_node::mint_schedule::wait_origin_micros`).
    WaitFromTipDate,
}

/// A network partition: nodes split into two sides for a span of virtual time.
#[derive(Debug, Clone, PartialEq)]
pub struct Partition {
    /// When it starts, µs after the run's start.
    pub start: i64,
    /// When it heals, µs after the run's start.
    pub heal: i64,
    /// Whether node `i` is on side A (the rest is on side B).
    pub side_a: Vec<bool>,
}

/// A crash: the node stops at `at` and restarts from its kept blocks at `restart`.
#[derive(Debug, Clone, PartialEq)]
pub struct Crash {
    /// The node.
    pub node: usize,
    /// When it crashes, µs after the run's start.
    pub at: i64,
    /// When it restarts, µs after the run's start.
    pub restart: i64,
}

/// Everything a run needs; a pure function of the seed when built by
/// [`SimConfig::from_seed`].
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The run's seed: every random choice of the run comes from it.
    pub seed: u64,
    /// Number of nodes.
    pub nodes: usize,
    /// Nodes that optimize (the others evaluate and relay).
    pub optimizers: Vec<usize>,
    /// The chain's consensus parameters.
    pub params: ChainParams,
    /// Virtual duration of the faulty phase, µs.
    pub fault_phase: i64,
    /// Virtual duration of the healed phase that follows (no faults, adversaries silent),
    /// µs: the network must converge to one tip and keep minting in it.
    pub healed_phase: i64,
    /// The bound on convergence after the heal, µs.
    pub convergence_bound: i64,
    /// Minimum one-way latency, µs.
    pub latency_min: i64,
    /// Mean of the exponential part of the latency, µs.
    pub latency_mean_extra: i64,
    /// Probability that a message is lost (during the faulty phase).
    pub loss: f64,
    /// A loaded machine (during the faulty phase): each message also waits this long for
    /// a core at its receiver, µs, a floor…
    pub load_delay_min: i64,
    /// …plus an exponential tail of this mean, µs (0: no load).
    pub load_delay_mean_extra: i64,
    /// Each node's clock offset from virtual time, µs.
    pub clock_skew: Vec<i64>,
    /// Partitions (during the faulty phase).
    pub partitions: Vec<Partition>,
    /// Crashes and restarts (during the faulty phase).
    pub crashes: Vec<Crash>,
    /// Misbehaving nodes.
    pub adversaries: Vec<(usize, Adversary)>,
    /// Peers each node relays gossip to.
    pub mesh_degree: usize,
    /// Mean seconds between an optimizer's attempts.
    pub optimizer_mean_secs: f64,
    /// Seconds between a node's sync rounds.
    pub sync_every_secs: f64,
    /// A bug planted in node 0, if any.
    pub planted: Option<PlantedBug>,
    /// What the optimizers improve ([`crate::optimae::Objective`]).
    pub objective: crate::optimae::Objective,
}

/// The chain parameters the simulator runs: a network chain (quorums of two) on the
/// quadratic domain, with a 10 s target block time and finality 6 deep.
pub fn network_params() -> ChainParams {
    let mut p = ChainParams::solo_default();
    p.quorum_min_evaluators = 2;
    p.initial_threshold = 0.05;
    p.domains = vec![DomainParams::new(DOMAIN, true).with_bound("x", -10.0, 10.0)];
    p
}

impl SimConfig {
    /// A fault-free network of `nodes` nodes, half of them optimizers.
    pub fn calm(seed: u64, nodes: usize) -> Self {
        SimConfig {
            seed,
            nodes,
            optimizers: (0..nodes).step_by(2).collect(),
            params: network_params(),
            fault_phase: 120 * SECOND,
            healed_phase: 120 * SECOND,
            convergence_bound: 60 * SECOND,
            latency_min: 20_000,
            latency_mean_extra: 80_000,
            loss: 0.0,
            load_delay_min: 0,
            load_delay_mean_extra: 0,
            clock_skew: vec![0; nodes],
            partitions: Vec::new(),
            crashes: Vec::new(),
            adversaries: Vec::new(),
            mesh_degree: nodes.saturating_sub(1).min(8),
            optimizer_mean_secs: 6.0,
            sync_every_secs: 5.0,
            planted: None,
            objective: crate::optimae::Objective::Bowl,
        }
    }

    /// A run of 8–16 nodes with faults drawn from `seed`: latency, loss, clock skew within
    /// the allowed drift, a partition of up to a minute, crashes with restarts, and up to
    /// two adversaries.
    pub fn from_seed(seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_c0f1_9000_0000);
        let nodes = range_u64(&mut rng, 8, 16) as usize;
        let mut c = SimConfig::calm(seed, nodes);
        let mut optimizers: Vec<usize> = (0..nodes).filter(|_| rng.next_u32() % 2 == 0).collect();
        if optimizers.len() < 2 {
            optimizers = vec![0, 1];
        }
        c.optimizers = optimizers;
        c.latency_min = range_u64(&mut rng, 5_000, 50_000) as i64;
        c.latency_mean_extra = range_u64(&mut rng, 10_000, 400_000) as i64;
        c.loss = [0.0, 0.01, 0.05, 0.15][(rng.next_u32() % 4) as usize];
        c.mesh_degree = range_u64(&mut rng, 3, (nodes - 1).min(8) as u64) as usize;
        // Skew in four regimes, all within the drift a validator allows (two minutes ahead);
        // the widest, ±40 s, is the one that starved optimizers before the mint schedule
        // measured a future-dated tip from its adoption (see the crate doc).
        let max_skew =
            [SECOND / 10, SECOND, 4 * SECOND, 40 * SECOND][(rng.next_u32() % 4) as usize];
        c.clock_skew = (0..nodes)
            .map(|_| range_u64(&mut rng, 0, 2 * max_skew as u64) as i64 - max_skew)
            .collect();
        let phase = c.fault_phase;
        if rng.next_u32() % 2 == 0 {
            // After a warm-up (finality is partition-safe once a checkpoint is final, see
            // `doin_consensus::finality`), and long enough for each side to mint well past
            // `2 × finality_depth` blocks.
            let start = range_u64(&mut rng, PARTITION_EARLIEST as u64, (phase / 2) as u64) as i64;
            let span = range_u64(&mut rng, 2 * SECOND as u64, PARTITION_LONGEST as u64) as i64;
            let side_a = (0..nodes).map(|_| rng.next_u32() % 2 == 0).collect();
            c.partitions.push(Partition {
                start,
                heal: start + span,
                side_a,
            });
        }
        for _ in 0..(rng.next_u32() % 3) {
            let node = (rng.next_u32() as usize) % nodes;
            let at = range_u64(&mut rng, 0, (phase * 3 / 4) as u64) as i64;
            let down = range_u64(&mut rng, SECOND as u64, 40 * SECOND as u64) as i64;
            c.crashes.push(Crash {
                node,
                at,
                restart: (at + down).min(phase),
            });
        }
        let mut free: Vec<usize> = (1..nodes).collect();
        for _ in 0..(rng.next_u32() % 3) {
            let i = free.remove((rng.next_u32() as usize) % free.len());
            let kind = if rng.next_u32() % 2 == 0 {
                if !c.optimizers.contains(&i) {
                    c.optimizers.push(i);
                }
                Adversary::Withholder {
                    release_every_secs: range_u64(&mut rng, 5, 20),
                }
            } else {
                Adversary::InvalidRelay
            };
            c.adversaries.push((i, kind));
        }
        c.optimizers.sort_unstable();
        c.optimizer_mean_secs = range_f64(&mut rng, 2.0, 10.0);
        c
    }

    /// A fault-free network of 12 nodes, finality 3 deep, split in two halves (each with
    /// optimizers) for three minutes, long enough for both halves to mint more than
    /// `2 × finality_depth` blocks: what finality by depth alone could not survive.
    pub fn long_partition(seed: u64) -> Self {
        let mut c = SimConfig::calm(seed, 12);
        c.params.finality_depth = 3;
        c.fault_phase = 220 * SECOND;
        c.partitions.push(Partition {
            start: 30 * SECOND,
            heal: 210 * SECOND,
            side_a: (0..12).map(|i| i % 4 < 2).collect(),
        });
        c
    }

    /// The `p2p_scale` bench's network on a loaded machine (issue 17): `nodes` nodes, four
    /// optimizers (nodes 0–3) trying a candidate every half second, 1 s target blocks,
    /// finality 6 deep, quorums of two, relays to six peers (gossipsub's D), and for the
    /// faulty phase a loaded two-core machine: each message waits a quarter of a second
    /// and more (0.75 s on average) for a core. No partition, no loss, no crash: any split
    /// is the network's own. The load lifts in the healed phase.
    pub fn loaded_network(seed: u64, nodes: usize) -> Self {
        let mut c = SimConfig::calm(seed, nodes);
        c.optimizers = (0..4.min(nodes)).collect();
        c.params.target_block_time_secs = 1.0;
        c.params.initial_threshold = 0.001;
        c.params.finality_depth = 6;
        c.optimizer_mean_secs = 0.5;
        c.load_delay_min = 250_000;
        c.load_delay_mean_extra = 500_000;
        c.mesh_degree = 6.min(nodes.saturating_sub(1));
        c.fault_phase = 20 * SECOND;
        c.healed_phase = 20 * SECOND;
        c.convergence_bound = 15 * SECOND;
        c
    }

    /// The adversary role of node `i`, if it misbehaves.
    pub fn adversary(&self, i: usize) -> Option<Adversary> {
        self.adversaries
            .iter()
            .find(|(n, _)| *n == i)
            .map(|(_, a)| *a)
    }

    /// A one-line summary of the faults, printed with a failing run's schedule.
    pub fn summary(&self) -> String {
        format!(
            "seed {} nodes {} optimizers {:?} latency {}+exp({}) µs loss {} load {}+exp({}) µs \
             skew {:?} partitions {:?} crashes {:?} adversaries {:?} planted {:?}",
            self.seed,
            self.nodes,
            self.optimizers,
            self.latency_min,
            self.latency_mean_extra,
            self.loss,
            self.load_delay_min,
            self.load_delay_mean_extra,
            self.clock_skew,
            self.partitions
                .iter()
                .map(|p| (p.start, p.heal))
                .collect::<Vec<_>>(),
            self.crashes
                .iter()
                .map(|c| (c.node, c.at, c.restart))
                .collect::<Vec<_>>(),
            self.adversaries,
            self.planted,
        )
    }
}
