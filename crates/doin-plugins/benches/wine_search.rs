//! How the wine quality optimizer searches, without a network: for eight optimizers (the
//! config's `seed` 7, node rng seeds 0 to 7) in the larger search space
//! (`"feature_selection": true`, 14 parameters), the best score on the optimizer's own
//! folds after 100 / 200 / 400 / 800 / 1,600 steps, and how that best point scores on
//! folds drawn from three other seeds (what evaluators measure: the gap is the optimizer's
//! overfit to its folds). Then the steps each optimizer needs to reach a target on its own
//! folds. Printed for the default (1+1) evolution strategy and for differential evolution
//! (`"optimizer": "differential_evolution"`), both making two fits per step.
//!
//! `cargo bench -p doin-plugins --bench wine_search` (`DOIN_BENCH_STEPS`, default 1600).

use std::time::Instant;

use doin_plugins::wine::{fold_assignment, wine_data, wine_optimizer, SearchSpace};
use doin_primitives::{map, Map};

const CHECKPOINTS: [usize; 5] = [100, 200, 400, 800, 1600];
const TARGETS: [f64; 3] = [-0.397, -0.395, -0.392];

fn config(optimizer: &str) -> Map {
    map! {
        "seed" => 7i64,
        "feature_selection" => true,
        "optimizer" => optimizer,
    }
}

/// Mean score of `parameters` on the folds of seeds 101, 102, 103.
fn elsewhere(space: &SearchSpace, parameters: &Map) -> f64 {
    let data = wine_data();
    let scores: Vec<f64> = (101..104)
        .map(|s| {
            let folds = fold_assignment(s, data.len(), 10);
            space.score(data, parameters, &folds, 10).expect("score")
        })
        .collect();
    scores.iter().sum::<f64>() / scores.len() as f64
}

fn main() {
    let steps: usize = std::env::var("DOIN_BENCH_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1600);
    for optimizer in ["evolution_strategy", "differential_evolution"] {
        let cfg = config(optimizer);
        let space = SearchSpace::from_config(&cfg).expect("space");
        println!("{optimizer}");
        let mut reached: Vec<Vec<Option<usize>>> = vec![Vec::new(); TARGETS.len()];
        let started = Instant::now();
        for rng in 0..8u64 {
            let mut opt = wine_optimizer(&cfg, rng).expect("optimizer");
            let mut at = Vec::new();
            let mut first: Vec<Option<usize>> = vec![None; TARGETS.len()];
            let mut best = None;
            for step in 1..=steps {
                let c = opt.step(None).expect("step");
                for (i, t) in TARGETS.iter().enumerate() {
                    if first[i].is_none() && c.performance >= *t {
                        first[i] = Some(step);
                    }
                }
                if CHECKPOINTS.contains(&step) {
                    at.push(c.performance);
                }
                best = Some(c);
            }
            let best = best.expect("steps");
            println!(
                "  rng {rng}: own folds {:?}; best point on other folds {:.5}",
                at.iter().map(|p| format!("{p:.5}")).collect::<Vec<_>>(),
                elsewhere(&space, &best.parameters)
            );
            for (i, f) in first.into_iter().enumerate() {
                reached[i].push(f);
            }
        }
        for (t, r) in TARGETS.iter().zip(&reached) {
            let mut got: Vec<usize> = r.iter().flatten().copied().collect();
            got.sort_unstable();
            println!(
                "  target {t}: reached by {} of 8 within {steps} steps, steps {got:?}",
                got.len()
            );
        }
        println!("  ({:.1} s)", started.elapsed().as_secs_f64());
    }
}
