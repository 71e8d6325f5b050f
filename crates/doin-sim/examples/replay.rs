//! Replays simulator runs: `cargo run -p doin-sim --example replay -- SEED [LAST_SEED]`
//! prints each run's figures, or its violations and schedule (the event log) if it fails.
//! With `--calm`, the seed runs a fault-free network of 8 nodes instead, with
//! `--long-partition` [`SimConfig::long_partition`]; with
//! `--finality-by-depth` or `--wait-from-tip-date`, the run plants that old rule
//! ([`PlantedBug`]) to show what it broke.

use doin_sim::config::PlantedBug;
use doin_sim::{SimConfig, Simulation};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let calm = args.iter().any(|a| a == "--calm");
    let long_partition = args.iter().any(|a| a == "--long-partition");
    let verbose = args.iter().any(|a| a == "--log");
    let planted = if args.iter().any(|a| a == "--finality-by-depth") {
        Some(PlantedBug::FinalityByDepth)
    } else if args.iter().any(|a| a == "--wait-from-tip-date") {
        Some(PlantedBug::WaitFromTipDate)
    } else {
        None
    };
    let seeds: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let (first, last) = match seeds.as_slice() {
        [a] => (*a, *a),
        [a, b, ..] => (*a, *b),
        [] => (0, 0),
    };
    let mut failed = 0;
    for seed in first..=last {
        let mut cfg = if calm {
            SimConfig::calm(seed, 8)
        } else if long_partition {
            SimConfig::long_partition(seed)
        } else {
            SimConfig::from_seed(seed)
        };
        cfg.planted = planted.or(cfg.planted);
        let start = std::time::Instant::now();
        let sim = Simulation::new(cfg);
        match sim.run() {
            Ok(report) => {
                println!(
                    "seed {seed}: ok in {:.2} s wall",
                    start.elapsed().as_secs_f64()
                );
                if first == last || verbose {
                    println!("{report}");
                }
            }
            Err(failure) => {
                failed += 1;
                if verbose || first == last {
                    println!("seed {seed}: FAILED\n{failure}");
                } else {
                    println!("seed {seed}: FAILED");
                    for v in &failure.violations {
                        println!("  {v}");
                    }
                }
            }
        }
    }
    if failed > 0 {
        std::process::exit(1);
    }
}
