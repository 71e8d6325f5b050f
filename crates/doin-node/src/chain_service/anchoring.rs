//! External anchors in the chain service: the anchors it enforces on blocks from peers
//! (see `import`) and the ones it creates when a block at a multiple of the interval
//! becomes final, queued to the publisher ([`crate::anchor::publish`]).

use doin_consensus::anchor::{Anchor, AnchorSet};
use doin_consensus::state::ChainState;
use doin_store::ChainStore;
use tokio::sync::mpsc;

/// The external anchors a chain service enforces and creates.
#[derive(Debug, Default)]
pub struct Anchoring {
    /// Anchors enforced on blocks from peers (those read back from the sinks at start-up;
    /// the ones the service creates are added).
    pub anchors: AnchorSet,
    /// Blocks between anchors (0 = the service creates none).
    pub interval: u64,
    /// Where new anchors go (`None` = the service creates none).
    pub publish: Option<mpsc::Sender<Anchor>>,
}

/// The service's anchoring: its [`Anchoring`] and how far it has anchored.
#[derive(Debug)]
pub(super) struct Anchorer {
    /// The anchors held, the interval and the publisher's queue.
    pub(super) anchoring: Anchoring,
    /// The last height anchored (or read back from the sinks).
    last_anchored: u64,
}

impl Anchorer {
    /// Anchoring per `anchoring`, starting after the last anchor it holds.
    pub(super) fn new(anchoring: Anchoring) -> Self {
        Anchorer {
            last_anchored: anchoring.anchors.last_height(),
            anchoring,
        }
    }

    /// The anchors enforced on blocks from peers.
    pub(super) fn anchors(&self) -> &AnchorSet {
        &self.anchoring.anchors
    }

    /// Creates the anchors that became due (final blocks at multiples of the interval) and
    /// queues them to the publisher; a full queue leaves them for a later block.
    pub(super) fn anchor_due(&mut self, store: &ChainStore, state: &ChainState) {
        let Some(tx) = self.anchoring.publish.clone() else {
            return;
        };
        let due: Vec<u64> = doin_consensus::anchor::due_heights(
            self.last_anchored,
            state.finalized_height(),
            self.anchoring.interval,
        )
        .collect();
        for height in due {
            let hashes = match store.block_hashes(0, height as i64) {
                Ok(h) if h.len() as u64 == height + 1 => h,
                Ok(_) => {
                    tracing::error!(height, "cannot anchor: blocks missing from the store");
                    return;
                }
                Err(e) => {
                    tracing::error!(height, "cannot anchor: {e}");
                    return;
                }
            };
            let hashes: Vec<&str> = hashes.iter().map(|(_, h)| h.as_str()).collect();
            let Some(anchor) = doin_consensus::anchor::anchor_of(&hashes) else {
                return;
            };
            if let Err(e) = self.anchoring.anchors.insert(anchor.clone()) {
                tracing::error!(height, "our chain contradicts a held anchor: {e}");
            }
            match tx.try_send(anchor) {
                Ok(()) => self.last_anchored = height,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(height, "anchor publisher busy; anchoring later");
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.anchoring.publish = None;
                    return;
                }
            }
        }
    }
}
