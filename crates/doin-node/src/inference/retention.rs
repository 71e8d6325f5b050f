//! How long `inference.db` keeps requests: finished ones older than the age bound, and
//! beyond the newest `max_rows`, are deleted every [`PRUNE_INTERVAL`]. Queued and running
//! requests are never deleted (the queue bounds them), nor is the voucher book: a
//! channel's newest voucher stays for settlement whatever the age of the requests it paid.

use std::sync::Arc;
use std::time::Duration;

use doin_primitives::Timestamp;
use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::InferenceService;

/// How often the bounds are enforced.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// The `inference_retention` config section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retention {
    /// Days a finished request is kept (its result fetchable by its task id).
    pub max_age_days: f64,
    /// Most requests kept; the oldest finished ones go first.
    pub max_rows: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age_days: 30.0,
            max_rows: 100_000,
        }
    }
}

impl Retention {
    /// Checks the values, naming the key to fix.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.max_age_days.is_finite() && self.max_age_days > 0.0) {
            return Err(format!(
                "inference_retention.max_age_days must be a positive number of days, got {}",
                self.max_age_days
            ));
        }
        if self.max_rows == 0 || i64::try_from(self.max_rows).is_err() {
            return Err(format!(
                "inference_retention.max_rows must be between 1 and {}, got {}",
                i64::MAX,
                self.max_rows
            ));
        }
        Ok(())
    }

    /// Deletes, on `conn`, the finished requests these bounds no longer keep at `now`;
    /// returns how many.
    pub fn prune(&self, conn: &Connection, now: Timestamp) -> rusqlite::Result<usize> {
        let age_micros = (self.max_age_days * 86_400e6).min(i64::MAX as f64) as i64;
        let cutoff = Timestamp::from_unix_micros(now.unix_micros().saturating_sub(age_micros));
        let old = conn.execute(
            "DELETE FROM inference_requests \
             WHERE status IN ('completed', 'failed') AND submitted_at < ?1",
            params![cutoff.wire()],
        )?;
        let max_rows = i64::try_from(self.max_rows).unwrap_or(i64::MAX);
        let surplus = conn.execute(
            "DELETE FROM inference_requests \
             WHERE status IN ('completed', 'failed') AND seq <= ( \
                 SELECT seq FROM inference_requests ORDER BY seq DESC LIMIT 1 OFFSET ?1)",
            params![max_rows],
        )?;
        Ok(old + surplus)
    }
}

/// Enforces `retention` on `service`'s log every [`PRUNE_INTERVAL`] until `stop`.
pub async fn run(
    service: Arc<InferenceService>,
    retention: Retention,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let service = service.clone();
        let r = retention.clone();
        match tokio::task::spawn_blocking(move || service.prune(&r, Timestamp::now_utc())).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::debug!(deleted = n, "inference log pruned"),
            Ok(Err(e)) => tracing::warn!("pruning the inference log: {e}"),
            Err(e) => tracing::warn!("pruning the inference log: {e}"),
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(PRUNE_INTERVAL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inference::{InferenceLog, InferenceRecord, InferenceStatus};
    use doin_primitives::Value;

    fn record(log: &InferenceLog, n: i64, at: Timestamp, finished: bool) {
        let task_id = format!("task-{n}");
        let r = InferenceRecord {
            task_id: task_id.clone(),
            domain_id: "d".into(),
            client_id: "c".into(),
            input: Value::object(),
            input_hash: String::new(),
            status: InferenceStatus::Queued,
            reason: None,
            result: None,
            price: 0,
            amount_paid: 0,
            payment: None,
            model: None,
            submitted_at: at,
            started_at: None,
            finished_at: None,
            run_ms: None,
        };
        assert!(log.insert(&r).expect("insert"));
        if finished {
            log.finish(&task_id, &Ok(Value::object()), at, None)
                .expect("finish");
        }
    }

    #[test]
    fn finished_requests_past_the_age_or_row_bound_are_deleted_unfinished_ones_kept() {
        let dir = tempfile::tempdir().expect("dir");
        let log = InferenceLog::open(&dir.path().join("inference.db")).expect("open");
        let now = Timestamp::now_utc();
        let days_ago = |d: i64| Timestamp::from_unix_micros(now.unix_micros() - d * 86_400_000_000);
        record(&log, 0, days_ago(40), true); // too old
        record(&log, 1, days_ago(40), false); // too old, but still queued
        for n in 2..12 {
            record(&log, n, days_ago(1), true);
        }
        let r = Retention {
            max_age_days: 30.0,
            max_rows: 5,
        };
        // One too old; of the 11 left, the finished ones older than the newest 5 rows go
        // (the queued one stays whatever its age).
        assert_eq!(r.prune(log.conn(), now).expect("prune"), 1 + 5);
        assert!(log.get("task-0").expect("get").is_none());
        assert!(log.get("task-1").expect("get").is_some());
        assert!(log.get("task-6").expect("get").is_none());
        for n in 7..12 {
            assert!(log.get(&format!("task-{n}")).expect("get").is_some());
        }
        assert_eq!(r.prune(log.conn(), now).expect("prune"), 0);
    }

    #[test]
    fn bad_bounds_name_their_key() {
        let r = Retention {
            max_rows: 0,
            ..Retention::default()
        };
        assert!(r.validate().unwrap_err().contains("max_rows"));
        let r = Retention {
            max_age_days: f64::NAN,
            ..Retention::default()
        };
        assert!(r.validate().unwrap_err().contains("max_age_days"));
    }
}
