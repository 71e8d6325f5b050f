//! Simulated optimization work on the quadratic domain: what an optimizer proposes and
//! what an evaluator measures. The objective is the built-in domain's shape (a quadratic
//! bowl with its optimum at `x = (1, -2)`), computed in closed form instead of by the
//! plugin's optimizer and evaluator: the simulator tests consensus, the mint schedule and
//! the network, not the optimizer. Everything on chain around it (commitments, reveals,
//! quorum votes, scoring, seals) is real.

use doin_consensus::accepted::Reveal;
use doin_consensus::QuorumVote;
use doin_primitives::hash::sha256_hex;
use doin_primitives::identity::Identity;
use doin_primitives::map;
use doin_primitives::value::{Map, Value};

use crate::config::DOMAIN;

/// The parameters at distance `d` from the optimum on the diagonal.
pub fn parameters(d: f64) -> Map {
    map! { "x" => vec![Value::Float(1.0 + d), Value::Float(-2.0 + d)] }
}

/// The objective (higher is better): `-1e6 * ((x0 - 1)^2 + (x1 + 2)^2)`.
pub fn performance(params: &Map) -> f64 {
    let x: Vec<f64> = params
        .get("x")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    match x.as_slice() {
        [a, b] => -1e6 * ((a - 1.0).powi(2) + (b + 2.0).powi(2)),
        _ => f64::NEG_INFINITY,
    }
}

/// The distance from the optimum of the best performance a chain holds (1.0 before any).
pub fn distance_of(best: Option<f64>) -> f64 {
    best.map_or(1.0, |p| (-p / 2e6).max(0.0).sqrt())
}

/// What an evaluator measures on its seeded synthetic data: the objective, off by up to
/// 0.1 % depending on the seed (well within the quorum's 5 % tolerance).
pub fn evaluate(params: &Map, seed: u64) -> f64 {
    performance(params) * (1.0 + (seed % 1000) as f64 * 1e-6)
}

/// An honest evaluator's sealed vote on `reveal` by `optimizer_id`, with its seed.
pub fn vote(evaluator: &Identity, optimizer_id: &str, reveal: &Reveal, seed: u64) -> QuorumVote {
    QuorumVote {
        optimae_id: reveal.optimae_id(optimizer_id),
        domain_id: DOMAIN.into(),
        evaluator_id: evaluator.peer_id().into(),
        verified_performance: evaluate(&reveal.parameters, seed),
        synthetic_seed: seed,
        synthetic_data_hash: sha256_hex(seed.to_string()),
        timestamp: reveal.timestamp,
        seal: None,
    }
    .sealed(evaluator)
}
