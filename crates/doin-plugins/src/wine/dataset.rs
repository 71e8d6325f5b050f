//! The red wine quality data set (1,599 wines, 11 physico-chemical measurements, a quality
//! score from 0 to 10), as the `linfa-datasets` crate ships it, standardized once per
//! process.

use std::sync::OnceLock;

/// Number of measurements per wine.
pub const N_FEATURES: usize = 11;
/// Number of wines.
pub const N_SAMPLES: usize = 1599;
/// The data set's name inside synthetic data.
pub const DATASET: &str = "winequality-red";
/// The measurements' names, in column order (the data set's, a space written `_`).
pub const FEATURE_NAMES: [&str; N_FEATURES] = [
    "fixed_acidity",
    "volatile_acidity",
    "citric_acid",
    "residual_sugar",
    "chlorides",
    "free_sulfur_dioxide",
    "total_sulfur_dioxide",
    "density",
    "pH",
    "sulphates",
    "alcohol",
];

/// The wines: z-scored measurements and quality scores.
#[derive(Debug, Clone, PartialEq)]
pub struct WineData {
    /// Row-major `N_SAMPLES x N_FEATURES`: each measurement minus its mean, divided by its
    /// standard deviation (both over the whole data set; they use no quality score).
    pub z: Vec<f64>,
    /// The quality score of each wine.
    pub quality: Vec<f64>,
    /// Each measurement's mean, in the data set's units.
    pub mean: [f64; N_FEATURES],
    /// Each measurement's standard deviation (population), in the data set's units.
    pub sd: [f64; N_FEATURES],
}

impl WineData {
    /// The z-scored measurements of wine `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.z[i * N_FEATURES..(i + 1) * N_FEATURES]
    }

    /// Number of wines.
    pub fn len(&self) -> usize {
        self.quality.len()
    }

    /// Whether there are no wines.
    pub fn is_empty(&self) -> bool {
        self.quality.is_empty()
    }
}

/// The data set, decompressed, parsed and standardized on first use.
pub fn wine_data() -> &'static WineData {
    static DATA: OnceLock<WineData> = OnceLock::new();
    DATA.get_or_init(load)
}

fn load() -> WineData {
    let ds = linfa_datasets::winequality();
    let n = ds.records.nrows();
    let mut z: Vec<f64> = ds.records.iter().copied().collect();
    let mut means = [0.0; N_FEATURES];
    let mut sds = [0.0; N_FEATURES];
    for j in 0..N_FEATURES {
        let mean = (0..n).map(|i| z[i * N_FEATURES + j]).sum::<f64>() / n as f64;
        let var = (0..n)
            .map(|i| (z[i * N_FEATURES + j] - mean).powi(2))
            .sum::<f64>()
            / n as f64;
        let sd = var.sqrt().max(f64::MIN_POSITIVE);
        means[j] = mean;
        sds[j] = sd;
        for i in 0..n {
            z[i * N_FEATURES + j] = (z[i * N_FEATURES + j] - mean) / sd;
        }
    }
    let quality = ds.targets.iter().map(|q| *q as f64).collect();
    WineData {
        z,
        quality,
        mean: means,
        sd: sds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_data_set_is_standardized() {
        let d = wine_data();
        assert_eq!(d.len(), N_SAMPLES);
        assert_eq!(d.z.len(), N_SAMPLES * N_FEATURES);
        for j in 0..N_FEATURES {
            let col: Vec<f64> = (0..d.len()).map(|i| d.row(i)[j]).collect();
            let mean = col.iter().sum::<f64>() / col.len() as f64;
            let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / col.len() as f64;
            assert!(mean.abs() < 1e-9 && (var - 1.0).abs() < 1e-9, "feature {j}");
        }
        assert!(d.quality.iter().all(|q| (3.0..=8.0).contains(q)));
    }
}
