//! Draws from the run's one random stream (ChaCha8 seeded by the run's seed): uniform
//! ranges and exponential delays, in integer-friendly forms.

use rand_core::RngCore;

/// A uniform `f64` in `[0, 1)`.
pub fn unit(rng: &mut impl RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A uniform integer in `[lo, hi]` (`lo` when `hi <= lo`).
pub fn range_u64(rng: &mut impl RngCore, lo: u64, hi: u64) -> u64 {
    if hi <= lo {
        return lo;
    }
    lo + rng.next_u64() % (hi - lo + 1)
}

/// A uniform `f64` in `[lo, hi)`.
pub fn range_f64(rng: &mut impl RngCore, lo: f64, hi: f64) -> f64 {
    lo + unit(rng) * (hi - lo)
}

/// An exponential delay of mean `mean` µs (capped at twenty means).
pub fn exponential(rng: &mut impl RngCore, mean: i64) -> i64 {
    let u = unit(rng).max(1e-12);
    ((-u.ln()) * mean as f64).min(20.0 * mean as f64) as i64
}

/// Whether an event of probability `p` happens.
pub fn chance(rng: &mut impl RngCore, p: f64) -> bool {
    p > 0.0 && unit(rng) < p
}
