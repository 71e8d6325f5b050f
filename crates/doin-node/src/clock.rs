//! The node's clock: the one seam through which the node reads wall time for protocol
//! purposes (the timestamps of the blocks it mints, when a block is due, the reputation
//! decay and quorum a proposal is scored with, the "not in the future" check on received
//! blocks, channel deadlines, the timestamps of the votes and messages it signs).
//!
//! The node runs on a [`SystemClock`]; a test hands the components a [`ManualClock`] and
//! moves time itself, so what depends on time runs without sleeping (Lighthouse's
//! `SlotClock` with its manual clock does the same). Timeouts of I/O (`Instant`-based) are
//! not protocol time and stay on the monotonic clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use doin_primitives::Timestamp;

/// A source of wall time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time (UTC).
    fn now(&self) -> Timestamp;

    /// The current time in µs since the Unix epoch.
    fn now_micros(&self) -> i64 {
        self.now().unix_micros()
    }
}

/// A clock the components of one node share.
pub type SharedClock = Arc<dyn Clock>;

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now_utc()
    }
}

/// The system's wall clock, shared.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that moves only when told to (tests); clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    micros: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock reading `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock {
            micros: Arc::new(AtomicI64::new(start.unix_micros())),
        }
    }

    /// Sets the time to `t`.
    pub fn set(&self, t: Timestamp) {
        self.micros.store(t.unix_micros(), Ordering::SeqCst);
    }

    /// Moves the time on by `d`.
    pub fn advance(&self, d: Duration) {
        let d = i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        self.micros.fetch_add(d, Ordering::SeqCst);
    }

    /// This clock as a [`SharedClock`] (reading the same time as `self`).
    pub fn shared(&self) -> SharedClock {
        Arc::new(self.clone())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_micros(self.micros.load(Ordering::SeqCst))
    }

    fn now_micros(&self) -> i64 {
        self.micros.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_its_clones_share_it() {
        let clock = ManualClock::new(Timestamp::from_unix_secs(1_700_000_000));
        let shared = clock.shared();
        assert_eq!(shared.now_micros(), 1_700_000_000_000_000);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(shared.now_micros(), 1_700_000_001_500_000);
        clock.set(Timestamp::from_unix_secs(5));
        assert_eq!(shared.now(), Timestamp::from_unix_secs(5));
    }

    #[test]
    fn the_system_clock_reads_the_wall_clock() {
        let before = Timestamp::now_utc().unix_micros();
        let read = system().now_micros();
        assert!(read >= before, "{read} < {before}");
    }
}
