//! The background sync: a thread of its own with a small runtime, a sync every interval,
//! doubling pauses while PostgreSQL is unreachable, until the stop signal.

use std::path::PathBuf;
use std::time::Duration;

use crate::reader::OlapReader;

use super::{PgExport, SyncReport};

/// Settings of the background sync.
#[derive(Debug, Clone)]
pub struct SyncLoopOptions {
    /// The OLAP database.
    pub olap_path: PathBuf,
    /// PostgreSQL URL.
    pub url: String,
    /// Target schema.
    pub schema: String,
    /// Pause between syncs.
    pub interval: Duration,
    /// Longest pause after repeated failures.
    pub max_backoff: Duration,
}

/// Runs a sync every `interval` on a thread of its own (with its own small runtime, so
/// the node's runtime never waits on SQLite reads), until `stop` turns true. Failures
/// (PostgreSQL down, network) are logged and retried with doubling pauses up to
/// `max_backoff`.
pub fn spawn_sync_loop(
    options: SyncLoopOptions,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("olap-pg-sync".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("PostgreSQL sync not started: {e}");
                    return;
                }
            };
            rt.block_on(async move {
                let mut export: Option<PgExport> = None;
                let mut reader: Option<OlapReader> = None;
                let mut pause = options.interval;
                let mut failing = false;
                loop {
                    let result = async {
                        if reader.is_none() {
                            reader = Some(OlapReader::open(&options.olap_path)?);
                        }
                        if export.is_none() {
                            export = Some(PgExport::connect(&options.url, &options.schema).await?);
                        }
                        match (export.as_mut(), reader.as_ref()) {
                            (Some(e), Some(r)) => e.sync(r).await,
                            _ => Ok(SyncReport::default()),
                        }
                    }
                    .await;
                    match result {
                        Ok(report) => {
                            if failing {
                                tracing::info!("PostgreSQL sync recovered");
                            }
                            failing = false;
                            pause = options.interval;
                            if report.total() > 0 {
                                tracing::debug!(rows = report.total(), "PostgreSQL sync");
                            }
                        }
                        Err(e) => {
                            export = None;
                            if failing {
                                pause = (pause * 2).min(options.max_backoff);
                            } else {
                                pause = options.interval;
                            }
                            failing = true;
                            tracing::warn!("PostgreSQL sync failed, retrying in {pause:?}: {e}");
                        }
                    }
                    let stopped = tokio::time::timeout(pause, stop.wait_for(|s| *s)).await;
                    if matches!(stopped, Ok(Ok(_)) | Ok(Err(_))) {
                        break;
                    }
                }
            });
        })
}
