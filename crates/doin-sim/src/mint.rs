//! Minting and optimizing at a simulated node.
//!
//! Minting is the real node's, called as is: when to mint ([`doin_node::mint_schedule`]:
//! work blocks spaced after their parent, commitment blocks one target block time after
//! it, the candidates taking turns, remembered in [`doin_node::mint_timer::MintTimer`]),
//! the pending optimae ([`doin_node::pending_optimae::PendingOptimae`]: scored when their
//! quorum has voted, checked in full with the others, dropped at a tip they no longer
//! fit), the commitment pool ([`doin_node::commitment_pool::CommitmentPool`]: admission,
//! the oldest first into a block, pruned after each block and after [`COMMITMENT_TTL`] by
//! the node's clock) and what goes in a block ([`doin_node::block_assembly`]).
//!
//! The optimizer's side is reproduced: it commits to a candidate, waits for the commitment
//! to land in a block, reveals it to its quorum
//! ([`doin_consensus::ChainState::quorum_for_at`]), and hands it to the pending optimae
//! once the whole quorum voted (the node does this in `doin_node::proposals` over its task
//! queue).

use std::sync::Arc;

use doin_consensus::accepted::{AcceptedOptimae, Experiment, Reveal};
use doin_consensus::commitment::OptimaeCommitment;
use doin_consensus::vote::VoteSubject;
use doin_consensus::QuorumVote;
use doin_node::block_assembly::{assemble_block, BlockContents};
#[cfg(doc)]
use doin_node::commitment_pool::COMMITMENT_TTL;
use doin_node::mint_schedule::{
    commitment_block_at_micros, wait_origin_micros, work_block_due_since, work_block_wait_micros,
};
use doin_primitives::hash::sha256_hex;
use doin_primitives::models::Transaction;
use rand_core::RngCore;

use crate::config::{Adversary, PlantedBug, DOMAIN};
use crate::node::{Candidate, Ctx, Node, Note};
use crate::optimae::{distance_of, parameters, performance};
use crate::queue::{Event, Msg};
use crate::rng::range_f64;

