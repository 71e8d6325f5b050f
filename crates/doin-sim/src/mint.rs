//! Minting at a simulated node.
//!
//! Minting is the real node's, called as is: when to mint ([`doin_node::mint_schedule`]:
//! work blocks spaced after their parent, commitment blocks one target block time after
//! it, the candidates taking turns, remembered in [`doin_node::mint_timer::MintTimer`]),
//! the pending optimae ([`doin_node::pending_optimae::PendingOptimae`]: scored when their
//! quorum has voted, checked in full with the others, dropped at a tip they no longer
//! fit), the commitment pool ([`doin_node::commitment_pool::CommitmentPool`]: admission,
//! the oldest first into a block, pruned after each block and after [`COMMITMENT_TTL`] by
//! the node's clock) and what goes in a block ([`doin_node::block_assembly`]). The
//! optimizer's side is in [`crate::optimizer`].

use std::sync::Arc;

use doin_node::block_assembly::{assemble_block, BlockContents};
#[cfg(doc)]
use doin_node::commitment_pool::COMMITMENT_TTL;
use doin_node::mint_schedule::{
    commitment_block_at_micros, wait_origin_micros, work_block_due_since, work_block_wait_micros,
};
use doin_primitives::models::Transaction;

use crate::config::{Adversary, PlantedBug};
use crate::node::{Ctx, Node, Note};
use crate::queue::{Event, Msg};

impl Node {
    /// Schedules the next mint checks: when a work block (with pending optimae) or a
    /// commitment block (with pooled commitments) becomes due by the node's clock, or at
    /// once if one is due already. After a check that did not mint, only later times are
    /// scheduled: what it waited for (more optimae, a new tip) schedules the next one.
    pub(crate) fn schedule_mint_checks(&mut self, ctx: &mut Ctx<'_>) {
        self.schedule_mint_checks_after(ctx, ctx.now - 1);
    }

    fn schedule_mint_checks_after(&mut self, ctx: &mut Ctx<'_>, after: i64) {
        if !self.up {
            return;
        }
        let me = self.peer_id().to_string();
        let mut times = Vec::new();
        if !self.pending.is_empty() {
            let adopted = self.tip_adopted(ctx);
            let origin = wait_origin_micros(&self.state, adopted);
            times.push(origin + work_block_wait_micros(&self.state, &me));
        }
        let now = self.clock(ctx.now);
        if let Some(since) = self
            .timer
            .pooled_since(&self.state, self.pool.is_empty(), now)
        {
            let owners = self.commitment_owners();
            times.push(commitment_block_at_micros(&self.state, &me, owners, since));
        }
        for micros in times {
            let at = self.virtual_at(micros).max(ctx.now);
            if at > after && self.checks_scheduled.insert(at) {
                ctx.schedule(at, Event::MintCheck(self.index));
            }
        }
    }

    /// When the node adopted its tip, by its clock ([`doin_node::mint_timer::MintTimer`]);
    /// as late as can be under [`PlantedBug::WaitFromTipDate`], so the wait runs from the
    /// tip's date alone.
    fn tip_adopted(&mut self, ctx: &Ctx<'_>) -> i64 {
        let adopted = self.timer.tip_adopted(&self.state, self.clock(ctx.now));
        if self.planted == Some(PlantedBug::WaitFromTipDate) {
            i64::MAX
        } else {
            adopted
        }
    }

    /// Mints a work block if one is due and the pending optimae reach the threshold, else a
    /// commitment block if one is due and the pool holds commitments (the chain service's
    /// `try_mint_due`).
    pub fn mint_check(&mut self, ctx: &mut Ctx<'_>) {
        self.checks_scheduled.remove(&ctx.now);
        if !self.up {
            return;
        }
        let now = self.timestamp(ctx.now);
        let me = self.peer_id().to_string();
        let work_due = if self.planted == Some(PlantedBug::WaitFromTipDate) {
            !self.pending.is_empty()
                && work_block_due_since(&self.state, &me, now, i64::MAX)
                && self
                    .pending
                    .sum_at(&self.state, &me, now.unix_micros())
                    .is_ok_and(|sum| sum >= self.state.next_threshold())
        } else {
            self.pending
                .work_block_due(&mut self.timer, &self.state, &me, now)
        };
        let minted = work_due && self.mint_block(self.pending.transactions().to_vec(), ctx);
        if !minted
            && self
                .timer
                .commitment_block_due(&self.state, &me, self.pool.owners(), now)
            && !self.pool.is_empty()
        {
            self.mint_block(Vec::new(), ctx);
        }
        self.schedule_mint_checks_after(ctx, ctx.now);
    }

