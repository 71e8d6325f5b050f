//! A large network in virtual time: 200 nodes (a tenth of them optimizers, 8 relay peers
//! each, 20–400 ms links, no faults) for a simulated day by default, printing fork rate
//! (work and commitment blocks apart), reorganisation depth, time to finality, propagation
//! and optimae throughput; every invariant of the simulator is checked as it runs, and at
//! the end every distinct tip is replayed from genesis with full validation. The
//! optimizers improve the endless objective ([`doin_sim::optimae::Objective::Endless`]:
//! a few percent a round, scored as the same relative increment all day), so blocks keep
//! coming; `DOIN_SIM_OBJECTIVE=bowl` runs the converging quadratic bowl instead.
//!
//! Run with `cargo bench -p doin-sim --bench network_day` (release build);
//! `DOIN_SIM_NODES`, `DOIN_SIM_OPTIMIZERS` and `DOIN_SIM_SECS` (virtual seconds) change
//! its size. The cost grows with the virtual time: 30 virtual minutes take about 18 s.
//!
//! A simulated day, 200 nodes, 20 optimizers (two-core machine shared with a build, 1,935
//! s wall, 1.1 GB peak): height 14,398 from 16,461 blocks minted, fork rate 12.5 % (work
//! blocks 19.0 %, commitment blocks 0.9 %), 168,138 reorganisations all one block deep,
//! finality p50 74.4 s / p90 106.7 s, propagation to 90 % of the nodes p50 0.194 s / p90
//! 0.215 s, 18,803 optimae on chain (783 per virtual hour), 503 million events, no
//! invariant broken. Before the simulator's cost stopped growing with the chain (see the
//! crate's doc, Cost), two virtual minutes of 200 nodes with half of them optimizers took
//! 16 s of CPU and five minutes 160 s.
//!
//! The figures below are from runs of two virtual minutes, half of the nodes optimizers,
//! on the quadratic bowl.
//!
//! Why the fork rate was high (86 % at 200 nodes × 120 s, 61 % at 50): every node pooled
//! every commitment it heard of, so every node was a candidate for the next commitment
//! block, and the mint schedule's stagger (half a target block time, drawn per node from
//! the tip hash) left `5 s / 200 = 25 ms` between the first two candidates, far less than
//! the 0.2 s a block takes to reach 90 % of the nodes; and the optimizers whose commitments
//! landed together revealed together, so their work blocks came tens of milliseconds
//! apart. Since `doin_node::mint_schedule` gives the candidates turns a tenth of a target
//! block time apart (the optimizers holding pooled commitments for a commitment block, the
//! recent committers for a work block), the fork rate is 22 % at 200 nodes (27 blocks
//! minted for 21 heights; 107 → 86 → 27 blocks minted as the turns came to commitment
//! blocks, then work blocks, then after a quiet spell) and 15 % at 50 (26 for 22). Release
//! build, default seed:
//!
//! | nodes | before: fork rate (work, commitment) | after | blocks minted / height | finality p50 | optimae |
//! |---|---|---|---|---|---|
//! | 200 | 85.8 % (52.6 %, 91.0 %) | 22.2 % (23.5 %, 20.0 %) | 141 / 20 → 27 / 21 | 46.3 → 57.5 s | 11 → 16 |
//! | 50 | 61.0 % (40.0 %, 71.8 %) | 15.4 % (16.7 %, 12.5 %) | 59 / 23 → 26 / 22 | 46.0 → 50.2 s | 15 → 17 |
//!
//! The rivals left are blocks whose candidates saw different pools or tips (a commitment
//! arriving within a gossip hop of a turn).
//!
//! Since the simulated optimizers run the node's own proposal cycle
//! (`doin_node::proposal_cycle`) instead of one candidate at a time, each commits at every
//! round that betters what it has in flight (up to 16 commitments waiting, 4 revealed), as
//! the node does. More optimae reach the chain, at the cost of gossip and forks (test
//! profile, default seed, before → after):
//!
//! | nodes | blocks minted / height | fork rate (work, commitment) | optimae | events |
//! |---|---|---|---|---|
//! | 50 | 23 / 22 → 30 / 25 | 4.3 % (0 %, 10 %) → 16.7 % (16.7 %, 16.7 %) | 16 → 31 | 119 k → 227 k |
//! | 100 | 26 / 24 → 29 / 25 | 7.7 % (6.3 %, 10 %) → 13.8 % (14.3 %, 12.5 %) | 20 → 32 | 456 k → 816 k |
//! | 200 | 39 / 21 → storm | 46.2 % (53.3 %, 22.2 %) → — | 17 → — | 1.81 M → over 2.4 M |
//!
//! At 200 nodes (100 optimizers, a round every 6 s on average) the commitments' gossip
//! alone passes the simulator's storm bound (100 events per node and virtual second): the
//! node's rule lets every optimizer commit once a round whatever its commitments waiting
//! to land, and each commitment floods the whole network.

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
    let optimizers = usize::try_from(env("DOIN_SIM_OPTIMIZERS", (nodes / 10) as i64))
        .unwrap_or(nodes / 10)
        .clamp(1, nodes.max(1));
    let mut cfg = SimConfig::calm(1, nodes);
    // Optimizers spread evenly over the node indices.
    cfg.optimizers = (0..optimizers).map(|k| k * nodes / optimizers).collect();
    cfg.fault_phase = 0;
    cfg.healed_phase = secs * SECOND;
    cfg.convergence_bound = secs * SECOND;
    cfg.mesh_degree = 8;
    if std::env::var("DOIN_SIM_OBJECTIVE").as_deref() != Ok("bowl") {
        cfg.objective = doin_sim::optimae::Objective::Endless;
    }
    let start = Instant::now();
    match Simulation::new(cfg).without_log().run() {
        Ok(report) => {
            println!("{nodes} nodes ({optimizers} optimizers), {secs} virtual seconds");
            println!("{report}");
            println!("wall time           {:.1} s", start.elapsed().as_secs_f64());
        }
        Err(failure) => {
            eprintln!("{failure}");
            std::process::exit(1);
        }
    }
}
