//! Per-source admission limits, shared by the transfer [`mempool`] and the
//! [`channel_pool`]: `limit` admissions per source (a peer or an HTTP client) per
//! [`RATE_WINDOW`], all of them at once if need be, refilled one admission's worth every
//! `RATE_WINDOW / limit` (governor's GCRA, [`KeyedLimiter`]), tracking at most
//! [`MAX_TRACKED_SOURCES`] sources. A pool asks whether a source is exhausted before it
//! checks a submission and notes only what it admitted, so a refused submission costs its
//! source nothing.
//!
//! [`mempool`]: crate::mempool
//! [`channel_pool`]: crate::channel_pool

use std::time::{Duration, Instant};

use doin_net::keyed_limit::KeyedLimiter;

/// The window admissions are counted in.
pub const RATE_WINDOW: Duration = Duration::from_secs(60);
/// Sources tracked at once; past it, the least recently seen is forgotten.
pub const MAX_TRACKED_SOURCES: usize = 4096;

/// Admissions per source (see the module doc).
#[derive(Debug)]
pub struct RateWindow {
    limit: usize,
    admitted: KeyedLimiter<String>,
}

impl Default for RateWindow {
    fn default() -> Self {
        Self::new(0)
    }
}

impl RateWindow {
    /// A window admitting `limit` per source (0: no limit, nothing tracked).
    pub fn new(limit: usize) -> Self {
        let quota = u32::try_from(limit).unwrap_or(u32::MAX);
        RateWindow {
            limit,
            admitted: KeyedLimiter::per_window(quota, RATE_WINDOW, MAX_TRACKED_SOURCES),
        }
    }

    /// The admissions allowed per source per window (0: no limit).
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Admissions of `source` not yet refilled at `now`.
    pub fn count(&mut self, source: &str, now: Instant) -> usize {
        if self.limit == 0 {
            return 0;
        }
        let taken = self.admitted.taken(&source.to_owned(), now);
        usize::try_from(taken).unwrap_or(usize::MAX)
    }

    /// Whether `source` has used up its admissions at `now`: the count when it has.
    pub fn exhausted(&mut self, source: &str, now: Instant) -> Option<usize> {
        if self.limit == 0 {
            return None;
        }
        self.admitted
            .would_admit(&source.to_owned(), now)
            .is_err()
            .then(|| self.count(source, now))
    }

    /// Records an admission of `source` at `now`.
    pub fn note(&mut self, source: &str, now: Instant) {
        if self.limit == 0 {
            return;
        }
        // Over the limit only when the caller did not ask first; nothing to record then.
        let _ = self.admitted.check(&source.to_owned(), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_gets_its_limit_at_once_then_one_per_window_share() {
        let mut w = RateWindow::new(3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(w.exhausted("p", t0), None);
            w.note("p", t0);
        }
        assert_eq!(w.exhausted("p", t0), Some(3));
        assert_eq!(w.exhausted("q", t0), None, "sources are limited apart");
        // One admission's worth comes back every 20 s; the whole limit after the window.
        let share = t0 + RATE_WINDOW / 3;
        assert_eq!(w.count("p", share), 2);
        assert_eq!(w.exhausted("p", share), None);
        w.note("p", share);
        assert_eq!(w.exhausted("p", share), Some(3));
        assert_eq!(w.count("p", share + RATE_WINDOW), 0);
        assert_eq!(RateWindow::new(0).exhausted("p", t0), None, "0: no limit");
    }

    #[test]
    fn a_full_table_forgets_the_longest_idle_source_so_a_new_one_is_still_limited() {
        let mut w = RateWindow::new(1);
        let t0 = Instant::now();
        for i in 0..MAX_TRACKED_SOURCES {
            w.note(&format!("s{i}"), t0 + Duration::from_millis(i as u64));
        }
        let now = t0 + Duration::from_secs(1);
        w.note("newcomer", now);
        assert_eq!(w.exhausted("newcomer", now), Some(1));
        assert_eq!(
            w.count("s0", now),
            0,
            "the longest idle source is forgotten"
        );
        assert_eq!(w.admitted.len(), MAX_TRACKED_SOURCES);
    }
}
