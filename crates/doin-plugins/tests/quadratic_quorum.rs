//! The quadratic domain as a quorum sees it: honest evaluations of the same parameters by
//! evaluators with different seeds agree within the 5 % tolerance at every performance
//! level, honest reports match them, and reports inflated by 20 % or more are caught.

#![allow(clippy::unwrap_used)]

use doin_plugins::quadratic::{QuadraticProblem, NAME};
use doin_plugins::{Candidate, PluginRegistry};
use doin_primitives::{map, Map, Value};
use proptest::prelude::*;

/// The quorum's relative tolerance (the reference's default).
const TOLERANCE: f64 = 0.05;

/// The quorum's divergence rule: relative to the median, absolute when the median is ~0.
fn divergence(value: f64, median: f64) -> f64 {
    if median.abs() > 1e-10 {
        (value - median).abs() / median.abs()
    } else {
        (value - median).abs()
    }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn domain_config(seed: u64, n_params: usize) -> Map {
    map! {
        "n_params" => n_params as i64,
        "step_size" => 0.5,
        "seed" => seed,
        "param_bounds" => map! { "x" => vec![Value::Float(-20.0), Value::Float(20.0)] },
    }
}

/// Verified performances of `x` by one evaluator per seed, each on its own synthetic data,
/// every plugin built through the registry from the same domain config.
fn verify(config: &Map, x: &[f64], evaluator_seeds: &[u64]) -> Vec<f64> {
    let registry = PluginRegistry::with_builtins();
    let parameters = QuadraticProblem::parameters(x);
    evaluator_seeds
        .iter()
        .map(|seed| {
            let data = registry
                .generator(NAME, config)
                .unwrap()
                .generate(*seed)
                .unwrap();
            registry
                .evaluator(NAME, config)
                .unwrap()
                .evaluate(&parameters, &data)
                .unwrap()
        })
        .collect()
}

/// A point whose honest performance is about `-level`: the target moved along `direction`,
/// clamped to the bounds.
fn point_at_level(problem: &QuadraticProblem, direction: &[f64], level: f64) -> Vec<f64> {
    let norm = direction
        .iter()
        .map(|d| d * d)
        .sum::<f64>()
        .sqrt()
        .max(1e-12);
    problem
        .target
        .iter()
        .zip(direction)
        .map(|(t, d)| problem.bound.clamp(t + d / norm * level.sqrt()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn honest_evaluations_agree_and_match_the_honest_report(
        domain_seed in any::<u64>(),
        direction in prop::collection::vec(-1.0f64..1.0, 10),
        log_level in -6.0f64..4.0,
        evaluator_seeds in prop::collection::vec(any::<u64>(), 3..7),
    ) {
        let config = domain_config(domain_seed, 10);
        let problem = QuadraticProblem::from_config(&config).unwrap();
        let x = point_at_level(&problem, &direction, 10f64.powf(log_level));
        let reported = problem.performance(&x, None);
        let verified = verify(&config, &x, &evaluator_seeds);
        let m = median(&verified);
        for v in &verified {
            prop_assert!(divergence(*v, m) <= TOLERANCE, "vote {v} vs median {m}");
            // Any two honest votes: within (1 + ε) / (1 - ε) - 1 of each other.
            for w in &verified {
                prop_assert!((v - w).abs() <= 0.0203 * w.abs() + 1e-12);
            }
        }
        prop_assert!(divergence(reported, m) <= TOLERANCE, "report {reported} vs median {m}");
    }

    #[test]
    fn reports_inflated_by_twenty_percent_or_more_are_caught(
        domain_seed in any::<u64>(),
        x in prop::collection::vec(-20.0f64..20.0, 10),
        inflation in 0.2f64..1.0,
        evaluator_seeds in prop::collection::vec(any::<u64>(), 3..7),
    ) {
        let config = domain_config(domain_seed, 10);
        let problem = QuadraticProblem::from_config(&config).unwrap();
        let honest = problem.performance(&x, None);
        prop_assume!(honest < -1e-9);
        // Higher is better: inflating moves the (negative) report toward 0.
        let inflated = honest * (1.0 - inflation);
        let m = median(&verify(&config, &x, &evaluator_seeds));
        prop_assert!(divergence(inflated, m) > TOLERANCE, "inflated {inflated} vs median {m}");
    }

    #[test]
    fn evaluations_are_deterministic_per_seed(
        domain_seed in any::<u64>(),
        x in prop::collection::vec(-20.0f64..20.0, 10),
        seed in any::<u64>(),
    ) {
        let config = domain_config(domain_seed, 10);
        prop_assert_eq!(verify(&config, &x, &[seed]), verify(&config, &x, &[seed]));
    }
}

#[test]
fn near_the_target_levels_the_reference_uses() {
    let config = domain_config(42, 10);
    let problem = QuadraticProblem::from_config(&config).unwrap();
    let direction: Vec<f64> = (0..10)
        .map(|i| if i % 3 == 0 { 1.0 } else { -0.5 })
        .collect();
    for level in [100.0, 50.0, 1.0, 1e-3] {
        let x = point_at_level(&problem, &direction, level);
        let reported = problem.performance(&x, None);
        assert!(
            (reported + level).abs() < 1e-6 * level.max(1.0),
            "{reported}"
        );
        let verified = verify(&config, &x, &[1, 2, 3, 4, 5]);
        let m = median(&verified);
        assert!(verified.iter().all(|v| divergence(*v, m) <= TOLERANCE));
        assert!(divergence(reported, m) <= 0.011, "level {level}");
        assert!(divergence(reported * 0.8, m) > 0.15, "level {level}");
    }
}

#[test]
fn an_optimized_champion_passes_the_quorum_and_its_inflated_twin_fails() {
    let registry = PluginRegistry::with_builtins();
    let config = domain_config(42, 10);
    let mut optimizer = registry.optimizer(NAME, &config, 7).unwrap();
    let mut champion = optimizer.step(None).unwrap();
    for _ in 0..3000 {
        champion = optimizer.step(None).unwrap();
        if champion.performance >= -1.0 {
            break;
        }
    }
    assert!(champion.performance >= -1.0, "{}", champion.performance);

    let problem = QuadraticProblem::from_config(&config).unwrap();
    let x = problem.read_x(&champion.parameters).unwrap();
    let m = median(&verify(&config, &x, &[11, 22, 33]));
    assert!(divergence(champion.performance, m) <= TOLERANCE);
    assert!(divergence(champion.performance * 0.8, m) > TOLERANCE);
}

#[test]
fn a_second_node_continues_from_the_first_nodes_champion() {
    let registry = PluginRegistry::with_builtins();
    let config = domain_config(42, 10);
    let mut a = registry.optimizer(NAME, &config, 1).unwrap();
    let mut best = a.step(None).unwrap();
    for _ in 0..200 {
        best = a.step(None).unwrap();
    }
    let mut b = registry.optimizer(NAME, &config, 2).unwrap();
    let migrated = b
        .step(Some(&Candidate {
            parameters: best.parameters.clone(),
            performance: best.performance,
        }))
        .unwrap();
    // Both nodes measure the same problem, so the champion keeps its score on node b.
    assert!(migrated.performance >= best.performance);
}

#[test]
fn every_role_built_from_the_same_config_shares_the_target() {
    // The node hands `optimization_config` to all three plugins when they have no config of
    // their own; target derivation makes them agree without an explicit target.
    let config = domain_config(9, 4);
    let registry = PluginRegistry::with_builtins();
    let problem = QuadraticProblem::from_config(&config).unwrap();
    let data = registry
        .generator(NAME, &config)
        .unwrap()
        .generate(5)
        .unwrap();
    let at_target = QuadraticProblem::parameters(&problem.target);
    let score = registry
        .evaluator(NAME, &config)
        .unwrap()
        .evaluate(&at_target, &data)
        .unwrap();
    assert_eq!(score, 0.0);
}
