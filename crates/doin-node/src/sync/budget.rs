//! The bounds of sync: page size in blocks and bytes, the bytes a competing branch may hold
//! before it outweighs ours, the bytes a peer may make us read in one sync, and the room
//! that pages being read or imported by every sync of a node share.

use std::sync::Arc;

use tokio::sync::Semaphore;

/// MiB of pages that the syncs sharing one budget may have in flight at once.
pub const PAGES_IN_FLIGHT_MIB: usize = 48;

/// Limits of sync; clones share their room for pages in flight.
#[derive(Debug, Clone)]
pub struct SyncBudget {
    /// Blocks asked per page (the API serves at most 50).
    pub page_blocks: i64,
    /// Largest page read; a larger answer is abandoned and asked again for fewer blocks, and a
    /// single block over it is refused ([`super::SyncError::BlockTooLarge`]).
    pub page_bytes: usize,
    /// Most bytes of validated blocks a competing branch may hold while it is still
    /// lighter than our chain ([`super::SyncError::BranchTooLarge`]).
    pub branch_bytes: usize,
    /// Most bytes read from one peer in one sync ([`super::SyncError::PeerBudgetSpent`]);
    /// the next sync goes on from where this one left our chain.
    pub peer_bytes: usize,
    /// MiB of pages being read or imported, shared by every clone of this budget: a page
    /// holds its whole byte limit while it is read, then its own size until imported.
    pub room: Arc<Semaphore>,
}

impl Default for SyncBudget {
    fn default() -> Self {
        SyncBudget {
            page_blocks: super::PAGE,
            page_bytes: 8 << 20,
            branch_bytes: 32 << 20,
            peer_bytes: 256 << 20,
            room: Arc::new(Semaphore::new(PAGES_IN_FLIGHT_MIB)),
        }
    }
}
