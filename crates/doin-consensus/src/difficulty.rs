//! The one difficulty rule: the threshold each block's weighted increments must reach,
//! computed from header timestamps only.
//!
//! * Block 1 carries `initial_threshold`; genesis's 1970 timestamp is ignored and block 1
//!   starts the first epoch.
//! * For each later block `n`: `elapsed = max(t_n - t_{n-1}, 0.001 s)`, the block-time EMA
//!   `ema = 0.1 * elapsed + 0.9 * ema` (starting at the target), and a per-block nudge
//!   `T *= 1 + clamp(target / ema - 1, -0.02, +0.02)`.
//! * The block that ends an epoch of `L = difficulty_epoch_length` blocks retargets
//!   instead: `T = T_epoch_start * clamp(L * target / actual, 1/4, 4)` where `actual` is the
//!   epoch's duration. The retarget *replaces* the nudges accumulated in the epoch.
//! * `T` is clamped to `[1e-6, 1e9]` after every step.
//!
//! **Bound.** Within an epoch the threshold stays within `[0.98^(L-1), 1.02^(L-1)]` times
//! the epoch's starting threshold, and from one epoch start to the next it moves by at most
//! a factor of 4 either way (before the absolute clamp). The reference compounds nudges and
//! retarget, up to ~29x per epoch.
//!
//! Only `+ - * /` and comparisons are used, so every platform computes the same bits.

use crate::params::ChainParams;

/// Weight of the newest block time in the EMA.
pub const EMA_ALPHA: f64 = 0.1;
/// Largest per-block nudge, relative.
pub const MAX_NUDGE: f64 = 0.02;
/// Largest epoch retarget factor (and its inverse the smallest).
pub const MAX_RETARGET: f64 = 4.0;
/// Smallest threshold.
pub const MIN_THRESHOLD: f64 = 1e-6;
/// Largest threshold.
pub const MAX_THRESHOLD: f64 = 1e9;
/// Smallest block interval counted, in seconds.
pub const MIN_ELAPSED_SECS: f64 = 0.001;

/// The difficulty rule's state after some block.
#[derive(Debug, Clone, PartialEq)]
pub struct DifficultyState {
    /// The threshold the next block must carry.
    pub threshold: f64,
    /// EMA of block times, seconds.
    pub ema_block_time: f64,
    /// The threshold at the start of the current epoch.
    pub epoch_start_threshold: f64,
    /// Timestamp (µs) of the block that started the current epoch; `None` before block 1.
    pub epoch_start_time: Option<i64>,
    /// Blocks in the current epoch after its starting block.
    pub blocks_in_epoch: u64,
    /// Timestamp (µs) of the last block; `None` before block 1.
    pub last_time: Option<i64>,
}

impl DifficultyState {
    /// The state after genesis.
    pub fn genesis(params: &ChainParams) -> Self {
        DifficultyState {
            threshold: params.initial_threshold,
            ema_block_time: params.target_block_time_secs,
            epoch_start_threshold: params.initial_threshold,
            epoch_start_time: None,
            blocks_in_epoch: 0,
            last_time: None,
        }
    }
}

/// The threshold the next block's header must carry.
pub fn next_threshold(state: &DifficultyState) -> f64 {
    state.threshold
}

/// Clamps a threshold to `[MIN_THRESHOLD, MAX_THRESHOLD]`.
pub fn clamp_threshold(t: f64) -> f64 {
    t.clamp(MIN_THRESHOLD, MAX_THRESHOLD)
}

/// Seconds between two timestamps in µs, at least [`MIN_ELAPSED_SECS`].
pub fn elapsed_secs(from_micros: i64, to_micros: i64) -> f64 {
    let secs = (to_micros.saturating_sub(from_micros)) as f64 / 1e6;
    secs.max(MIN_ELAPSED_SECS)
}

/// The per-block nudge factor `1 + clamp(target / ema - 1, -0.02, +0.02)`.
pub fn nudge_factor(target: f64, ema: f64) -> f64 {
    1.0 + (target / ema - 1.0).clamp(-MAX_NUDGE, MAX_NUDGE)
}

/// The epoch retarget factor `clamp(L * target / actual, 1/4, 4)`.
pub fn retarget_factor(epoch_length: u64, target: f64, actual_secs: f64) -> f64 {
    (epoch_length as f64 * target / actual_secs).clamp(1.0 / MAX_RETARGET, MAX_RETARGET)
}

