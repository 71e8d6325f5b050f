//! The run: builds the nodes and the network from the config, pops events in virtual-time
//! order, hands each to its node, turns the node's actions into deliveries and timers,
//! and checks the invariants after every step.
//!
//! A run has two phases: the *faulty* phase (loss, partitions, crashes, adversaries) and
//! the *healed* phase (every node up, no loss, adversaries silent). In the healed phase
//! all nodes must share one tip within [`SimConfig::convergence_bound`], and the chain
//! must keep growing.

use std::fmt;

use doin_primitives::hash::sha256_hex;
use doin_primitives::identity::Identity;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use crate::config::{Adversary, PlantedBug, SimConfig, SECOND};
use crate::invariants::{self, FinalityRecord, Violation};
use crate::memo::Memo;
use crate::metrics::{Metrics, Report};
use crate::network::Network;
use crate::node::{Action, Ctx, Node, Note};
use crate::queue::{short, Event, EventLog, EventQueue, Msg};
use crate::rng::{exponential, range_u64};

/// How often the checker looks at the whole network, µs.
const CHECK_EVERY: i64 = SECOND / 4;

/// Events per node and virtual second beyond which a run is a message storm (a calm run
/// takes a few).
const EVENTS_PER_NODE_SECOND: u64 = 100;

/// Work blocks the converged chain must gain in the healed phase.
const LIVENESS_BLOCKS: usize = 2;

