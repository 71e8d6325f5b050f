//! A large network in virtual time: 200 nodes (half of them optimizers, 8 relay peers
//! each, 20–400 ms links, no faults) for two virtual minutes by default, printing fork rate
//! (work and commitment blocks apart), reorganisation depth, time to finality, propagation
//! and optimae throughput. Two virtual minutes take about 16 s of CPU (test profile); the
//! cost grows faster than the virtual time (five virtual minutes took 160 s: fork rate
//! 80 %, finality p50 56 s, 31 optimae), so a simulated day (`DOIN_SIM_SECS=86400`) is
//! out of reach for now.
//!
//! Run with `cargo bench -p doin-sim --bench network_day`; `DOIN_SIM_NODES` and
//! `DOIN_SIM_SECS` (virtual seconds) change its size.
//!
//! Why the fork rate is high (86 % at 200 nodes × 120 s): commitment blocks. Every node
//! pools every commitment it hears of, so every node is a candidate for the next
//! commitment block, and the mint schedule's stagger (half a target block time, drawn per
//! node from the tip hash) leaves `5 s / 200 = 25 ms` between the first two candidates,
//! far less than the 0.2 s a block takes to reach 90 % of the nodes: about nine in ten
//! commitment blocks are rivals that lose. Work blocks fork less (about half), their
//! candidates being the few optimizers with ready optimae. The rivals cost bandwidth and
//! one-block reorganisations, not safety. Widening the stagger with the number of
//! eligible peers does not help a young network (few peers are eligible on chain while
//! all 200 pool commitments); a fix needs the node to know how many candidates there are,
//! or fewer candidates (only nodes with a commitment of their own), in
//! `doin_node::mint_schedule` (open).

use std::time::Instant;

use doin_sim::config::SECOND;
use doin_sim::{SimConfig, Simulation};

fn env(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let nodes = usize::try_from(env("DOIN_SIM_NODES", 200)).unwrap_or(200);
    let secs = env("DOIN_SIM_SECS", 120);
    let mut cfg = SimConfig::calm(1, nodes);
    cfg.fault_phase = 0;
    cfg.healed_phase = secs * SECOND;
    cfg.convergence_bound = secs * SECOND;
    cfg.mesh_degree = 8;
    let start = Instant::now();
    match Simulation::new(cfg).without_log().run() {
        Ok(report) => {
            println!("{nodes} nodes, {secs} virtual seconds");
            println!("{report}");
            println!("wall time           {:.1} s", start.elapsed().as_secs_f64());
        }
        Err(failure) => {
            eprintln!("{failure}");
            std::process::exit(1);
        }
    }
}
