//! # doin-sim
//!
//! A deterministic simulator of a DOIN network in virtual time. A run is a seed: N nodes,
//! each with its own chain, mint real, signed blocks over a simulated network with
//! latency, loss, partitions that heal, crashes and restarts, clock skew and adversaries,
//! all in one thread from one random stream, so a failing seed replays exactly and prints
//! its schedule. Invariants are checked as it runs.
//!
//! ## Bird's eye view
//!
//! * [`config`] — [`SimConfig`]: nodes, parameters and faults, drawn from the seed.
//! * [`queue`] — the priority queue of timed events, the messages, the event log.
//! * [`network`] — relay mesh, latency, loss, partitions.
//! * [`node`] — one node: kept blocks, chain state, pools, message handling, crash and
//!   restart (replay of the kept blocks, as the real node does from its store).
//! * [`import`] — block import and fork choice as the real chain service does them.
//! * [`mint`] — the real mint schedule ([`doin_node::mint_schedule`]), block building,
//!   the optimizer's commit → reveal → quorum votes → mint cycle.
//! * [`optimae`] — the simulated optimization work (the quadratic objective in closed form).
//! * [`memo`] — checks and states that are pure functions of a block or a commitment,
//!   computed once per run.
//! * [`invariants`] — finality agreement, supply, quorums, valid chains.
//! * [`metrics`] — fork rate, reorganisation depth, finality, propagation, throughput.
//! * [`sim`] — [`Simulation`]: the event loop, convergence and liveness checks.
//!
//! ## Real and simulated
//!
//! | part | in the simulator |
//! |---|---|
//! | consensus (validation, difficulty, quorum draw, commit–reveal, rewards, fork choice, finality) | real: `doin-consensus` |
//! | blocks, transactions, seals, hashes | real: `doin-primitives`, ECDSA P-256 keys per node |
//! | when to mint | real: `doin_node::mint_schedule` |
//! | import, reorganisation, restart from kept blocks | the chain service's algorithm, reproduced over in-memory block lists |
//! | gossip | flooding over a random mesh (not GossipSub), sync by locator from a random peer |
//! | optimizer and evaluator | closed-form quadratic objective; the evaluator's seed-dependent noise |
//! | network | latency floor + exponential tail, loss, two-sided partitions |
//! | not modelled | transfers, payment channels, rejections, peer scoring and bans, HTTP, storage failures |

//!
//! ## What it found
//!
//! * Fork choice cycled: a commitment block adds no work and ties went to the lower tip
//!   hash, so honest nodes switched between equal-work branches forever (seed 32, fixed
//!   in `doin_consensus::fork_choice`: at equal work the longer chain wins).
//! * Clock skew starves optimizers (open): a node whose clock runs tens of seconds ahead
//!   (well within the two minutes a validator allows) keeps the tip dated in the others'
//!   future with commitment blocks; `doin_node::mint_schedule` measures the spacing from
//!   the tip's timestamp, so optimizers with slower clocks never find a work block due.
//!   The seeds therefore draw skews of at most 4 s.
//! * Finality by depth is not partition-safe by construction: two sides that each mint
//!   `2 × finality_depth` blocks finalize different blocks. The seeds keep partitions
//!   under 25 s so that the invariant tests the code, not this known limit.

pub mod config;
pub mod import;
pub mod invariants;
pub mod memo;
pub mod metrics;
pub mod mint;
pub mod network;
pub mod node;
pub mod optimae;
pub mod queue;
pub mod rng;
pub mod sim;

pub use config::SimConfig;
pub use invariants::Violation;
pub use metrics::Report;
pub use sim::{Failure, Simulation};

/// Runs the run of `seed` ([`SimConfig::from_seed`]).
pub fn run_seed(seed: u64) -> Result<Report, Box<Failure>> {
    Simulation::new(SimConfig::from_seed(seed)).run()
}
