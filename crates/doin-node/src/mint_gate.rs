//! Whether a node may mint yet ([`MintGate`]). A node started with peers to sync from mints
//! nothing until it has caught up with them: a sync round has reached one of them, and its
//! chain is at least as heavy as the heaviest chain any peer claimed when first asked
//! ([`FirstContact`]); or until [`crate::optimizer_loop::PEER_WAIT`] has passed (the peers
//! are gone, or one claims a chain it never serves, and the node carries on alone). A node
//! with no peer (the first node of a network, a solo node) mints at once. A node that
//! neither optimizes nor evaluates any domain (a relay) never mints ([`MintGate::never`]):
//! a block's generator becomes eligible for the quorums drawn from the chain
//! (`doin_consensus`'s eligible evaluators), so a relay that minted commitment blocks could
//! be drawn into quorums it never answers; and relays minting after the candidates' turns
//! only add rival commitment blocks (16 relays among 32 nodes, 48 among 64, in the
//! `p2p_scale` benchmark).
//!
//! Without the gate, a node that joined a running network minted on the chain it started
//! with as soon as gossip brought it commitments and votes: a branch of its own from an old
//! block, whose first checkpoint it finalized alone (a young branch's checkpoint is judged
//! by the weights on that branch, see `doin_consensus::finality`) before its sync had pulled
//! the network's chain, and which it could then never leave: 33 of 64 nodes in the
//! `p2p_scale` benchmark. Opening at the first sync that reached a peer was not enough (20
//! of 64): a peer that had just started too answers at once with a chain no heavier than
//! ours, while the sync with a peer of the network is still fetching pages. (Finality now
//! needs an optimizer and a quorum among a checkpoint's attesters,
//! `doin_consensus::finality::min_attesters`, so such a branch no longer finalizes alone;
//! the gate still spares the network its rival blocks and the joining node its wasted
//! work.)

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the sync loop learned of the node's peers that the gate needs: whether a sync
/// round reached one, and the heaviest chain (cumulative work) a peer claimed when it was
/// first asked. Shared by the [`crate::peers::PeerSet`] (which records) and the gate.
#[derive(Debug, Default)]
pub struct FirstContact {
    synced: AtomicBool,
    claims: Mutex<Claims>,
}

#[derive(Debug, Default)]
struct Claims {
    /// Peers whose first claim is recorded (bounded by [`MAX_CLAIMANTS`]).
    asked: BTreeSet<String>,
    /// The heaviest of their first claims.
    heaviest: f64,
}

/// Most peers whose first claim is remembered.
pub const MAX_CLAIMANTS: usize = 1_000;

impl FirstContact {
    /// Records that a sync round reached a peer.
    pub fn mark_synced(&self) {
        self.synced.store(true, Ordering::Release);
    }

    /// Whether a sync round has reached a peer since start-up.
    pub fn synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    /// Records the cumulative work `endpoint` claims, the first time it is asked only (the
    /// network's chain grows meanwhile: later claims would keep the gate chasing it).
    pub fn record_claim(&self, endpoint: &str, cumulative_work: Option<f64>) {
        let mut c = self.claims.lock().unwrap_or_else(|p| p.into_inner());
        if c.asked.len() >= MAX_CLAIMANTS || !c.asked.insert(endpoint.to_owned()) {
            return;
        }
        if let Some(w) = cumulative_work.filter(|w| w.is_finite()) {
            c.heaviest = c.heaviest.max(w);
        }
    }

    /// The heaviest chain a peer claimed when first asked (0 before any claim).
    pub fn heaviest_claim(&self) -> f64 {
        self.claims
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .heaviest
    }
}

/// Shut until the node has caught up with its peers, or the wait is over; then open for
/// good.
#[derive(Debug, Clone, Default)]
pub struct MintGate {
    /// `None` once open.
    waiting: Option<Waiting>,
    /// Shut for good (a relay).
    never: bool,
}

#[derive(Debug, Clone)]
struct Waiting {
    /// What the sync loop learned ([`crate::peers::PeerSet::first_contact`]).
    contact: Arc<FirstContact>,
    /// When the node stops waiting (µs since the Unix epoch, by the chain's clock).
    until_micros: i64,
}

impl MintGate {
    /// Open from the start: a node with nobody to sync from.
    pub fn open() -> Self {
        Self::default()
    }

    /// Shut for good: a node with no optimizer or evaluator role mints nothing.
    pub fn never() -> Self {
        MintGate {
            waiting: None,
            never: true,
        }
    }

    /// Shut until the node has caught up per `contact`, or for `wait` from `since_micros`
    /// at most.
    pub fn after_first_sync(contact: Arc<FirstContact>, since_micros: i64, wait: Duration) -> Self {
        let wait = i64::try_from(wait.as_micros()).unwrap_or(i64::MAX);
        MintGate {
            waiting: Some(Waiting {
                contact,
                until_micros: since_micros.saturating_add(wait),
            }),
            never: false,
        }
    }

    /// Whether the node, whose chain holds `our_work`, may mint at `now_micros`; once it
    /// may, it always may.
    pub fn is_open(&mut self, now_micros: i64, our_work: f64) -> bool {
        if self.never {
            return false;
        }
        if let Some(w) = &self.waiting {
            if w.contact.synced() && our_work >= w.contact.heaviest_claim() {
                tracing::info!(our_work, "caught up with the peers: minting");
            } else if now_micros >= w.until_micros {
                tracing::warn!(
                    synced = w.contact.synced(),
                    our_work,
                    claimed = w.contact.heaviest_claim(),
                    "not caught up with the peers in time: minting alone"
                );
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
    fn a_relay_s_gate_never_opens() {
        let mut gate = MintGate::never();
        assert!(!gate.is_open(0, 0.0));
        assert!(!gate.is_open(i64::MAX, f64::MAX));
    }

    #[test]
    fn the_gate_opens_once_caught_up_or_when_the_wait_is_over_and_stays_open() {
        assert!(MintGate::open().is_open(0, 0.0));

        let contact = Arc::new(FirstContact::default());
        let mut gate = MintGate::after_first_sync(contact.clone(), 1_000, Duration::from_secs(30));
        assert!(!gate.is_open(1_000, 0.0), "no sync yet");
        // A peer that just started answers first; one of the network claims 5.0.
        contact.record_claim("fresh", Some(0.0));
        contact.mark_synced();
        contact.record_claim("network", Some(5.0));
        contact.record_claim("network", Some(9.0));
        assert_eq!(contact.heaviest_claim(), 5.0, "first claims only");
        assert!(!gate.is_open(2_000, 0.0), "behind the network");
        assert!(!gate.is_open(30_000_999, 4.9), "behind the network");
        assert!(gate.is_open(3_000, 5.0), "caught up");
        assert!(gate.is_open(3_000, 0.0), "open for good");

        // A peer that claims a chain it never serves holds the gate for the wait at most.
        let liar = Arc::new(FirstContact::default());
        liar.record_claim("liar", Some(f64::MAX));
        liar.record_claim("nan", Some(f64::NAN));
        liar.mark_synced();
        let mut gate = MintGate::after_first_sync(liar, 1_000, Duration::from_secs(30));
        assert!(!gate.is_open(30_000_999, 1e9));
        assert!(gate.is_open(30_001_000, 0.0));

        // Peers that never answer: the node mints alone once the wait is over.
        let silent = Arc::new(FirstContact::default());
        let mut gate = MintGate::after_first_sync(silent, 1_000, Duration::from_secs(30));
        assert!(!gate.is_open(30_000_999, 0.0));
        assert!(gate.is_open(30_001_000, 0.0));
    }
}
