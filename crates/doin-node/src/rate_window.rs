//! Per-source admission limits over a sliding window, shared by the transfer [`mempool`]
//! and the [`channel_pool`]: at most `limit` admissions per source (a peer or an HTTP
//! client) in [`RATE_WINDOW`], tracking at most [`MAX_TRACKED_SOURCES`] sources.
//!
//! [`mempool`]: crate::mempool
//! [`channel_pool`]: crate::channel_pool

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The window admissions are counted in.
pub const RATE_WINDOW: Duration = Duration::from_secs(60);
/// Sources tracked at once; past it, idle ones are forgotten, then the longest idle.
pub const MAX_TRACKED_SOURCES: usize = 4096;

/// Admission times per source (see the module doc).
#[derive(Debug, Default)]
pub struct RateWindow {
    limit: usize,
    times: HashMap<String, VecDeque<Instant>>,
}

impl RateWindow {
    /// A window admitting `limit` per source (0: no limit, nothing tracked).
    pub fn new(limit: usize) -> Self {
        RateWindow {
            limit,
            times: HashMap::new(),
        }
    }

    /// The admissions allowed per source per window (0: no limit).
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Admissions of `source` within the window ending at `now`.
    pub fn count(&mut self, source: &str, now: Instant) -> usize {
        let Some(q) = self.times.get_mut(source) else {
            return 0;
        };
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= RATE_WINDOW)
        {
            q.pop_front();
        }
        q.len()
    }

    /// Whether `source` has used up its admissions at `now`: the count when it has.
    pub fn exhausted(&mut self, source: &str, now: Instant) -> Option<usize> {
        let count = self.count(source, now);
        (self.limit > 0 && count >= self.limit).then_some(count)
    }

    /// Records an admission of `source` at `now`.
    pub fn note(&mut self, source: &str, now: Instant) {
        if self.limit == 0 {
            return;
        }
        if !self.times.contains_key(source) && self.times.len() >= MAX_TRACKED_SOURCES {
            self.times.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.duration_since(*t) < RATE_WINDOW)
            });
            if self.times.len() >= MAX_TRACKED_SOURCES {
                let oldest = self
                    .times
                    .iter()
                    .min_by_key(|(_, q)| q.back().copied())
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    self.times.remove(&k);
                }
            }
        }
        let q = self.times.entry(source.to_owned()).or_default();
        q.push_back(now);
        while q.len() > self.limit {
            q.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(w.times.len(), MAX_TRACKED_SOURCES);
    }
}
