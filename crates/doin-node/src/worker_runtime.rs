//! How a worker thread (an optimizer loop, the evaluator, the inference worker) waits on the
//! node's async runtime: only while the node runs.
//!
//! A worker thread calls `Handle::block_on` to talk to async components. Left blocked there
//! when the node stops, it would still be polling timers and sockets while the runtime shuts
//! down, and tokio panics ("A Tokio 1.x context was found, but it is being shutdown").
//! [`until_stopped`] races every such wait against the stop token ([`crate::stop`]), which fires (or whose
//! sender drops) before the runtime ends, so a worker leaves its wait first and sees the
//! stop in its loop.

use std::future::Future;

use crate::stop::StopToken;
use tokio::runtime::Handle;

/// Runs `fut` on `runtime` from a worker thread and returns its output, or `None` when the
/// node is stopping: at once if it already is, else as soon as `stop` fires, abandoning
/// `fut`.
pub fn until_stopped<F: Future>(runtime: &Handle, stop: &StopToken, fut: F) -> Option<F::Output> {
    if crate::stop::stopping(stop) {
        return None;
    }
    let mut stop = stop.clone();
    runtime.block_on(async move {
        tokio::select! {
            // The stop first: once it has fired, nothing else is polled again.
            biased;
            _ = stop.wait_for(|s| *s) => None,
            out = fut => Some(out),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_wait_ends_when_the_node_stops_and_none_starts_after() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let (tx, rx) = crate::stop::stop_signal();
        assert_eq!(until_stopped(rt.handle(), &rx, async { 7 }), Some(7));
        let handle = rt.handle().clone();
        let waiting = std::thread::spawn(move || {
            until_stopped(&handle, &rx, async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            })
        });
        let _ = tx.send(true);
        assert_eq!(waiting.join().expect("joined"), None);
        // A dropped stop sender counts as a stop too.
        let (tx, rx) = crate::stop::stop_signal();
        drop(tx);
        assert_eq!(until_stopped(rt.handle(), &rx, async { 7 }), None);
    }
}
