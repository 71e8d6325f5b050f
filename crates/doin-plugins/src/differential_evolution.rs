//! What the built-in differential evolution optimizers share (the quadratic's
//! [`crate::quadratic::DifferentialEvolution`] and the wine domain's
//! [`crate::wine::WineDifferentialEvolution`]): the `optimizer` key that selects one
//! ([`select_optimizer`]), their config keys, and the DE/rand/1/bin trial of one member
//! from three others.

use doin_primitives::Map;

use crate::config::{optional_count, optional_f64};
use crate::error::PluginError;
use crate::plugin::Optimizer;
use crate::seeded::SeededStream;

/// The config value of `optimizer` that selects a domain's differential evolution.
pub const DIFFERENTIAL_EVOLUTION: &str = "differential_evolution";

/// The optimizer a domain config's `optimizer` key selects: absent, null or
/// `default_name` builds `default`, [`DIFFERENTIAL_EVOLUTION`] builds `evolution`; any other
/// value is refused naming both.
pub fn select_optimizer<D, E>(
    config: &Map,
    default_name: &str,
    default: impl FnOnce() -> Result<D, PluginError>,
    evolution: impl FnOnce() -> Result<E, PluginError>,
) -> Result<Box<dyn Optimizer>, PluginError>
where
    D: Optimizer + 'static,
    E: Optimizer + 'static,
{
    match config.get("optimizer").filter(|v| !v.is_null()) {
        None => Ok(Box::new(default()?)),
        Some(v) => match v.as_str() {
            Some(name) if name == default_name => Ok(Box::new(default()?)),
            Some(DIFFERENTIAL_EVOLUTION) => Ok(Box::new(evolution()?)),
            _ => Err(PluginError::config(
                "optimizer",
                format!("expected `{default_name}` or `{DIFFERENTIAL_EVOLUTION}`, got {v:?}"),
            )),
        },
    }
}

/// An optimizer's defaults for the keys of [`DeSettings::from_config`].
#[derive(Debug, Clone, Copy)]
pub struct DeDefaults {
    /// `population_size` when not configured.
    pub population_size: usize,
    /// The largest `population_size` accepted.
    pub max_population: usize,
    /// `differential_weight` (F) when not configured.
    pub weight: f64,
    /// `crossover_rate` (CR) when not configured.
    pub crossover: f64,
}

/// The settings of a differential evolution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeSettings {
    /// Members of the population.
    pub population_size: usize,
    /// The differential weight F.
    pub weight: f64,
    /// The crossover rate CR.
    pub crossover: f64,
}

impl DeSettings {
    /// Reads `population_size` (4 to `max_population`), `differential_weight` F in (0, 2]
    /// and `crossover_rate` CR in [0, 1], each defaulting to `defaults`.
    pub fn from_config(config: &Map, defaults: &DeDefaults) -> Result<Self, PluginError> {
        let population_size =
            optional_count(config, "population_size", 4..=defaults.max_population)?
                .unwrap_or(defaults.population_size);
        let weight = optional_f64(config, "differential_weight")?.unwrap_or(defaults.weight);
        if !(weight > 0.0 && weight <= 2.0) {
            return Err(PluginError::config(
                "differential_weight",
                format!("expected a number in (0, 2], got {weight}"),
            ));
        }
        let crossover = optional_f64(config, "crossover_rate")?.unwrap_or(defaults.crossover);
        if !(0.0..=1.0).contains(&crossover) {
            return Err(PluginError::config(
                "crossover_rate",
                format!("expected a number in [0, 1], got {crossover}"),
            ));
        }
        Ok(DeSettings {
            population_size,
            weight,
            crossover,
        })
    }
}

/// A uniform index below `n` (n ≤ 10 000, so the modulo bias is below 2^-50).
fn index_below(rng: &mut SeededStream, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

/// Three distinct indices below `n`, all different from `i` (`n` ≥ 4).
fn three_others(rng: &mut SeededStream, n: usize, i: usize) -> [usize; 3] {
    let mut picked = [usize::MAX; 3];
    let mut k = 0;
    while k < 3 {
        let j = index_below(rng, n);
        if j != i && !picked[..k].contains(&j) {
            picked[k] = j;
            k += 1;
        }
    }
    picked
}

/// The DE/rand/1/bin trial for member `i` of `population`: a mutant `a + F (b - c)` of
/// three other distinct members, crossed with member `i` coordinate-wise with probability
/// CR (one coordinate, drawn at random, always from the mutant), each mutant coordinate
/// passed through `clamp` (into the search bounds).
pub fn trial(
    rng: &mut SeededStream,
    settings: &DeSettings,
    population: &[(Vec<f64>, f64)],
    i: usize,
    clamp: impl Fn(f64) -> f64,
) -> Vec<f64> {
    let [a, b, c] = three_others(rng, population.len(), i);
    let x = &population[i].0;
    let forced = index_below(rng, x.len());
    (0..x.len())
        .map(|d| {
            if d == forced || rng.next_unit() < settings.crossover {
                let (pa, pb, pc) = (population[a].0[d], population[b].0[d], population[c].0[d]);
                clamp(pa + settings.weight * (pb - pc))
            } else {
                x[d]
            }
        })
        .collect()
}