/// The state after a block with timestamp `time_micros` (blocks 1, 2, ... in order).
pub fn on_block(
    state: &DifficultyState,
    time_micros: i64,
    params: &ChainParams,
) -> DifficultyState {
    let mut s = state.clone();
    let (Some(last), Some(epoch_start)) = (state.last_time, state.epoch_start_time) else {
        // Block 1 starts the first epoch at its own time.
        s.epoch_start_time = Some(time_micros);
        s.last_time = Some(time_micros);
        s.blocks_in_epoch = 0;
        return s;
    };
    let target = params.target_block_time_secs;
    let elapsed = elapsed_secs(last, time_micros);
    s.ema_block_time = EMA_ALPHA * elapsed + (1.0 - EMA_ALPHA) * state.ema_block_time;
    s.blocks_in_epoch += 1;
    s.last_time = Some(time_micros);
    let epoch_length = params.difficulty_epoch_length.max(1);
    if s.blocks_in_epoch >= epoch_length {
        let actual = elapsed_secs(epoch_start, time_micros);
        s.threshold = clamp_threshold(
            state.epoch_start_threshold * retarget_factor(epoch_length, target, actual),
        );
        s.epoch_start_threshold = s.threshold;
        s.epoch_start_time = Some(time_micros);
        s.blocks_in_epoch = 0;
    } else {
        s.threshold = clamp_threshold(state.threshold * nudge_factor(target, s.ema_block_time));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn params() -> ChainParams {
        ChainParams::solo_default()
    }

    const SEC: i64 = 1_000_000;

    #[test]
    fn block_one_keeps_the_initial_threshold_and_starts_the_epoch() {
        let p = params();
        let g = DifficultyState::genesis(&p);
        assert_eq!(next_threshold(&g), 0.5);
        let s1 = on_block(&g, 1_700_000_000 * SEC, &p);
        assert_eq!(next_threshold(&s1), 0.5);
        assert_eq!(s1.epoch_start_time, Some(1_700_000_000 * SEC));
        assert_eq!(s1.blocks_in_epoch, 0);
    }

    #[test]
    fn on_target_blocks_keep_the_threshold() {
        let p = params();
        let mut s = DifficultyState::genesis(&p);
        for i in 0..35 {
            s = on_block(&s, (1000 + 10 * i) * SEC, &p);
            assert_eq!(s.threshold, 0.5);
        }
    }

    #[test]
    fn fast_blocks_nudge_up_by_at_most_two_percent() {
        let p = params();
        let s = on_block(&DifficultyState::genesis(&p), 1000 * SEC, &p);
        let s = on_block(&s, 1000 * SEC + 1, &p);
        // ema = 0.1*0.001 + 0.9*10 = 9.0001: target/ema - 1 = 0.111 → clamped to 0.02
        assert_eq!(s.threshold, 0.5 * 1.02);
    }

    #[test]
    fn epoch_retarget_replaces_the_nudges_and_is_capped_at_four() {
        let p = params();
        let mut s = on_block(&DifficultyState::genesis(&p), 1000 * SEC, &p);
        for i in 1..=10 {
            s = on_block(&s, 1000 * SEC + i, &p);
        }
        assert_eq!(s.blocks_in_epoch, 0);
        assert_eq!(s.threshold, 0.5 * 4.0);
        assert_eq!(s.epoch_start_threshold, 2.0);
        // Slow epoch: 10 blocks in 200 s against 100 s → factor 0.5.
        let start = 1000 * SEC + 10;
        for i in 1..=10 {
            s = on_block(&s, start + 20 * i * SEC, &p);
        }
        assert_eq!(s.threshold, 1.0);
    }

    #[test]
    fn clamps_to_the_absolute_range() {
        assert_eq!(clamp_threshold(0.0), MIN_THRESHOLD);
        assert_eq!(clamp_threshold(1e12), MAX_THRESHOLD);
        assert_eq!(elapsed_secs(5, 5), MIN_ELAPSED_SECS);
    }

    proptest! {
        #[test]
        fn threshold_moves_within_the_stated_bound(
            gaps in proptest::collection::vec(1i64..200_000_000, 1..60)
        ) {
            let p = params();
            let l = p.difficulty_epoch_length as i32;
            let mut s = on_block(&DifficultyState::genesis(&p), 1_000 * SEC, &p);
            let mut t = 1_000 * SEC;
            for gap in gaps {
                t += gap;
                let before = s.clone();
                s = on_block(&s, t, &p);
                let start = before.epoch_start_threshold;
                if s.blocks_in_epoch == 0 {
                    let r = s.threshold / start;
                    prop_assert!((0.25 - 1e-12..=4.0 + 1e-12).contains(&r), "retarget {r}");
                } else {
                    let r = s.threshold / start;
                    let k = s.blocks_in_epoch as i32;
                    prop_assert!(k < l);
                    prop_assert!(r <= 1.02f64.powi(k) * (1.0 + 1e-12), "up {r}");
                    prop_assert!(r >= 0.98f64.powi(k) * (1.0 - 1e-12), "down {r}");
                    prop_assert!(r <= 1.02f64.powi(l - 1) * (1.0 + 1e-12));
                }
            }
        }
    }
}
