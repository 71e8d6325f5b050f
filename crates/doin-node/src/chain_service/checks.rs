//! The stateless checks of blocks from a peer — every id, hash and signature
//! ([`CheckedBlock::check`]) — run on every core (rayon) and off the chain service's
//! thread, so that a sync checks its next page while the chain service applies this one.

use doin_consensus::CheckedBlock;
use doin_primitives::models::Block;
use rayon::prelude::*;

use super::ImportError;

/// The checked prefix of `blocks`, and why the block after it was refused (the blocks
/// after that one are dropped: no chain extends through an invalid block).
pub fn check_blocks(blocks: Vec<Block>) -> (Vec<CheckedBlock>, Option<ImportError>) {
    let results: Vec<_> = blocks.into_par_iter().map(CheckedBlock::check).collect();
    let mut checked = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(b) => checked.push(b),
            Err((b, source)) => {
                let refusal = ImportError::InvalidBlock {
                    index: b.header.index,
                    source,
                };
                return (checked, Some(refusal));
            }
        }
    }
    (checked, None)
}

/// [`check_blocks`] on the blocking pool, for async callers.
pub async fn check_blocks_off_thread(
    blocks: Vec<Block>,
) -> (Vec<CheckedBlock>, Option<ImportError>) {
    tokio::task::spawn_blocking(move || check_blocks(blocks))
        .await
        .unwrap_or_else(|_| (Vec::new(), Some(ImportError::Panicked)))
}
