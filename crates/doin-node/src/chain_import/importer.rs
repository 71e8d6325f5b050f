//! The import decisions: which blocks of a segment are new, the checks of a segment in
//! order, extend our tip or weigh a competing branch, adopt it or keep ours.

use std::borrow::Borrow;

use doin_consensus::fork_choice::{chain_weight, judge_reorg, ReorgVerdict};
use doin_primitives::models::Block;

use super::pending_branch::PendingBranch;
use super::{ImportError, ImportOutcome, KeptChain};

/// Imports segments of blocks into a [`KeptChain`], holding a competing branch between the
/// pages of a sync (blocks held as `B`, with what the host derives along it, `D`).
#[derive(Debug)]
pub struct Importer<B, D> {
    /// A competing branch validated page by page, not yet heavier than ours.
    branch: Option<PendingBranch<B, D>>,
}

impl<B, D> Default for Importer<B, D> {
    fn default() -> Self {
        Importer { branch: None }
    }
}

impl<B: Borrow<Block> + Clone, D> Importer<B, D> {
    /// An importer holding no branch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the branch being weighed (a restart loses it).
    pub fn clear(&mut self) {
        self.branch = None;
    }

    /// Imports `blocks` into `chain` at time `now_micros` (µs since the Unix epoch, by the
    /// host's clock): the next page of the branch being weighed, or a segment that repeats
    /// our blocks, extends our tip or forks from our chain.
    pub fn import<C>(
        &mut self,
        chain: &mut C,
        blocks: Vec<B>,
        now_micros: i64,
    ) -> Result<ImportOutcome, ImportError>
    where
        C: KeptChain<Block = B, Derived = D>,
    {
        let Some(first) = blocks.first() else {
            return Ok(ImportOutcome::Kept);
        };
        let first_index = first.borrow().header.index;
        // The next page of a branch being weighed, while our chain still holds its fork
        // point (our tip may have moved on meanwhile).
        let fork_hash = match &self.branch {
            Some(b) if b.continued_by(&blocks) => chain.hash_at(b.fork_point)?,
            _ => None,
        };
        if let Some(pending) = self
            .branch
            .take()
            .filter(|b| fork_hash.as_deref() == Some(b.fork_hash.as_str()))
        {
            check_segment(chain, pending.fork_point, &blocks, now_micros)?;
            return self.weigh_branch(chain, pending, blocks);
        }
        let start = u64::try_from(first_index)
            .ok()
            .filter(|s| *s > 0)
            .ok_or(ImportError::BadIndex(first_index))?;
        for (i, b) in blocks.iter().enumerate() {
            let index = b.borrow().header.index;
            if u64::try_from(index).ok() != Some(start + i as u64) {
                return Err(ImportError::NotContiguous(index));
            }
        }
        // Skip the blocks we already have (same hash at the same height).
        let mut skip = 0;
        for (height, b) in (start..).zip(&blocks) {
            match chain.hash_at(height)? {
                Some(h) if h == b.borrow().hash => skip += 1,
                _ => break,
            }
        }
        let mut blocks = blocks;
        blocks.drain(..skip);
        let Some(first) = blocks.first() else {
            return Ok(ImportOutcome::Kept);
        };
        let fork_hash = first.borrow().header.previous_hash.clone();
        let fork_point = start + skip as u64 - 1;
        let tip = chain.state().height();
        if fork_point > tip {
            return Err(ImportError::Gap {
                start: fork_point + 1,
                tip,
            });
        }
        check_segment(chain, fork_point, &blocks, now_micros)?;
        if fork_point == tip {
            return extend(chain, &blocks);
        }
        // Checked before validating the branch, so a doomed branch costs nothing;
        // `judge_reorg` decides with the weights.
        if !chain.state().reorg_allowed(fork_point) {
            return Err(ImportError::BelowFinality {
                fork_point,
                finalized: chain.state().finalized_height(),
            });
        }
        let (candidate, derived) = chain.state_at(fork_point)?;
        let pending = PendingBranch {
            fork_point,
            fork_hash,
            candidate,
            derived,
            blocks: Vec::new(),
        };
        self.weigh_branch(chain, pending, blocks)
    }

    /// Applies a segment of a competing branch to its candidate state (every rule, each
    /// block before the next is held), then adopts the branch if it is now heavier, or
    /// keeps it pending for the next page.
    fn weigh_branch<C>(
        &mut self,
        chain: &mut C,
        mut branch: PendingBranch<B, D>,
        segment: Vec<B>,
    ) -> Result<ImportOutcome, ImportError>
    where
        C: KeptChain<Block = B, Derived = D>,
    {
        for b in segment {
            chain
                .apply_to_branch(&mut branch.candidate, &mut branch.derived, &b)
                .map_err(ImportError::invalid(b.borrow()))?;
            branch.blocks.push(b);
        }
        let verdict = judge_reorg(
            branch.fork_point,
            &chain_weight(&branch.candidate),
            &chain_weight(chain.state()),
        );
        match verdict {
            ReorgVerdict::Adopt => {}
            ReorgVerdict::KeepOurs => {
                self.branch = Some(branch);
                return Ok(ImportOutcome::Kept);
            }
            ReorgVerdict::BelowFinality {
                fork_point,
                finalized,
            } => {
                return Err(ImportError::BelowFinality {
                    fork_point,
                    finalized,
                })
            }
        }
        let PendingBranch {
            fork_point,
            candidate,
            derived,
            blocks,
            ..
        } = branch;
        let appended = blocks.len();
        let removed = chain.reorganize(fork_point, blocks, candidate, derived)?;
        Ok(ImportOutcome::Reorganized {
            fork_point,
            removed,
            appended,
        })
    }
}

/// Appends `blocks` (which start right after our tip), keeping the valid prefix when one
/// breaks a rule.
fn extend<C: KeptChain>(chain: &mut C, blocks: &[C::Block]) -> Result<ImportOutcome, ImportError> {
    for (good, b) in blocks.iter().enumerate() {
        if let Err(e) = chain.apply_to_tip(b) {
            if good > 0 {
                // The refusal is what the peer learns; a store failure keeping the prefix
                // leaves the host's chain as it was before this segment.
                let _ = chain.keep(&blocks[..good]);
            }
            return Err(ImportError::invalid(b.borrow())(e));
        }
    }
    chain.keep(blocks)?;
    Ok(ImportOutcome::Extended(blocks.len()))
}

/// The checks of a segment that need no chain state, cheapest first: every id and hash
/// the blocks claim, no block dated ahead of our clock, no contradiction of an anchor;
/// then the signatures.
fn check_segment<C: KeptChain>(
    chain: &mut C,
    fork_point: u64,
    blocks: &[C::Block],
    now_micros: i64,
) -> Result<(), ImportError> {
    for b in blocks {
        chain
            .check_content(b)
            .and_then(|()| {
                doin_consensus::validate::check_not_in_future(
                    b.borrow().header.timestamp.unix_micros(),
                    now_micros,
                )
            })
            .map_err(ImportError::invalid(b.borrow()))?;
    }
    let start = blocks
        .first()
        .and_then(|b| u64::try_from(b.borrow().header.index).ok())
        .unwrap_or(fork_point + 1);
    doin_consensus::anchor::check_branch(
        chain.anchors(),
        fork_point,
        chain.state().height(),
        (start..).zip(blocks.iter().map(|b| b.borrow().hash.as_str())),
    )
    .map_err(|e| {
        tracing::warn!(
            fork_point,
            "refused a branch that contradicts an anchor: {e}"
        );
        ImportError::ContradictsAnchor(e)
    })?;
    chain.verify_signatures(blocks)
}
