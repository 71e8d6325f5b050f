//! Simulated optimization work on the quadratic domain: what an optimizer proposes and
//! what an evaluator measures, in closed form instead of by the plugin's optimizer and
//! evaluator: the simulator tests consensus, the mint schedule and the network, not the
//! optimizer. Everything on chain around it (commitments, reveals, quorum votes, scoring,
//! seals) is real. Two objectives ([`Objective`]):
//!
//! * [`Objective::Bowl`], the built-in domain's shape (a quadratic bowl with its optimum
//!   at `x = (1, -2)`): each candidate closes 2–8 % of the distance to the optimum, so a
//!   network converges within a few hundred optimae, as a real domain does; then the
//!   increments fall below any threshold and only commitment blocks are minted.
//! * [`Objective::Endless`], for runs of virtual hours (the `network_day` bench): each
//!   candidate betters the best by 0.5–2 % of its value, which the chain scores as the same
//!   relative increment whatever the best, and the value (`exp(70 x0)`, `x0` in `[0, 10]`
//!   within the domain's bounds) leaves room for about 50,000 improvements.

use doin_consensus::accepted::Reveal;
use doin_consensus::QuorumVote;
use doin_primitives::hash::sha256_hex;
use doin_primitives::identity::Identity;
use doin_primitives::map;
use doin_primitives::value::{Map, Value};

use crate::config::DOMAIN;

/// What the simulated optimizers improve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Objective {
    /// The quadratic bowl: converges, as a real domain does.
    #[default]
    Bowl,
    /// A value that grows by a few percent a round for a simulated day.
    Endless,
}

/// The endless objective's scale: `performance = exp(ENDLESS_SCALE * x0)`.
const ENDLESS_SCALE: f64 = 70.0;

/// The largest `x0` the domain's bounds allow.
const ENDLESS_X0_MAX: f64 = 10.0;

impl Objective {
    /// A candidate that improves on `best` (the best the optimizer knows; none before
    /// any) by `step`, a share drawn in `[0.02, 0.08]`: of the distance to the bowl's
    /// optimum, or a quarter of it of the endless value.
    pub fn candidate(self, best: Option<f64>, step: f64) -> Map {
        match self {
            Objective::Bowl => parameters(distance_of(best) * (1.0 - step)),
            Objective::Endless => {
                let best = best.unwrap_or(1.0).max(1.0);
                let x0 = ((best * (1.0 + step / 4.0)).ln() / ENDLESS_SCALE).min(ENDLESS_X0_MAX);
                map! { "x" => vec![Value::Float(x0), Value::Float(0.0)] }
            }
        }
    }

    /// The value of `params` (higher is better).
    pub fn performance(self, params: &Map) -> f64 {
        match self {
            Objective::Bowl => performance(params),
            Objective::Endless => params
                .get("x")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(Value::as_f64)
                .map_or(f64::NEG_INFINITY, |x0| (ENDLESS_SCALE * x0).exp()),
        }
    }

    /// What an evaluator measures on its seeded synthetic data: the value, off by up to
    /// 0.1 % depending on the seed (well within the quorum's 5 % tolerance).
    pub fn evaluate(self, params: &Map, seed: u64) -> f64 {
        self.performance(params) * (1.0 + (seed % 1000) as f64 * 1e-6)
    }
}

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

/// An honest evaluator's sealed vote on `reveal` by `optimizer_id` under `objective`, with
/// its seed.
pub fn vote(
    evaluator: &Identity,
    objective: Objective,
    optimizer_id: &str,
    reveal: &Reveal,
    seed: u64,
) -> QuorumVote {
    QuorumVote {
        optimae_id: reveal.optimae_id(optimizer_id),
        domain_id: DOMAIN.into(),
        evaluator_id: evaluator.peer_id().into(),
        verified_performance: objective.evaluate(&reveal.parameters, seed),
        synthetic_seed: seed,
        synthetic_data_hash: sha256_hex(seed.to_string()),
        timestamp: reveal.timestamp,
        seal: None,
    }
    .sealed(evaluator)
}
