//! The reference's `DifficultyController` as a pure state transition.
//!
//! Per block: `elapsed = max(0.001, t - last_block_time)`; the EMA of block times moves by
//! `0.1·elapsed + 0.9·ema`; the threshold is nudged by `clamp(target/ema - 1, ±0.02)`;
//! every `epoch_length` blocks it is further multiplied by
//! `clamp(epoch_length·target / (t - epoch_start_time), 1/4, 4)`; the threshold always stays
//! in `[1e-6, 1e9]`.
//!
//! Reference behaviour kept here, and fixed by DOIN's own rules elsewhere:
//! * the per-block nudges compound on top of the 4× epoch clamp, so one 100-block epoch can
//!   move the threshold by about 29× (`1.02^100 · 4`), not the documented 4×;
//! * the reference reads the wall clock: it starts both clocks at its start-up time and
//!   takes `block_timestamp or time.time()` (a timestamp of `0.0` means "now"). Here every
//!   time is an argument: [`DifficultyState::new`] takes the start time and
//!   [`on_new_block`] uses the timestamp it is given, `0.0` included;
//! * `epoch_start_index` is never updated.

use doin_primitives::value::{Map, Value};

use super::python::{clamp, py_max};

/// The reference's default target block time, in seconds.
pub const DEFAULT_TARGET_BLOCK_TIME: f64 = 600.0;
/// The reference's default number of blocks per epoch.
pub const EPOCH_LENGTH: i64 = 100;
/// The epoch correction is clamped to `[1/4, 4]`.
pub const MAX_ADJUSTMENT_FACTOR: f64 = 4.0;
/// The weight of the newest block time in the EMA.
pub const EMA_ALPHA: f64 = 0.1;
/// The threshold's floor.
pub const MIN_THRESHOLD: f64 = 1e-6;
/// The threshold's ceiling.
pub const MAX_THRESHOLD: f64 = 1e9;
/// The per-block nudge is clamped to `±2 %`.
pub const PER_BLOCK_CORRECTION_LIMIT: f64 = 0.02;
/// The smallest elapsed time the EMA sees.
pub const MIN_ELAPSED: f64 = 0.001;

/// The reference's `DifficultyState` (the eight keys of its `to_dict`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DifficultyState {
    /// The threshold the next block must reach.
    pub current_threshold: f64,
    /// The target block time, in seconds.
    pub target_block_time: f64,
    /// Never updated by the reference.
    pub epoch_start_index: i64,
    /// When the current epoch started (Unix seconds).
    pub epoch_start_time: f64,
    /// EMA of block times, in seconds.
    pub ema_block_time: f64,
    /// The previous block's time (Unix seconds).
    pub last_block_time: f64,
    /// Blocks seen in the current epoch.
    pub blocks_in_epoch: i64,
    /// Epoch corrections applied so far.
    pub total_adjustments: i64,
}

impl DifficultyState {
    /// The state of a fresh `DifficultyController(target_block_time, initial_threshold)`
    /// whose clocks start at `start_time` (the EMA starts at the target).
    pub fn new(target_block_time: f64, initial_threshold: f64, start_time: f64) -> Self {
        DifficultyState {
            current_threshold: initial_threshold,
            target_block_time,
            epoch_start_index: 0,
            epoch_start_time: start_time,
            ema_block_time: target_block_time,
            last_block_time: start_time,
            blocks_in_epoch: 0,
            total_adjustments: 0,
        }
    }

    /// The reference's `to_dict()`, keys in its order.
    pub fn to_map(&self) -> Map {
        doin_primitives::map! {
            "current_threshold" => self.current_threshold,
            "target_block_time" => self.target_block_time,
            "epoch_start_index" => self.epoch_start_index,
            "epoch_start_time" => self.epoch_start_time,
            "ema_block_time" => self.ema_block_time,
            "last_block_time" => self.last_block_time,
            "blocks_in_epoch" => self.blocks_in_epoch,
            "total_adjustments" => self.total_adjustments,
        }
    }

