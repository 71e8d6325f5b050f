//! Importing blocks as the real node's chain service does: skip the blocks already held,
//! refuse blocks dated too far ahead of the node's clock, check signatures, extend the tip
//! keeping the valid prefix, or rebuild the state at the fork point and let
//! [`doin_consensus::fork_choice::judge_reorg`] decide (finality first, then weight).

use std::sync::Arc;

use doin_consensus::fork_choice::{chain_weight, judge_reorg, ReorgVerdict};
use doin_consensus::validate::check_not_in_future;
use doin_consensus::ChainState;
use doin_primitives::models::Block;

use crate::config::PlantedBug;
use crate::invariants;
use crate::node::{Ctx, Node, Note};

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    /// Nothing new, or a branch not preferred.
    Kept,
    /// The tip advanced by this many blocks.
    Extended(usize),
    /// The node switched to the branch, dropping `removed` blocks.
    Reorganized {
        /// Blocks dropped.
        removed: u64,
    },
}

impl ImportOutcome {
    /// Whether the chain changed.
    pub fn adopted(self) -> bool {
        self != ImportOutcome::Kept
    }
}

/// How many checkpoint states a node keeps.
const SNAPSHOTS: usize = 4;

impl Node {
    /// Records `state` if it sits at a checkpoint height (a multiple of the finality
    /// depth), keeping the last few.
    pub(crate) fn snapshot(&mut self, state: &ChainState) {
        let depth = self.params.finality_depth.max(1);
        if state.height().is_multiple_of(depth) {
            self.snapshots.retain(|s| s.height() < state.height());
            self.snapshots.push(state.clone());
            if self.snapshots.len() > SNAPSHOTS {
                self.snapshots.remove(0);
            }
        }
    }

    /// Applies `b` to `state` with the invariants checked around it, or takes the state
    /// another node reached with it ([`crate::memo`]).
    fn apply_checked(
        &self,
        state: &mut ChainState,
        b: &Arc<Block>,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), String> {
        if let Some(after) = ctx.memo.state_after(b) {
            if after.height() == state.height() + 1 && b.header.previous_hash == state.tip_hash() {
                *state = after.clone();
                return Ok(());
            }
        }
        let quorums = invariants::quorums_of(state, b);
        let summary = state.apply_stored_block(b).map_err(|e| e.to_string())?;
        let leak = u64::from(self.planted == Some(PlantedBug::LeakOneUnit));
        invariants::check_block(
            self.index,
            &quorums,
            &summary,
            state,
            leak,
            &mut ctx.violations,
        );
        ctx.memo.keep_state(b, state);
        Ok(())
    }

