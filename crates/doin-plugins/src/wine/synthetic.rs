//! The wine domain's evaluation data: a seeded assignment of every wine to a
//! cross-validation fold, so that each evaluator trains and validates on its own splits.

use doin_primitives::{Map, Value};

use super::dataset::{wine_data, DATASET};
use crate::config::optional_count;
use crate::error::PluginError;
use crate::plugin::{SyntheticData, SyntheticDataGenerator};
use crate::seeded::SeededStream;

/// Names this generator's rule inside the data.
pub const GENERATOR: &str = "wine_quality/folds-v1";
/// `folds` when not configured.
pub const DEFAULT_FOLDS: usize = 10;
/// The allowed numbers of folds.
pub(crate) const FOLDS_RANGE: std::ops::RangeInclusive<usize> = 2..=10;

/// The `folds` key of a domain config (default [`DEFAULT_FOLDS`], within [`FOLDS_RANGE`]).
pub fn configured_folds(config: &Map) -> Result<usize, PluginError> {
    Ok(optional_count(config, "folds", FOLDS_RANGE)?.unwrap_or(DEFAULT_FOLDS))
}

/// The fold of each of `n` wines for `seed`: a Fisher–Yates shuffle of `0..n` drawn from
/// `SeededStream("doin/wine_quality/folds/{seed}")` (for `i` from `n - 1` down to 1, swap
/// position `i` with position `floor(u * (i + 1))`, `u` the next uniform draw), then the
/// wine at shuffled position `j` goes to fold `j mod folds`. Fold sizes differ by at most one.
pub fn fold_assignment(seed: u64, n: usize, folds: usize) -> Vec<usize> {
    let mut rng = SeededStream::new(format!("doin/wine_quality/folds/{seed}"));
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = ((rng.next_unit() * (i + 1) as f64) as usize).min(i);
        order.swap(i, j);
    }
    let mut fold_of = vec![0; n];
    for (position, wine) in order.into_iter().enumerate() {
        fold_of[wine] = position % folds.max(1);
    }
    fold_of
}

/// Generates `{"dataset", "fold_of", "folds", "generator", "n_samples", "seed"}`.
#[derive(Debug, Clone)]
pub struct WineFolds {
    folds: usize,
}

impl WineFolds {
    /// Reads `folds` from the domain's `synthetic_data_config`.
    pub fn new(config: &Map) -> Result<Self, PluginError> {
        Ok(WineFolds {
            folds: configured_folds(config)?,
        })
    }
}

impl SyntheticDataGenerator for WineFolds {
    fn generate(&mut self, seed: u64) -> Result<SyntheticData, PluginError> {
        folds_data(seed, self.folds, GENERATOR)
    }
}

/// `{"dataset", "fold_of", "folds", "generator", "n_samples", "seed"}`: every wine's fold
/// by [`fold_assignment`] for `seed`, under the name of the `generator` rule (the wine
/// domains share the folds, each names its own rule).
pub fn folds_data(seed: u64, folds: usize, generator: &str) -> Result<SyntheticData, PluginError> {
    let n = wine_data().len();
    let fold_of = fold_assignment(seed, n, folds);
    let mut data = Map::new();
    data.insert("dataset".into(), DATASET.into());
    data.insert(
        "fold_of".into(),
        Value::Array(fold_of.into_iter().map(|f| Value::Int(f as i64)).collect()),
    );
    data.insert("folds".into(), Value::Int(folds as i64));
    data.insert("generator".into(), generator.into());
    data.insert("n_samples".into(), Value::Int(n as i64));
    data.insert("seed".into(), seed.into());
    SyntheticData::new(Value::Object(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::map;

    #[test]
    fn folds_are_balanced_deterministic_and_seed_dependent() {
        let a = fold_assignment(7, 1599, 5);
        assert_eq!(a, fold_assignment(7, 1599, 5));
        assert_ne!(a, fold_assignment(8, 1599, 5));
        let mut sizes = [0usize; 5];
        for f in &a {
            sizes[*f] += 1;
        }
        assert!(sizes.iter().all(|s| (319..=320).contains(s)), "{sizes:?}");
    }

    #[test]
    fn data_carries_the_assignment_and_its_hash() {
        let mut g = WineFolds::new(&map! { "folds" => 4i64 }).unwrap();
        let d = g.generate(3).unwrap();
        assert!(d.verify().is_ok());
        assert_eq!(d, g.generate(3).unwrap());
        assert_ne!(d.data_hash, g.generate(4).unwrap().data_hash);
        let obj = d.data.as_object().unwrap();
        assert_eq!(obj["folds"], Value::Int(4));
        assert_eq!(obj["fold_of"].as_array().unwrap().len(), 1599);
    }

    #[test]
    fn folds_outside_the_range_are_refused() {
        for bad in [Value::Int(1), Value::Int(11), Value::from("5")] {
            assert!(matches!(
                WineFolds::new(&map! { "folds" => bad }),
                Err(PluginError::Config { .. })
            ));
        }
    }
}
