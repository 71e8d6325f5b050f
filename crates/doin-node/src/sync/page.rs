//! What a page of a peer's blocks must pass before any of it is kept: no more blocks than
//! asked, at the heights asked, each linked to the one before it, each with the ids and
//! hashes it claims and not dated ahead of our clock. These checks need no chain state;
//! the chain service applies every other rule as it imports.

use doin_consensus::ConsensusError;
use doin_primitives::models::Block;

use super::SyncError;
use crate::chain_service::ImportError;

/// The longest prefix of `blocks` that passes, and why the block after it does not.
///
/// `from..=to` is what was asked; `parent` is the hash the first block must extend.
/// A page with more blocks than asked is refused whole ([`SyncError::PageTooLong`]).
pub fn check_page(
    from: i64,
    to: i64,
    parent: &str,
    blocks: &[Block],
    now_micros: i64,
) -> Result<usize, (usize, SyncError)> {
    let asked = usize::try_from(to - from + 1).unwrap_or(0);
    if blocks.len() > asked {
        return Err((
            0,
            SyncError::PageTooLong {
                asked,
                got: blocks.len(),
            },
        ));
    }
    let mut parent = parent;
    for (i, b) in blocks.iter().enumerate() {
        let index = from + i as i64;
        let invalid = |source| {
            (
                i,
                SyncError::Import(ImportError::InvalidBlock {
                    index: b.header.index,
                    source,
                }),
            )
        };
        if b.header.index != index {
            return Err(invalid(ConsensusError::WrongHeight {
                expected: u64::try_from(index).unwrap_or(0),
                got: b.header.index,
            }));
        }
        if b.header.previous_hash != parent {
            return Err(invalid(ConsensusError::WrongParent {
                expected: parent.to_owned(),
                got: b.header.previous_hash.clone(),
            }));
        }
        b.validate_content()
            .map_err(ConsensusError::from)
            .and_then(|()| {
                doin_consensus::validate::check_not_in_future(
                    b.header.timestamp.unix_micros(),
                    now_micros,
                )
            })
            .map_err(invalid)?;
        parent = &b.hash;
    }
    Ok(blocks.len())
}
