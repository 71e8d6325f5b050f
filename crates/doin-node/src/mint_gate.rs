//! Whether a node may mint yet ([`MintGate`]). A node started with peers to sync from mints
//! nothing until a sync round has reached one of them (its chain is then the network's, or
//! at least as heavy), or until [`crate::optimizer_loop::PEER_WAIT`] has passed without one
//! (the peers are gone, and the node carries on alone). A node with no peer (the first node
//! of a network, a solo node) mints at once.
//!
//! Without the gate, a node that joined a running network minted on the chain it started
//! with as soon as gossip brought it commitments and votes: a branch of its own from an old
//! block, which it finalized before its first sync had pulled the network's chain, and then
//! could never leave (33 of 64 nodes in the `p2p_scale` benchmark did just that).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Shut until the first sync, or the wait, is over; then open for good.
#[derive(Debug, Clone, Default)]
pub struct MintGate {
    /// `None` once open.
    waiting: Option<Waiting>,
}

#[derive(Debug, Clone)]
struct Waiting {
    /// Set by the sync loop once a round reached a peer ([`crate::peers::PeerSet::synced_flag`]).
    synced: Arc<AtomicBool>,
    /// When the node stops waiting for it (µs since the Unix epoch, by the chain's clock).
    until_micros: i64,
}

impl MintGate {
    /// Open from the start: a node with nobody to sync from.
    pub fn open() -> Self {
        Self::default()
    }

    /// Shut until `synced` is set, or for `wait` from `since_micros` at most.
    pub fn after_first_sync(synced: Arc<AtomicBool>, since_micros: i64, wait: Duration) -> Self {
        let wait = i64::try_from(wait.as_micros()).unwrap_or(i64::MAX);
        MintGate {
            waiting: Some(Waiting {
                synced,
                until_micros: since_micros.saturating_add(wait),
            }),
        }
    }

    /// Whether the node may mint at `now_micros`; once it may, it always may.
    pub fn is_open(&mut self, now_micros: i64) -> bool {
        if let Some(w) = &self.waiting {
            if w.synced.load(Ordering::Acquire) {
                tracing::info!("first sync done: minting");
            } else if now_micros >= w.until_micros {
                tracing::warn!("no peer answered a sync in time: minting alone");
            } else {
                return false;
            }
            self.waiting = None;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_opens_at_the_first_sync_or_when_the_wait_is_over_and_stays_open() {
        assert!(MintGate::open().is_open(0));

        let synced = Arc::new(AtomicBool::new(false));
        let mut gate = MintGate::after_first_sync(synced.clone(), 1_000, Duration::from_secs(30));
        assert!(!gate.is_open(1_000));
        assert!(!gate.is_open(30_000_999));
        synced.store(true, Ordering::Release);
        assert!(gate.is_open(2_000));
        synced.store(false, Ordering::Release);
        assert!(gate.is_open(2_000), "open for good");

        let never = Arc::new(AtomicBool::new(false));
        let mut gate = MintGate::after_first_sync(never, 1_000, Duration::from_secs(30));
        assert!(!gate.is_open(30_000_999));
        assert!(gate.is_open(30_001_000));
        assert!(gate.is_open(0), "open for good");
    }
}