    /// Reads the reference's `to_dict()` form; `None` when a key is missing or mistyped.
    pub fn from_map(m: &Map) -> Option<Self> {
        let f = |k: &str| m.get(k).and_then(Value::as_f64).filter(|x| x.is_finite());
        let i = |k: &str| m.get(k).and_then(Value::as_i64);
        Some(DifficultyState {
            current_threshold: f("current_threshold")?,
            target_block_time: f("target_block_time")?,
            epoch_start_index: i("epoch_start_index")?,
            epoch_start_time: f("epoch_start_time")?,
            ema_block_time: f("ema_block_time")?,
            last_block_time: f("last_block_time")?,
            blocks_in_epoch: i("blocks_in_epoch")?,
            total_adjustments: i("total_adjustments")?,
        })
    }
}

/// The reference's `on_new_block` for a controller with `epoch_length`: the state after a
/// block stamped `block_timestamp` (Unix seconds). The new threshold is
/// `current_threshold` of the result.
pub fn on_new_block(
    state: &DifficultyState,
    epoch_length: i64,
    block_timestamp: f64,
) -> DifficultyState {
    let mut s = *state;
    let now = block_timestamp;

    let elapsed = py_max(MIN_ELAPSED, now - s.last_block_time);
    s.ema_block_time = EMA_ALPHA * elapsed + (1.0 - EMA_ALPHA) * s.ema_block_time;

    // Per-block nudge.
    if s.ema_block_time > 0.0 {
        let ratio = s.target_block_time / s.ema_block_time;
        let correction = clamp(
            ratio - 1.0,
            -PER_BLOCK_CORRECTION_LIMIT,
            PER_BLOCK_CORRECTION_LIMIT,
        );
        s.current_threshold *= 1.0 + correction;
        s.current_threshold = clamp(s.current_threshold, MIN_THRESHOLD, MAX_THRESHOLD);
    }

    s.blocks_in_epoch += 1;
    s.last_block_time = now;

    // Epoch boundary.
    if s.blocks_in_epoch >= epoch_length {
        let actual = now - s.epoch_start_time;
        let target = epoch_length as f64 * s.target_block_time;
        if actual > 0.0 && target > 0.0 {
            let ratio = clamp(
                target / actual,
                1.0 / MAX_ADJUSTMENT_FACTOR,
                MAX_ADJUSTMENT_FACTOR,
            );
            s.current_threshold *= ratio;
            s.current_threshold = clamp(s.current_threshold, MIN_THRESHOLD, MAX_THRESHOLD);
            s.total_adjustments += 1;
        }
        s.epoch_start_time = now;
        s.blocks_in_epoch = 0;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_sequence() {
        let want = [
            1.02,
            1.0404,
            1.061208,
            1.08243216,
            1.1040808032,
            1.126162419264,
            1.14868566764928,
            1.1716593810022657,
            1.195092568622311,
            2.4379888399895147,
        ];
        let mut s = DifficultyState::new(10.0, 1.0, 1000.0);
        for (i, w) in want.iter().enumerate() {
            s = on_new_block(&s, 10, 1000.0 + 5.0 * (i as f64 + 1.0));
            assert_eq!(s.current_threshold, *w, "block {}", i + 1);
        }
        assert_eq!(s.total_adjustments, 1);
        assert_eq!(s.blocks_in_epoch, 0);
    }

    #[test]
    fn epoch_can_move_threshold_about_29x() {
        let mut s = DifficultyState::new(600.0, 1.0, 0.0);
        for i in 1..=100 {
            s = on_new_block(&s, 100, i as f64 * 0.01);
        }
        assert!(s.current_threshold > 28.0, "{}", s.current_threshold);
    }

    #[test]
    fn dict_round_trip() {
        let s = DifficultyState::new(60.0, 2.5, 1234.5);
        assert_eq!(DifficultyState::from_map(&s.to_map()), Some(s));
    }
}
