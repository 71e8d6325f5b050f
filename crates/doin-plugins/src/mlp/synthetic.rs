//! The neural-network domain's evaluation data: a seeded assignment of every wine to a
//! cross-validation fold, and the seed from which each fold's network is initialised.

use doin_primitives::Map;

use crate::config::optional_count;
use crate::error::PluginError;
use crate::plugin::{SyntheticData, SyntheticDataGenerator};
use crate::wine::folds_data;

/// Names this generator's rule inside the data.
pub const GENERATOR: &str = "wine_mlp/folds-v1";
/// `folds` when not configured: each evaluation trains this many networks.
pub const DEFAULT_FOLDS: usize = 5;
/// The allowed numbers of folds.
const FOLDS_RANGE: std::ops::RangeInclusive<usize> = 2..=10;

/// The `folds` key of a domain config (default [`DEFAULT_FOLDS`], 2 to 10).
pub fn configured_folds(config: &Map) -> Result<usize, PluginError> {
    Ok(optional_count(config, "folds", FOLDS_RANGE)?.unwrap_or(DEFAULT_FOLDS))
}

/// Generates `{"dataset", "fold_of", "folds", "generator", "n_samples", "seed"}`: the folds
/// of [`fold_assignment`] for `seed` (the wine quality domain's rule) and the seed itself,
/// from which the evaluator initialises each fold's network.
#[derive(Debug, Clone)]
pub struct MlpFolds {
    folds: usize,
}

impl MlpFolds {
    /// Reads `folds` from the domain's `synthetic_data_config`.
    pub fn new(config: &Map) -> Result<Self, PluginError> {
        Ok(MlpFolds {
            folds: configured_folds(config)?,
        })
    }
}

impl SyntheticDataGenerator for MlpFolds {
    fn generate(&mut self, seed: u64) -> Result<SyntheticData, PluginError> {
        folds_data(seed, self.folds, GENERATOR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::{map, Value};

    #[test]
    fn data_carries_the_folds_the_seed_and_its_hash() {
        let mut g = MlpFolds::new(&Map::new()).unwrap();
        let d = g.generate(3).unwrap();
        assert!(d.verify().is_ok());
        assert_eq!(d, g.generate(3).unwrap());
        assert_ne!(d.data_hash, g.generate(4).unwrap().data_hash);
        let obj = d.data.as_object().unwrap();
        assert_eq!(obj["folds"], Value::Int(DEFAULT_FOLDS as i64));
        assert_eq!(obj["seed"].as_f64(), Some(3.0));
        assert_eq!(obj["fold_of"].as_array().unwrap().len(), 1599);
        assert!(MlpFolds::new(&map! { "folds" => 11i64 }).is_err());
    }
}