/// A failed run: its seed, its faults, what broke and its schedule.
#[derive(Debug)]
pub struct Failure {
    /// The run's config summary (seed first).
    pub config: String,
    /// The broken invariants.
    pub violations: Vec<Violation>,
    /// The event log up to the failure.
    pub log: Vec<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.config)?;
        for v in &self.violations {
            writeln!(f, "VIOLATION: {v}")?;
        }
        let skip = self.log.len().saturating_sub(4000);
        if skip > 0 {
            writeln!(f, "… {skip} earlier log lines")?;
        }
        for line in &self.log[skip..] {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

/// A simulated network of DOIN nodes.
pub struct Simulation {
    cfg: SimConfig,
    rng: ChaCha8Rng,
    queue: EventQueue,
    /// The run's schedule as it happened.
    pub log: EventLog,
    /// The nodes.
    pub nodes: Vec<Node>,
    network: Network,
    memo: Memo,
    ids: Vec<String>,
    finality: FinalityRecord,
    metrics: Metrics,
    violations: Vec<Violation>,
    converged_at: Option<i64>,
}

/// A node key drawn from the run's seed.
fn identity(seed: u64, i: usize) -> Identity {
    let mut salt = 0u32;
    loop {
        let h = sha256_hex(format!("doin-sim/key/{seed}/{i}/{salt}"));
        let bytes: Vec<u8> = (0..32)
            .filter_map(|k| u8::from_str_radix(&h[2 * k..2 * k + 2], 16).ok())
            .collect();
        if let Ok(id) = Identity::from_scalar_bytes(&bytes) {
            return id;
        }
        salt += 1;
    }
}

impl Simulation {
    /// A run of `cfg`, its log recorded.
    pub fn new(cfg: SimConfig) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let network = Network::new(&cfg, &mut rng);
        let nodes: Vec<Node> = (0..cfg.nodes)
            .map(|i| {
                let mut n = Node::new(i, identity(cfg.seed, i), cfg.params.clone());
                n.skew = cfg.clock_skew.get(i).copied().unwrap_or(0);
                n.optimizer = cfg.optimizers.contains(&i);
                n.objective = cfg.objective;
                n.adversary = cfg.adversary(i);
                let everywhere = cfg.planted == Some(PlantedBug::WaitFromTipDate);
                n.planted = if i == 0 || everywhere {
                    cfg.planted
                } else {
                    None
                };
                n
            })
            .collect();
        let ids = nodes.iter().map(|n| n.peer_id().to_string()).collect();
        let mut sim = Simulation {
            rng,
            queue: EventQueue::default(),
            log: EventLog::recording(),
            nodes,
            network,
            memo: Memo::default(),
            ids,
            finality: FinalityRecord::default(),
            metrics: Metrics::default(),
            violations: Vec::new(),
            converged_at: None,
            cfg,
        };
        sim.schedule_start();
        sim
    }

    fn schedule_start(&mut self) {
        let cfg = self.cfg.clone();
        let c = &cfg;
        self.log.note(0, || c.summary());
        for p in &cfg.partitions {
            self.log.note(p.start, || {
                format!("partition {:?} until {}", p.side_a, p.heal)
            });
        }
        for i in 0..cfg.nodes {
            let at = range_u64(&mut self.rng, 0, (cfg.sync_every_secs * 1e6) as u64) as i64;
            self.queue.push(at, Event::SyncRound(i));
            if cfg.optimizers.contains(&i) {
                let at = exponential(&mut self.rng, (cfg.optimizer_mean_secs * 1e6) as i64);
                self.queue.push(at, Event::OptimizerStep(i));
            }
            if let Some(Adversary::Withholder { release_every_secs }) = cfg.adversary(i) {
                let every = release_every_secs as i64 * SECOND;
                let mut t = every;
                while t < cfg.fault_phase {
                    self.queue.push(t, Event::Release(i));
                    t += every;
                }
                self.queue.push(cfg.fault_phase, Event::Release(i));
            }
        }
        for crash in &cfg.crashes {
            self.queue.push(crash.at, Event::Crash(crash.node));
            self.queue.push(crash.restart, Event::Restart(crash.node));
        }
        self.queue.push(CHECK_EVERY, Event::Check);
    }

    /// Turns the event log off (long benchmark runs).
    pub fn without_log(mut self) -> Self {
        self.log.enabled = false;
        self
    }

    /// Events a run may take: [`EVENTS_PER_NODE_SECOND`] per node and virtual second.
    fn event_budget(&self) -> u64 {
        let secs = u64::try_from(self.end() / SECOND).unwrap_or(0);
        EVENTS_PER_NODE_SECOND * self.cfg.nodes as u64 * secs.max(1)
    }

    fn end(&self) -> i64 {
        self.cfg.fault_phase + self.cfg.healed_phase
    }

    /// Runs to the end; the figures, or the failure with its schedule.
    pub fn run(mut self) -> Result<Report, Box<Failure>> {
        while let Some((now, event)) = self.queue.pop() {
            if now > self.end() {
                break;
            }
            self.metrics.events += 1;
            if self.metrics.events > self.event_budget() {
                self.violations.push(Violation::Storm {
                    events: self.metrics.events,
                });
                return Err(self.failure());
            }
            self.step(now, event);
            if !self.violations.is_empty() {
                return Err(self.failure());
            }
        }
        self.final_checks();
        if !self.violations.is_empty() {
            return Err(self.failure());
        }
        let best = self
            .nodes
            .iter()
            .max_by(|a, b| {
                doin_consensus::fork_choice::compare(
                    &doin_consensus::fork_choice::chain_weight(&a.state),
                    &doin_consensus::fork_choice::chain_weight(&b.state),
                )
            })
            .map(|n| n.blocks.clone())
            .unwrap_or_default();
        Ok(self.metrics.report(
            &best,
            &self.finality,
            self.cfg.params.finality_depth,
            self.end(),
        ))
    }

    fn failure(&mut self) -> Box<Failure> {
        Box::new(Failure {
            config: self.cfg.summary(),
            violations: std::mem::take(&mut self.violations),
            log: self.log.lines().to_vec(),
        })
    }

    fn step(&mut self, now: i64, event: Event) {
        let node = match &event {
            Event::Deliver { to, .. } => *to,
            Event::MintCheck(i)
            | Event::OptimizerStep(i)
            | Event::SyncRound(i)
            | Event::Crash(i)
            | Event::Restart(i)
            | Event::Release(i) => *i,
            Event::Check => {
                self.check(now);
                return;
            }
        };
        let faulty = now < self.cfg.fault_phase;
        let relays = self.network.relays(node).to_vec();
        let peer = (self.rng.next_u32() as usize) % self.cfg.nodes;
        let mut ctx = Ctx {
            now,
            rng: &mut self.rng,
            out: Vec::new(),
            notes: Vec::new(),
            violations: Vec::new(),
            memo: &mut self.memo,
            ids: &self.ids,
            relays: &relays,
            faulty,
        };
        let n = &mut self.nodes[node];
        match event {
            Event::Deliver { from, msg, .. } => {
                if n.up {
                    n.on_message(from, msg, &mut ctx);
                }
            }
            Event::MintCheck(_) => n.mint_check(&mut ctx),
            Event::OptimizerStep(_) => {
                n.optimizer_step(&mut ctx);
                let mean = (self.cfg.optimizer_mean_secs * 1e6) as i64;
                let next = now + 1 + exponential(ctx.rng, mean);
                ctx.schedule(next, Event::OptimizerStep(node));
            }
            Event::SyncRound(_) => {
                if n.up {
                    n.sync_round(peer, &mut ctx);
                }
                let every = (self.cfg.sync_every_secs * 1e6) as i64;
                let next = now + every / 2 + range_u64(ctx.rng, 0, every as u64) as i64;
                ctx.schedule(next, Event::SyncRound(node));
            }
            Event::Crash(_) => {
                n.crash();
                self.log.note(now, || format!("node {node} crashes"));
            }
            Event::Restart(_) => {
                n.restart(&mut ctx);
                self.log.note(now, || {
                    format!("node {node} restarts at height {}", n.state.height())
                });
            }
            Event::Release(_) => {
                self.log.note(now, || {
                    format!("node {node} releases its branch to {}", n.state.height())
                });
                n.release(&mut ctx);
            }
            Event::Check => {}
        }
        let Ctx {
            out,
            notes,
            violations,
            ..
        } = ctx;
        self.violations.extend(violations);
        if self.cfg.planted == Some(PlantedBug::FinalityByDepth) {
            self.finality
                .record_by_depth(&mut self.nodes[node], now, &mut self.violations);
        } else {
            self.finality
                .record(&mut self.nodes[node], now, &mut self.violations);
        }
        self.absorb(node, now, notes);
        for action in out {
            match action {
                Action::Send { to, msg } => self.send(node, to, now, msg),
                Action::Schedule { at, event } => self.queue.push(at, event),
            }
        }
    }

    fn send(&mut self, from: usize, to: usize, now: i64, msg: Msg) {
        if from == to {
            return;
        }
        self.metrics.messages += 1;
        if let Some(at) = self.network.deliver_at(from, to, now, &mut self.rng) {
            self.queue.push(at, Event::Deliver { from, to, msg });
        }
    }

    fn absorb(&mut self, node: usize, now: i64, notes: Vec<Note>) {
        let ninety = (self.cfg.nodes * 9).div_ceil(10);
        for note in notes {
            match note {
                Note::Minted { hash, optimae } => {
                    self.log.note(now, || {
                        format!("node {node} mints {} ({optimae} optimae)", short(&hash))
                    });
                    self.metrics.minted(&hash, now, optimae);
                    self.metrics.adopted(&hash, now, ninety);
                }
                Note::Adopted(hash) => {
                    if self.metrics_knows(&hash) {
                        self.metrics.adopted(&hash, now, ninety);
                    }
                }
                Note::Reorganized { depth } => {
                    self.log
                        .note(now, || format!("node {node} reorganises, dropping {depth}"));
                    self.metrics.reorganized(depth);
                }
                Note::Proposal(p) => {
                    self.metrics.proposals.count(&p);
                    self.log
                        .note(now, || format!("node {node} proposal: {p:?}"));
                }
                Note::Info(what) => self.log.note(now, || format!("node {node} {what}")),
                Note::Refused(why) => {
                    self.log.note(now, || format!("node {node} refuses {why}"));
                    self.metrics.refused += 1;
                }
            }
        }
    }

    /// Whether the block was minted already (a node's own block is counted at minting).
    fn metrics_knows(&self, _hash: &str) -> bool {
        true
    }

    fn check(&mut self, now: i64) {
        self.queue.push(now + CHECK_EVERY, Event::Check);
        if now < self.cfg.fault_phase || self.converged_at.is_some() {
            return;
        }
        let tip = self.nodes[0].state.tip_hash();
        if self.nodes.iter().all(|n| n.up && n.state.tip_hash() == tip) {
            self.converged_at = Some(now);
            let h = self.nodes[0].state.height();
            self.log.note(now, || format!("one tip at height {h}"));
            return;
        }
        if now > self.cfg.fault_phase + self.cfg.convergence_bound {
            self.violations.push(Violation::NoConvergence {
                tips: self
                    .nodes
                    .iter()
                    .map(|n| (n.index, n.state.height(), n.state.tip_hash().to_owned()))
                    .collect(),
            });
        }
    }

    fn final_checks(&mut self) {
        if self.converged_at.is_none() {
            self.violations.push(Violation::NoConvergence {
                tips: self
                    .nodes
                    .iter()
                    .map(|n| (n.index, n.state.height(), n.state.tip_hash().to_owned()))
                    .collect(),
            });
        }
        let mut replayed = std::collections::BTreeSet::new();
        for n in &self.nodes {
            let leak = u64::from(n.planted == Some(crate::config::PlantedBug::LeakOneUnit));
            invariants::check_supply(n.index, &n.state, leak, &mut self.violations);
            if replayed.insert(n.state.tip_hash().to_owned()) {
                invariants::check_chain(n, &mut self.violations);
            }
        }
        let heal = self.cfg.fault_phase;
        let after_heal = self
            .nodes
            .iter()
            .map(|n| {
                n.blocks
                    .iter()
                    .filter(|b| {
                        self.metrics.minted_at(&b.hash).is_some_and(|t| t >= heal)
                            && b.layout().is_ok_and(|l| !l.accepted.is_empty())
                    })
                    .count()
            })
            .min()
            .unwrap_or(0);
        if after_heal < LIVENESS_BLOCKS {
            self.violations.push(Violation::Liveness {
                detail: format!(
                    "{after_heal} work blocks in the healed phase (at least {LIVENESS_BLOCKS} expected)"
                ),
            });
        }
    }
}
