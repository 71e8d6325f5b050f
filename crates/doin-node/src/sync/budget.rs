//! The bounds of one sync with one peer: page size in blocks and bytes, the bytes a
//! competing branch may hold before it outweighs ours, and the bytes a peer may make us
//! read in one sync.

/// Limits of a sync session.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

impl Default for SyncBudget {
    fn default() -> Self {
        SyncBudget {
            page_blocks: super::PAGE,
            page_bytes: 16 << 20,
            branch_bytes: 32 << 20,
            peer_bytes: 256 << 20,
        }
    }
}