/// Target block times after which an optimizer gives up a candidate.
const CANDIDATE_PATIENCE: f64 = 6.0;

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
        let me = self.peer_id().to_owned();
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
        let me = self.peer_id().to_owned();
        let work_due = if self.planted == Some(PlantedBug::WaitFromTipDate) {
            !self.pending.is_empty()
                && work_block_due_since(&self.state, &me, now, i64::MAX)
                && self
                    .pending
                    .sum_at(&self.state, now.unix_micros())
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
        let dropped = self.pending.revalidate(&self.state, now);
        if dropped > 0 {
            ctx.notes.push(Note::Refused(format!(
                "dropped {dropped} pending optimae that no longer fit the tip"
            )));
        }
    }

    /// After the chain changed: prune the pool, reveal a candidate whose commitment
    /// landed, drop one whose commitment left the chain, and reschedule minting.
    pub(crate) fn after_chain_change(&mut self, ctx: &mut Ctx<'_>) {
        // The node's chain service checks minting right after every import (its timer
        // sees the new tip then).
        let now = self.clock(ctx.now);
        self.timer.tip_adopted(&self.state, now);
        self.pool.prune(&self.state, now);
        self.drop_unfit_pending(now, ctx);
        self.retry_vote_requests(ctx);
        self.reveal_if_committed(ctx);
        self.schedule_mint_checks(ctx);
    }

    fn reveal_if_committed(&mut self, ctx: &mut Ctx<'_>) {
        let Some(c) = &self.candidate else {
            return;
        };
        let me = self.identity.peer_id().to_owned();
        if let Some((reveal, quorum, votes)) = &c.revealed {
            let still = self
                .state
                .check_committed(&reveal.commitment_hash(), &me, DOMAIN, reveal.commit_height)
                .is_ok();
            if !still {
                self.candidate = None;
                return;
            }
            // Ask again whoever has not voted yet (lost requests, lagging evaluators).
            for member in quorum.iter().filter(|m| !votes.contains_key(*m)) {
                if let Some(i) = ctx.ids.iter().position(|p| p == member) {
                    if i != self.index {
                        ctx.send(i, Msg::VoteRequest(reveal.clone()));
                    }
                }
            }
            return;
        }
        let Some((height, _)) = self
            .state
            .bound_committed_at(&c.commitment.bound_commitment, &me)
        else {
            return;
        };
        let reveal = Reveal {
            domain_id: DOMAIN.into(),
            reported_performance: performance(&c.parameters),
            parameters: c.parameters.clone(),
            nonce: c.nonce.clone(),
            commit_height: height,
            timestamp: self.timestamp(ctx.now),
        };
        let at = self.state.block_time(reveal.timestamp);
        let Ok(quorum) = self.state.quorum_for_at(DOMAIN, &me, height, at) else {
            self.candidate = None;
            return;
        };
        let reveal = Arc::new(reveal);
        let mut votes = std::collections::BTreeMap::new();
        for member in &quorum {
            if *member == me {
                if let Ok(seed) =
                    self.state
                        .synthetic_seed_for(&reveal.commitment_hash(), DOMAIN, &me, height)
                {
                    let v = crate::optimae::vote(&self.identity, &me, &reveal, seed);
                    votes.insert(me.clone(), v);
                }
            } else if let Some(i) = ctx.ids.iter().position(|p| p == member) {
                ctx.send(i, Msg::VoteRequest(reveal.clone()));
            }
        }
        if let Some(c) = &mut self.candidate {
            c.revealed = Some((reveal, quorum, votes));
        }
        self.complete_candidate(ctx);
    }

    /// Handles a vote for this node's revealed candidate.
    pub(crate) fn on_vote(&mut self, v: &QuorumVote, ctx: &mut Ctx<'_>) {
        let me = self.identity.peer_id().to_owned();
        if let Some(Candidate {
            revealed: Some((reveal, quorum, votes)),
            ..
        }) = &mut self.candidate
        {
            let commitment = reveal.commitment_hash();
            let valid = self
                .state
                .seed_block_hash(reveal.commit_height)
                .ok()
                .is_some_and(|seed_block_hash| {
                    let subject = VoteSubject {
                        optimae_id: &reveal.optimae_id(&me),
                        domain_id: DOMAIN,
                        commitment_hash: &commitment,
                        seed_block_hash,
                    };
                    v.check_for(&v.evaluator_id, &subject).is_ok()
                });
            // A vote judged on another branch is dropped; the evaluator is asked again
            // when the chain changes.
            if valid && quorum.contains(&v.evaluator_id) {
                votes.insert(v.evaluator_id.clone(), v.clone());
            }
        }
        self.complete_candidate(ctx);
    }

    /// Hands a candidate whose whole quorum voted to the pending optimae (scored there, as
    /// the chain service scores a proposal; dropped if the rules refuse it).
    fn complete_candidate(&mut self, ctx: &mut Ctx<'_>) {
        let done = matches!(&self.candidate, Some(Candidate { revealed: Some((_, q, v)), .. })
            if q.iter().all(|m| v.contains_key(m)));
        if !done {
            return;
        }
        if let Some(Candidate {
            revealed: Some((reveal, quorum, mut votes)),
            ..
        }) = self.candidate.take()
        {
            let votes: Vec<QuorumVote> = quorum.iter().filter_map(|m| votes.remove(m)).collect();
            let now = self.clock(ctx.now);
            if let Err(e) = self.pending.submit(
                &self.state,
                &self.identity,
                &reveal,
                &votes,
                &experiment(&reveal),
                now,
            ) {
                ctx.notes
                    .push(Note::Refused(format!("optimae not kept pending: {e}")));
            }
            self.schedule_mint_checks(ctx);
        }
    }

    /// An optimizer's step: gives up a stale candidate, or starts a new one that improves
    /// on the best it knows by 2–8 % of its distance to the optimum, committing to it.
    pub fn optimizer_step(&mut self, ctx: &mut Ctx<'_>) {
        if !self.up || !self.optimizer {
            return;
        }
        let patience = (CANDIDATE_PATIENCE
            * self.params.target_block_time_secs
            * crate::config::SECOND as f64) as i64;
        if let Some(c) = &self.candidate {
            if ctx.now - c.started < patience {
                return;
            }
            self.candidate = None;
        }
        let mut d = distance_of(self.state.domain(DOMAIN).and_then(|p| p.best));
        for tx in self.pending.transactions() {
            if let Ok(a) = AcceptedOptimae::from_tx(tx) {
                d = d.min(distance_of(Some(performance(&a.parameters))));
            }
        }
        let d = d * (1.0 - range_f64(ctx.rng, 0.02, 0.08));
        let params = parameters(d);
        let nonce = format!("{:016x}{:016x}", ctx.rng.next_u64(), ctx.rng.next_u64());
        let hash = doin_consensus::reference::commitment::compute_commitment(&params, &nonce);
        let commitment = Arc::new(OptimaeCommitment::sealed(
            &self.identity,
            DOMAIN,
            &hash,
            self.timestamp(ctx.now),
        ));
        self.seen_commitments.insert(commitment.id());
        let now = self.clock(ctx.now);
        // Refused only when this optimizer already has as many pending as the pool takes.
        let _ = self
            .pool
            .insert_sealed((*commitment).clone(), &self.state, now);
        ctx.relay(&Msg::Commitment(commitment.clone()), None);
        self.candidate = Some(Candidate {
            commitment,
            parameters: params,
            nonce,
            started: ctx.now,
            revealed: None,
        });
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

/// The experiment record an optimae carries (simulated: the reveal's own numbers).
fn experiment(r: &Reveal) -> Experiment {
    Experiment {
        experiment_id: "sim".into(),
        round_number: i64::try_from(r.commit_height).unwrap_or(i64::MAX),
        time_to_this_result_seconds: 1.0,
        optimization_config_hash: sha256_hex("sim-config"),
        data_hash: sha256_hex("sim-data"),
        champion_metrics: doin_primitives::map! { "performance" => r.reported_performance },
    }
}
