//! The per-block threshold rule built into the reference's `ProofOfOptimization`
//! (`_adjust_threshold`), distinct from its `DifficultyController`.
//!
//! `ratio = elapsed / target`, `adjustment = 1 + (ratio - 1) · adjustment_factor`, and the
//! new threshold is `threshold / adjustment` clamped to `[min_threshold, max_threshold]`;
//! nothing changes when `elapsed <= 0` or `target <= 0`. With the defaults (factor 0.25)
//! an instant block multiplies the threshold by 4/3.
//!
//! Reference behaviour kept here: the reference measures `elapsed` with the wall clock
//! since the node's previous block (here it is an argument), the node then overwrites the
//! result with the difficulty controller's, and an adjustment of exactly zero (possible
//! only with a factor above 1) divides by zero: Python raises, this returns the clamp of
//! the resulting infinity (`max_threshold` for a positive threshold).

use super::python::clamp;

/// The reference's default `adjustment_factor`.
pub const DEFAULT_ADJUSTMENT_FACTOR: f64 = 0.25;
/// The reference's default floor.
pub const DEFAULT_MIN_THRESHOLD: f64 = 0.001;
/// The reference's default ceiling.
pub const DEFAULT_MAX_THRESHOLD: f64 = 1000.0;

/// The threshold after a block that took `elapsed` seconds against a `target`.
pub fn adjust_threshold(
    threshold: f64,
    elapsed: f64,
    target: f64,
    adjustment_factor: f64,
    min_threshold: f64,
    max_threshold: f64,
) -> f64 {
    if elapsed <= 0.0 || target <= 0.0 {
        return threshold;
    }
    let ratio = elapsed / target;
    let adjustment = 1.0 + (ratio - 1.0) * adjustment_factor;
    clamp(threshold / adjustment, min_threshold, max_threshold)
}

/// The same rule with the reference's own inputs: `elapsed = now - last_block_time`, both
/// in Unix seconds (the reference reads `now` from the wall clock; here it is an argument).
///
/// The subtraction is part of the result: `(1000.0 + e) - 1000.0` is not always `e`, and
/// the threshold follows the difference actually computed.
pub fn adjust_threshold_at(
    threshold: f64,
    last_block_time: f64,
    now: f64,
    target: f64,
    adjustment_factor: f64,
    min_threshold: f64,
    max_threshold: f64,
) -> f64 {
    adjust_threshold(
        threshold,
        now - last_block_time,
        target,
        adjustment_factor,
        min_threshold,
        max_threshold,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adj(t: f64, elapsed: f64) -> f64 {
        adjust_threshold(
            t,
            elapsed,
            600.0,
            DEFAULT_ADJUSTMENT_FACTOR,
            DEFAULT_MIN_THRESHOLD,
            DEFAULT_MAX_THRESHOLD,
        )
    }

    #[test]
    fn spec_values() {
        assert_eq!(adj(1.0, 300.0), 1.1428571428571428);
        assert_eq!(adj(1.0, 600.0), 1.0);
        assert_eq!(adj(1.0, 1200.0), 0.8);
        assert_eq!(adj(1.0, 0.0), 1.0);
        assert_eq!(adj(0.5, 1e-9), 0.5 / (1.0 + (1e-9 / 600.0 - 1.0) * 0.25));
    }
}
