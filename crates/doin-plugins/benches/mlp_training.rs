//! What one evaluation of the neural-network domain (`wine_mlp`) costs and how far honest
//! evaluators' scores lie apart: for a small, a middling and the largest network the
//! domain allows, the wall time of a 5-fold cross-validated training (median of the
//! evaluations on seeds 1 to 5, each training five networks with candle on the CPU) and
//! the spread of those five scores relative to their median.
//!
//! `cargo bench -p doin-plugins --bench mlp_training`.

use std::time::Instant;

use doin_plugins::mlp::{Hyperparameters, MlpEvaluator, MlpFolds};
use doin_plugins::{Evaluator, SyntheticDataGenerator};
use doin_primitives::Map;

fn main() {
    let points = [
        Hyperparameters {
            hidden: 8,
            log10_learning_rate: -1.5,
            log10_weight_decay: -3.0,
            steps: 60,
        },
        Hyperparameters {
            hidden: 16,
            log10_learning_rate: -1.5,
            log10_weight_decay: -3.0,
            steps: 200,
        },
        Hyperparameters {
            hidden: 32,
            log10_learning_rate: -2.0,
            log10_weight_decay: -3.0,
            steps: 200,
        },
    ];
    let mut generator = MlpFolds::new(&Map::new()).expect("generator");
    let mut evaluator = MlpEvaluator::new(&Map::new()).expect("evaluator");
    for h in points {
        let parameters = h.to_parameters();
        let mut times = Vec::new();
        let mut scores = Vec::new();
        for seed in 1..=5u64 {
            let data = generator.generate(seed).expect("folds");
            let started = Instant::now();
            scores.push(evaluator.evaluate(&parameters, &data).expect("evaluation"));
            times.push(started.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let mut sorted = scores.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[2];
        let spread = scores
            .iter()
            .map(|s| (s - median).abs() / median.abs())
            .fold(0.0, f64::max);
        println!(
            "hidden {:2}, steps {:3}: one evaluation (5 trainings) {:.3} s (median of 5), \
             neg_cv_mse {:.4} (seeds 1-5: {:.4?}), largest divergence from the median {:.1} %",
            h.hidden,
            h.steps,
            times[2],
            median,
            scores,
            100.0 * spread
        );
    }
}
