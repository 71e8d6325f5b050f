//! The node's stop token: how every worker (threads and tasks) learns that the node is
//! shutting down. The node owns the [`StopSignal`]; each component gets a [`StopToken`] at
//! launch and checks it with [`stopping`] (or waits on it), so no worker calls back into
//! the node that started it. The signal fires before the runtime ends
//! ([`crate::node::RunningNode::shutdown`]); a dropped signal counts as a stop too.

use tokio::sync::watch;

/// What a component holds to learn that the node is stopping.
pub type StopToken = watch::Receiver<bool>;

/// The node's side of the stop token: fires it once, at shutdown.
pub type StopSignal = watch::Sender<bool>;

/// A new stop signal and its first token.
pub fn stop_signal() -> (StopSignal, StopToken) {
    watch::channel(false)
}

/// Whether a component should stop: shutdown was asked for, or the node that owns the
/// signal is gone.
pub fn stopping(stop: &StopToken) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_stops_when_fired_or_when_its_signal_is_dropped() {
        let (signal, token) = stop_signal();
        assert!(!stopping(&token));
        let _ = signal.send(true);
        assert!(stopping(&token));
        let (signal, token) = stop_signal();
        drop(signal);
        assert!(stopping(&token));
    }
}