    /// Imports a contiguous segment of blocks (see the module doc).
    pub fn import(
        &mut self,
        blocks: &[Arc<Block>],
        ctx: &mut Ctx<'_>,
    ) -> Result<ImportOutcome, String> {
        let Some(first) = blocks.first() else {
            return Ok(ImportOutcome::Kept);
        };
        let start = u64::try_from(first.header.index)
            .ok()
            .filter(|s| *s > 0)
            .ok_or("bad index")?;
        for (i, b) in blocks.iter().enumerate() {
            if u64::try_from(b.header.index).ok() != Some(start + i as u64) {
                return Err("not contiguous".into());
            }
        }
        let skip = blocks
            .iter()
            .take_while(|b| {
                u64::try_from(b.header.index)
                    .ok()
                    .and_then(|h| self.hash_at(h))
                    == Some(b.hash.as_str())
            })
            .count();
        let blocks = &blocks[skip..];
        let Some(first) = blocks.first() else {
            return Ok(ImportOutcome::Kept);
        };
        let fork_point = start + skip as u64 - 1;
        if fork_point > self.state.height() {
            return Err(format!("gap above {}", self.state.height()));
        }
        let now = self.clock(ctx.now);
        for b in blocks {
            ctx.memo.check(b)?;
            check_not_in_future(b.header.timestamp.unix_micros(), now)
                .map_err(|e| e.to_string())?;
        }
        if fork_point == self.state.height() {
            let mut state =
                std::mem::replace(&mut self.state, ChainState::new(self.params.clone()));
            let mut applied = 0;
            let mut failure = None;
            for b in blocks {
                if let Err(e) = self.apply_checked(&mut state, b, ctx) {
                    failure = Some(format!("block {}: {e}", b.header.index));
                    break;
                }
                self.blocks.push(b.clone());
                self.snapshot(&state);
                ctx.notes.push(Note::Adopted(b.hash.clone()));
                applied += 1;
            }
            self.state = state;
            if applied > 0 {
                self.tip_adopted = now;
            }
            return match (applied, failure) {
                (0, Some(e)) => Err(e),
                _ => Ok(ImportOutcome::Extended(applied)),
            };
        }
        let ignore_finality = self.planted == Some(PlantedBug::IgnoreFinality);
        if !self.state.reorg_allowed(fork_point) && !ignore_finality {
            return Err(format!(
                "branch at {fork_point} below the finalized height {}",
                self.state.finalized_height()
            ));
        }
        if first.header.previous_hash != self.hash_at(fork_point).unwrap_or_default() {
            return Err(format!("branch does not fork from our block {fork_point}"));
        }
        let (mut candidate, mut snaps) = self.state_at(fork_point, ctx)?;
        for b in blocks {
            self.apply_checked(&mut candidate, b, ctx)
                .map_err(|e| format!("branch block {}: {e}", b.header.index))?;
            if candidate
                .height()
                .is_multiple_of(self.params.finality_depth.max(1))
            {
                snaps.push(candidate.clone());
            }
        }
        let verdict = judge_reorg(
            fork_point,
            &chain_weight(&candidate),
            &chain_weight(&self.state),
        );
        let adopt = match verdict {
            ReorgVerdict::Adopt => true,
            ReorgVerdict::KeepOurs => false,
            ReorgVerdict::BelowFinality { .. } => {
                ignore_finality
                    && doin_consensus::fork_choice::prefer(
                        &chain_weight(&candidate),
                        &chain_weight(&self.state),
                    )
            }
        };
        if !adopt {
            return Ok(ImportOutcome::Kept);
        }
        let removed = self.state.height() - fork_point;
        ctx.notes.push(Note::Info(format!(
            "reorg at {fork_point}: {}@{} w{:?} -> {}@{} w{:?}",
            crate::queue::short(self.state.tip_hash()),
            self.state.height(),
            self.state.cumulative_work(),
            crate::queue::short(candidate.tip_hash()),
            candidate.height(),
            candidate.cumulative_work()
        )));
        self.blocks
            .truncate(usize::try_from(fork_point).unwrap_or(usize::MAX));
        self.blocks.extend(blocks.iter().cloned());
        self.state = candidate;
        self.tip_adopted = now;
        self.snapshots.retain(|s| s.height() <= fork_point);
        for s in snaps {
            self.snapshots.push(s);
        }
        let excess = self.snapshots.len().saturating_sub(SNAPSHOTS);
        self.snapshots.drain(..excess);
        ctx.notes.push(Note::Reorganized { depth: removed });
        for b in blocks {
            ctx.notes.push(Note::Adopted(b.hash.clone()));
        }
        Ok(ImportOutcome::Reorganized { removed })
    }

    /// The state at `height` of the node's own chain, rebuilt from the nearest checkpoint
    /// state at or below it (or from genesis), and the checkpoint states passed on the way.
    fn state_at(
        &self,
        height: u64,
        ctx: &mut Ctx<'_>,
    ) -> Result<(ChainState, Vec<ChainState>), String> {
        let at_height = |s: &&ChainState| s.height() <= height;
        let own = height
            .checked_sub(1)
            .and_then(|i| self.blocks.get(usize::try_from(i).ok()?));
        if let Some(state) = own.and_then(|b| ctx.memo.state_after(b)) {
            let snaps = self.snapshots.iter().filter(at_height).cloned().collect();
            return Ok((state.clone(), snaps));
        }
        let base = self
            .snapshots
            .iter()
            .rev()
            .find(|s| s.height() <= height && self.hash_at(s.height()) == Some(s.tip_hash()));
        let mut state = base
            .cloned()
            .unwrap_or_else(|| ChainState::new(self.params.clone()));
        let mut snaps: Vec<ChainState> = self
            .snapshots
            .iter()
            .filter(|s| s.height() <= state.height())
            .cloned()
            .collect();
        let from = usize::try_from(state.height()).unwrap_or(usize::MAX);
        let to = usize::try_from(height).unwrap_or(usize::MAX);
        for b in self.blocks.get(from..to).unwrap_or(&[]) {
            self.apply_checked(&mut state, b, ctx)
                .map_err(|e| format!("own block {} does not replay: {e}", b.header.index))?;
            if state
                .height()
                .is_multiple_of(self.params.finality_depth.max(1))
            {
                snaps.push(state.clone());
            }
        }
        Ok((state, snaps))
    }
}
