//! A large network in virtual time: 200 nodes (half of them optimizers, 8 relay peers
//! each, 20–400 ms links, no faults) for a simulated day by default, printing fork rate,
//! reorganisation depth, time to finality, propagation and optimae throughput.
//!
//! Run with `cargo bench -p doin-sim --bench network_day`; `DOIN_SIM_NODES` and
//! `DOIN_SIM_SECS` (virtual seconds) shrink it.

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
    let secs = env("DOIN_SIM_SECS", 86_400);
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
