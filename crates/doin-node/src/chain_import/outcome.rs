//! What became of a segment of blocks received from a peer.

use doin_primitives::models::Block;

/// What became of a segment of blocks received from a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    /// The blocks extended our tip (this many appended).
    Extended(usize),
    /// A heavier branch replaced ours above `fork_point`.
    Reorganized {
        /// The last block both branches share.
        fork_point: u64,
        /// Blocks of ours removed.
        removed: u64,
        /// Blocks of theirs appended.
        appended: usize,
    },
    /// We already had these blocks, or our branch is at least as heavy.
    Kept,
}

impl ImportOutcome {
    /// Whether our chain changed.
    pub fn adopted(&self) -> bool {
        *self != ImportOutcome::Kept
    }
}

/// Why blocks received from a peer were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImportError {
    /// A negative index, or the genesis block (which no peer may send).
    #[error("block index {0} is not one a peer may send")]
    BadIndex(i64),
    /// The segment skips or repeats a height.
    #[error("blocks are not contiguous at {0}")]
    NotContiguous(i64),
    /// The segment starts above our tip.
    #[error("blocks start at {start} but our tip is {tip}: fetch the missing blocks first")]
    Gap {
        /// The first block's index.
        start: u64,
        /// Our tip's index.
        tip: u64,
    },
    /// A block breaks a consensus rule (the valid blocks before it are kept when they
    /// extend our tip).
    #[error("block {index} from peer is invalid: {source}")]
    InvalidBlock {
        /// The block's index.
        index: i64,
        /// The rule it breaks.
        #[source]
        source: doin_consensus::ConsensusError,
    },
    /// A valid branch that would revert our finalized block, refused whatever its weight
    /// ([`doin_consensus::fork_choice::judge_reorg`]).
    #[error("refusing a reorganisation at {fork_point}: below the finalized height {finalized}")]
    BelowFinality {
        /// The last block both chains share.
        fork_point: u64,
        /// Our finalized height.
        finalized: u64,
    },
    /// A branch that contradicts a published external anchor, refused whatever its weight
    /// ([`doin_consensus::anchor::check_branch`]).
    #[error("refusing the peer's blocks, they contradict a published anchor: {0}")]
    ContradictsAnchor(doin_consensus::anchor::AnchorError),
    /// The chain store failed.
    #[error("chain store: {0}")]
    Store(String),
    /// A signature-checking thread panicked.
    #[error("a signature-checking thread panicked")]
    Panicked,
    /// The chain service has stopped.
    #[error("the chain service has stopped")]
    Stopped,
}

impl ImportError {
    /// Maps a broken rule of `b` to [`ImportError::InvalidBlock`].
    pub fn invalid(b: &Block) -> impl FnOnce(doin_consensus::ConsensusError) -> ImportError {
        let index = b.header.index;
        move |source| ImportError::InvalidBlock { index, source }
    }

    /// A failure of the host's chain store.
    pub fn store(e: impl std::fmt::Display) -> ImportError {
        ImportError::Store(e.to_string())
    }
}
