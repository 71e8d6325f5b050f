//! The header rules that need no transaction: the threshold bit for bit, and the bound on a
//! received block's timestamp against the receiver's clock (passed in; no clock is read).

use crate::error::ConsensusError;

/// How far (µs) a received block's timestamp may be ahead of the receiving node's clock:
/// two minutes.
pub const MAX_FUTURE_DRIFT_MICROS: i64 = 120 * 1_000_000;

/// Rule for blocks received from peers: a block timestamped more than
/// [`MAX_FUTURE_DRIFT_MICROS`] after `now_micros` (the receiving node's clock, passed in
/// by the node) is refused. Header timestamps drive difficulty, reputation decay and the
/// stall rule, so a generator must not be able to date its block ahead of real time.
/// A refused block may be offered again once the clock has caught up.
pub fn check_not_in_future(block_micros: i64, now_micros: i64) -> Result<(), ConsensusError> {
    if block_micros.saturating_sub(now_micros) > MAX_FUTURE_DRIFT_MICROS {
        return Err(ConsensusError::TimestampInFuture {
            now_micros,
            got_micros: block_micros,
            max_drift_micros: MAX_FUTURE_DRIFT_MICROS,
        });
    }
    Ok(())
}

/// The header's threshold must be exactly (bit for bit) the rule's.
pub(super) fn check_threshold(expected: f64, got: f64) -> Result<(), ConsensusError> {
    if expected.to_bits() == got.to_bits() {
        Ok(())
    } else {
        Err(ConsensusError::WrongThreshold { expected, got })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_from_the_future_are_refused() {
        let now = 1_767_225_600_000_000;
        assert!(check_not_in_future(now, now).is_ok());
        assert!(check_not_in_future(now - 3_600_000_000, now).is_ok());
        assert!(check_not_in_future(now + MAX_FUTURE_DRIFT_MICROS, now).is_ok());
        assert!(matches!(
            check_not_in_future(now + MAX_FUTURE_DRIFT_MICROS + 1, now),
            Err(ConsensusError::TimestampInFuture { .. })
        ));
        assert!(check_not_in_future(i64::MAX, i64::MIN).is_err());
    }

    #[test]
    fn threshold_must_match_bit_for_bit() {
        assert!(check_threshold(0.5, 0.5).is_ok());
        assert!(check_threshold(0.5, 0.5000000000000001).is_err());
    }
}
