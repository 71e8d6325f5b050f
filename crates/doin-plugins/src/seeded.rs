//! A seeded random stream defined by SHA-256, so that any implementation can reproduce it.
//!
//! Block `k` (k = 0, 1, 2, …) of the stream labelled `L` is `SHA-256(L ":" k)`, with `k` in
//! decimal; each block yields four `u64`s, read big-endian from bytes 0–7, 8–15, 16–23 and
//! 24–31. A uniform float in `[0, 1)` is the top 53 bits of one `u64` divided by 2^53.
//! Standard normal draws use Box–Muller on two uniforms (`u1` mapped into `(0, 1]`) and
//! return both outputs in turn.
//!
//! Domain rules that every node must reproduce (targets, synthetic data) use
//! [`uniform_at`], which needs no state: the `i`-th uniform of stream `L` is the first
//! `u64` of `SHA-256(L ":" i)`.

use sha2::{Digest, Sha256};

/// 2^-53: maps the top 53 bits of a `u64` onto `[0, 1)`.
const UNIT: f64 = 1.0 / (1u64 << 53) as f64;

/// The `index`-th uniform draw in `[0, 1)` of the stream labelled `label`: the top 53 bits
/// of the first big-endian `u64` of `SHA-256(label ":" index)`, divided by 2^53.
pub fn uniform_at(label: &str, index: u64) -> f64 {
    let block = Sha256::digest(format!("{label}:{index}").as_bytes());
    to_unit(first_u64(&block))
}

fn first_u64(block: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&block[..8]);
    u64::from_be_bytes(b)
}

fn to_unit(x: u64) -> f64 {
    (x >> 11) as f64 * UNIT
}

/// A stateful stream of draws from the labelled SHA-256 counter stream.
#[derive(Debug, Clone)]
pub struct SeededStream {
    label: String,
    counter: u64,
    buffer: [u64; 4],
    used: usize,
    spare_normal: Option<f64>,
}

impl SeededStream {
    /// The stream labelled `label`, from its first block.
    pub fn new(label: impl Into<String>) -> Self {
        SeededStream {
            label: label.into(),
            counter: 0,
            buffer: [0; 4],
            used: 4,
            spare_normal: None,
        }
    }

    /// The next `u64`.
    pub fn next_u64(&mut self) -> u64 {
        if self.used == self.buffer.len() {
            let block = Sha256::digest(format!("{}:{}", self.label, self.counter).as_bytes());
            self.counter += 1;
            for (i, word) in self.buffer.iter_mut().enumerate() {
                *word = first_u64(&block[i * 8..]);
            }
            self.used = 0;
        }
        let x = self.buffer[self.used];
        self.used += 1;
        x
    }

    /// The next uniform draw in `[0, 1)`.
    pub fn next_unit(&mut self) -> f64 {
        to_unit(self.next_u64())
    }

    /// The next uniform draw in `[low, high)`.
    pub fn next_uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.next_unit()
    }

    /// The next standard normal draw (Box–Muller).
    pub fn next_normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        // 1 - u lies in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - self.next_unit();
        let u2 = self.next_unit();
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = std::f64::consts::TAU * u2;
        self.spare_normal = Some(r * theta.sin());
        r * theta.cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_is_deterministic_and_label_dependent() {
        let mut a = SeededStream::new("a");
        let mut a2 = SeededStream::new("a");
        let mut b = SeededStream::new("b");
        let xs: Vec<u64> = (0..9).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..9).map(|_| a2.next_u64()).collect();
        let zs: Vec<u64> = (0..9).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn first_draw_of_a_block_matches_uniform_at() {
        let mut s = SeededStream::new("label");
        let first = s.next_unit();
        assert_eq!(first, uniform_at("label", 0));
        for _ in 0..3 {
            s.next_u64();
        }
        assert_eq!(s.next_unit(), uniform_at("label", 1));
    }

    #[test]
    fn uniform_at_pins_the_rule() {
        let block = Sha256::digest(b"x:0");
        let expected = (u64::from_be_bytes([
            block[0], block[1], block[2], block[3], block[4], block[5], block[6], block[7],
        ]) >> 11) as f64
            / 9_007_199_254_740_992.0;
        assert_eq!(uniform_at("x", 0), expected);
        assert!((0.0..1.0).contains(&expected));
    }

    #[test]
    fn normals_have_about_unit_variance() {
        let mut s = SeededStream::new("normals");
        let n = 20_000;
        let draws: Vec<f64> = (0..n).map(|_| s.next_normal()).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|z| (z - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.05, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "variance {var}");
        assert!(draws.iter().all(|z| z.is_finite()));
    }
}
