//! What a page of a peer's blocks must pass before any of it is kept: no more blocks than
//! asked, at the heights asked, each linked to the one before it and not dated ahead of our
//! clock, and each with the ids, hashes and signatures it claims ([`CheckedBlock`], checked
//! on every core while the sync imports the page before: [`CheckedPage::of`]). These checks
//! need no chain state; the chain service applies every other rule as it imports.

use doin_consensus::{CheckedBlock, ConsensusError};

use super::transport::Page;
use super::SyncError;
use crate::chain_service::{check_blocks_off_thread, ImportError};

/// A page as received, each block's stateless rules checked.
#[derive(Debug)]
pub struct CheckedPage {
    /// The longest prefix of the page whose blocks pass [`CheckedBlock::check`].
    pub blocks: Vec<CheckedBlock>,
    /// Why the block after that prefix does not.
    pub refusal: Option<ImportError>,
    /// Blocks the peer sent.
    pub sent: usize,
    /// Bytes of the body they came in.
    pub bytes: usize,
}

impl CheckedPage {
    /// Checks `page`'s blocks on every core, off the async workers.
    pub async fn of(page: Page) -> CheckedPage {
        let (sent, bytes) = (page.blocks.len(), page.bytes);
        let (blocks, refusal) = check_blocks_off_thread(page.blocks).await;
        CheckedPage {
            blocks,
            refusal,
            sent,
            bytes,
        }
    }
}

/// The longest prefix of `page` that passes, and why the block after it does not.
///
/// `from..=to` is what was asked; `parent` is the hash the first block must extend.
/// A page with more blocks than asked is refused whole ([`SyncError::PageTooLong`]).
/// The page's own rules are checked before the refusal its stateless checks found, so
/// the first failure by height wins.
pub fn check_page(
    from: i64,
    to: i64,
    parent: &str,
    page: &CheckedPage,
    now_micros: i64,
) -> Result<usize, (usize, SyncError)> {
    let asked = usize::try_from(to - from + 1).unwrap_or(0);
    if page.sent > asked {
        return Err((
            0,
            SyncError::PageTooLong {
                asked,
                got: page.sent,
            },
        ));
    }
    let mut parent = parent;
    for (i, b) in page.blocks.iter().map(CheckedBlock::block).enumerate() {
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
        doin_consensus::validate::check_not_in_future(b.header.timestamp.unix_micros(), now_micros)
            .map_err(invalid)?;
        parent = &b.hash;
    }
    match &page.refusal {
        Some(e) => Err((page.blocks.len(), SyncError::Import(e.clone()))),
        None => Ok(page.blocks.len()),
    }
}
