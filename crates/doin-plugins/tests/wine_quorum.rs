//! The wine quality domain as a quorum sees it: evaluators with different seeds retrain the
//! model on their own folds and agree within the 5 % tolerance everywhere in the search
//! box, an honest optimizer's report matches them, and a report inflated by 10 % or more is
//! rejected by the consensus rule ([`doin_consensus::quorum::decide`]).

#![allow(clippy::unwrap_used)]

use doin_consensus::quorum::decide;
use doin_plugins::wine::{Hyperparameters, NAME};
use doin_plugins::{Candidate, PluginRegistry};
use doin_primitives::{map, Map};

/// The quorum's relative tolerance (the consensus default).
const TOLERANCE: f64 = 0.05;

fn config() -> Map {
    map! { "seed" => 42i64 }
}

/// Verified performances of `parameters` by one evaluator per seed, each on its own folds,
/// every plugin built through the registry from the same domain config.
fn verify(parameters: &Map, evaluator_seeds: &[u64]) -> Vec<f64> {
    let registry = PluginRegistry::with_builtins();
    evaluator_seeds
        .iter()
        .map(|seed| {
            let data = registry
                .generator(NAME, &config())
                .unwrap()
                .generate(*seed)
                .unwrap();
            registry
                .evaluator(NAME, &config())
                .unwrap()
                .evaluate(parameters, &data)
                .unwrap()
        })
        .collect()
}

/// Points spread over the whole box: its corners, edges and middle.
fn grid() -> Vec<Hyperparameters> {
    let mut points = Vec::new();
    for log10_alpha in [-4.0, -1.0, 2.0] {
        for degree in [1, 2] {
            for clip in [0.5, 2.0, 6.0] {
                points.push(Hyperparameters {
                    log10_alpha,
                    degree,
                    clip,
                });
            }
        }
    }
    points
}

/// What an honest optimizer reports: its own measurement, on the folds of its config seed.
fn honest_report(parameters: &Map) -> f64 {
    verify(parameters, &[42])[0]
}

#[test]
fn honest_evaluators_agree_and_an_honest_report_is_accepted_everywhere_in_the_box() {
    let seeds = [1, 2, 3, 4, 5];
    let mut worst: f64 = 0.0;
    for h in grid() {
        let parameters = h.to_parameters();
        let votes = verify(&parameters, &seeds);
        let report = honest_report(&parameters);
        let decision = decide(&votes, report, TOLERANCE).unwrap();
        assert!(
            decision.accepted && decision.agree_count == votes.len(),
            "{h:?}: votes {votes:?}, report {report}: {decision:?}"
        );
        let median = decision.median;
        for v in votes.iter().chain([&report]) {
            worst = worst.max((v - median).abs() / median.abs());
        }
    }
    // The margin under the tolerance: honest splits differ by far less than 5 %.
    assert!(worst < 0.03, "largest honest divergence {worst}");
}

#[test]
fn reports_inflated_by_ten_percent_or_more_are_rejected() {
    for h in grid() {
        let parameters = h.to_parameters();
        let votes = verify(&parameters, &[7, 8, 9]);
        let honest = honest_report(&parameters);
        for inflation in [0.10, 0.25, 0.5] {
            // Higher is better and the metric is negative: inflating moves it toward 0.
            let inflated = honest * (1.0 - inflation);
            let decision = decide(&votes, inflated, TOLERANCE).unwrap();
            assert!(
                !decision.accepted,
                "{h:?} inflated by {inflation}: {decision:?}"
            );
        }
    }
}

#[test]
fn a_lying_voter_is_outvoted_by_two_honest_ones() {
    let parameters = Hyperparameters {
        log10_alpha: -1.0,
        degree: 2,
        clip: 2.0,
    }
    .to_parameters();
    let mut votes = verify(&parameters, &[11, 12]);
    let report = honest_report(&parameters);
    // A third evaluator claims the model is 20 % worse than it is.
    votes.push(votes[0] * 1.2);
    let decision = decide(&votes, report, TOLERANCE).unwrap();
    assert!(decision.accepted, "{decision:?}");
    assert_eq!(decision.agreements, vec![true, true, false]);
}

#[test]
fn evaluations_are_deterministic_per_seed_and_depend_on_it() {
    let parameters = Hyperparameters {
        log10_alpha: -2.0,
        degree: 2,
        clip: 3.0,
    }
    .to_parameters();
    let a = verify(&parameters, &[5, 6]);
    assert_eq!(a, verify(&parameters, &[5, 6]));
    assert_ne!(
        a[0], a[1],
        "different folds give (slightly) different scores"
    );
}

#[test]
fn an_optimized_champion_improves_on_its_start_and_passes_the_quorum() {
    let registry = PluginRegistry::with_builtins();
    let mut optimizer = registry.optimizer(NAME, &config(), 3).unwrap();
    let start = optimizer.step(None).unwrap();
    let mut champion: Candidate = start.clone();
    for _ in 0..40 {
        champion = optimizer.step(None).unwrap();
    }
    assert!(champion.performance >= start.performance);
    // Tuned ridge regression on this data set: a cross-validated MSE near 0.41.
    assert!(champion.performance > -0.42, "{}", champion.performance);
    let votes = verify(&champion.parameters, &[21, 22, 23]);
    assert!(
        decide(&votes, champion.performance, TOLERANCE)
            .unwrap()
            .accepted
    );
    assert!(
        !decide(&votes, champion.performance * 0.9, TOLERANCE)
            .unwrap()
            .accepted
    );
}