    /// The optimizers whose pooled commitments a block may still carry: the candidates
    /// for the next commitment block ([`doin_node::mint_schedule::mint_turns`]).
    fn commitment_owners(&self) -> impl Iterator<Item = &str> {
        self.pool.owners()
    }

    /// Mints a block with `optimae` (the pending ones, or none for a commitment block)
    /// and the pool's commitments ([`doin_node::block_assembly`]), keeps it like a
    /// received one and relays it; whether it was adopted.
    fn mint_block(&mut self, optimae: Vec<Transaction>, ctx: &mut Ctx<'_>) -> bool {
        let count = optimae.len();
        let contents = BlockContents {
            optimae,
            commitments: self.pool.ordered(),
            ..BlockContents::default()
        };
        let stamp = self.timestamp(ctx.now);
        let block = match assemble_block(&self.state, &self.identity, contents, stamp) {
            Ok(a) => {
                if let Some(e) = a.commitments_refused {
                    ctx.notes.push(Note::Refused(format!(
                        "commitments left out of the block: {e}"
                    )));
                    self.pool.clear();
                }
                Arc::new(a.block)
            }
            Err(e) => {
                ctx.notes.push(Note::Refused(format!("cannot mint: {e}")));
                if count > 0 {
                    self.pending.clear();
                } else {
                    self.pool.clear();
                }
                return false;
            }
        };
        match self.keep_minted(&block, ctx) {
            Ok(o) if o.adopted() => {}
            Ok(_) => return false,
            Err(e) => {
                ctx.notes
                    .push(Note::Refused(format!("own block refused: {e}")));
                if count > 0 {
                    self.pending.clear();
                }
                return false;
            }
        }
        if count > 0 {
            self.pending.clear();
        }
        ctx.notes.push(Note::Minted {
            hash: block.hash.clone(),
            optimae: count,
        });
        let withholding =
            matches!(self.adversary, Some(Adversary::Withholder { .. })) && ctx.faulty;
        if !withholding {
            self.relay_block(&block, None, ctx);
        }
        self.after_chain_change(ctx);
        true
    }

    /// Drops the pending optimae that no longer fit the tip (the chain service's
    /// `revalidate_pending`), noting how many.
    fn drop_unfit_pending(&mut self, now: i64, ctx: &mut Ctx<'_>) {
        let dropped = self.pending.revalidate(&self.state, &self.identity, now);
        if dropped > 0 {
            ctx.notes.push(Note::Refused(format!(
                "dropped {dropped} pending optimae that no longer fit the tip"
            )));
        }
    }

    /// After the chain changed: prune the pool, revalidate the pending optimae, ask again
    /// for missing votes, let the proposal cycle reveal what landed and send back what a
    /// reorganisation unlanded ([`crate::optimizer`]), and reschedule minting.
    pub(crate) fn after_chain_change(&mut self, ctx: &mut Ctx<'_>) {
        // The node's chain service checks minting right after every import (its timer
        // sees the new tip then).
        let now = self.clock(ctx.now);
        self.timer.tip_adopted(&self.state, now);
        self.pool.prune(&self.state, now);
        self.drop_unfit_pending(now, ctx);
        self.retry_vote_requests(ctx);
        self.ask_again(ctx);
        self.advance_cycle(ctx);
        self.schedule_mint_checks(ctx);
    }

    /// A withholder's release: its chain above its finalized height goes to every relay
    /// peer at once.
    pub fn release(&mut self, ctx: &mut Ctx<'_>) {
        if !self.up {
            return;
        }
        let from = usize::try_from(self.state.finalized_height()).unwrap_or(0);
        let blocks: Vec<_> = self.blocks.iter().skip(from).cloned().collect();
        if !blocks.is_empty() {
            ctx.relay(&Msg::Blocks(blocks), None);
        }
    }
}
