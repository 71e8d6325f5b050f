//! Minting and optimizing at a simulated node.
//!
//! When to mint is the real node's policy, called as is: [`doin_node::mint_schedule`]
//! (work blocks spaced after their parent, commitment blocks one target block time after
//! it, the candidates taking turns). Commitments wait in the node's own pool
//! ([`doin_node::commitment_pool::CommitmentPool`]: admission, the oldest first into a
//! block, pruned after each block and after [`COMMITMENT_TTL`] by the node's clock). What
//! goes in a block follows the node: the ready optimae rescored at the tip
//! ([`doin_consensus::ChainState::score_optimae_after`]), dropped when they no longer
//! improve, and the pooled commitments (this part is reproduced: the node builds its
//! pending optimae from proposals, `chain_service/minting.rs`). An optimizer commits to a
//! candidate, waits for the commitment to land in a block, reveals it to its quorum
//! ([`doin_consensus::ChainState::quorum_for_at`]) and mints once its ready optimae reach the threshold.

use std::sync::Arc;

use doin_consensus::accepted::{AcceptedOptimae, Experiment, Reveal};
use doin_consensus::commitment::OptimaeCommitment;
use doin_consensus::vote::VoteSubject;
use doin_consensus::QuorumVote;
#[cfg(doc)]
use doin_node::commitment_pool::COMMITMENT_TTL;
use doin_node::mint_schedule::{
    commitment_block_at_micros, wait_origin_micros, work_block_due_since, work_block_wait_micros,
};
use doin_primitives::hash::sha256_hex;
use rand_core::RngCore;

use crate::config::{Adversary, PlantedBug, DOMAIN};
use crate::node::{Candidate, Ctx, Node, Note, Ready};
use crate::optimae::{distance_of, parameters, performance};
use crate::queue::{Event, Msg};
use crate::rng::range_f64;

/// Target block times after which an optimizer gives up a candidate.
const CANDIDATE_PATIENCE: f64 = 6.0;

impl Node {
    /// Schedules the next mint checks: when a work block (with ready optimae) or a
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
        if !self.ready.is_empty() {
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

    /// Mints a work block if one is due and the ready optimae reach the threshold, else a
    /// commitment block if one is due and the pool holds commitments.
    pub fn mint_check(&mut self, ctx: &mut Ctx<'_>) {
        self.checks_scheduled.remove(&ctx.now);
        if !self.up {
            return;
        }
        let now = self.timestamp(ctx.now);
        let me = self.peer_id().to_owned();
        let adopted = self.tip_adopted(ctx);
        let minted =
            if !self.ready.is_empty() && work_block_due_since(&self.state, &me, now, adopted) {
                self.mint_work(ctx)
            } else {
                false
            };
        if !minted
            && self
                .timer
                .commitment_block_due(&self.state, &me, self.pool.owners(), now)
        {
            let commitments = self.pooled_commitments();
            if !commitments.is_empty() {
                self.mint_block(Vec::new(), &commitments, ctx);
            }
        }
        self.schedule_mint_checks_after(ctx, ctx.now);
    }

    /// The optimizers whose pooled commitments a block may still carry: the candidates
    /// for the next commitment block ([`doin_node::mint_schedule::mint_turns`]).
    fn commitment_owners(&self) -> impl Iterator<Item = &str> {
        self.pool.owners()
    }

    /// The pooled commitments the next block carries (the pool's oldest first; the block
    /// is validated in full before it goes out).
    fn pooled_commitments(&self) -> Vec<OptimaeCommitment> {
        self.pool.ordered()
    }

    fn mint_work(&mut self, ctx: &mut Ctx<'_>) -> bool {
        let time = self.state.block_time(self.timestamp(ctx.now));
        let me = self.identity.peer_id().to_owned();
        let mut txs = Vec::new();
        let mut kept = Vec::new();
        let mut sum = 0.0;
        for r in std::mem::take(&mut self.ready) {
            let scored = self
                .state
                .score_optimae_after(&txs, &r.reveal, &me, &r.votes, time)
                .map_err(|e| e.to_string());
            // Scoring reads the quorum's decision; the full check (seeds, seals,
            // commitment) is the block's. An optimae failing it is dropped, as the real
            // node drops pending optimae that no longer validate.
            let checked = scored.and_then(|scoring| {
                let tx = AcceptedOptimae::build(
                    &self.identity,
                    &r.reveal,
                    &scoring,
                    &r.votes,
                    &experiment(&r.reveal),
                );
                let mut trial = txs.clone();
                trial.push(tx);
                let s = self
                    .state
                    .pending_sum_at(&trial, time)
                    .map_err(|e| e.to_string())?;
                Ok((trial, s))
            });
            match checked {
                Ok((trial, s)) => {
                    txs = trial;
                    sum = s;
                    kept.push(r);
                }
                Err(e) => ctx
                    .notes
                    .push(Note::Refused(format!("dropped an optimae: {e}"))),
            }
        }
        self.ready = kept;
        if txs.is_empty() {
            return false;
        }
        if sum < self.state.next_threshold() {
            ctx.notes.push(Note::Info(format!(
                "waits: {} ready optimae sum {sum:.4} below the threshold {:.4}",
                txs.len(),
                self.state.next_threshold()
            )));
            return false;
        }
        let commitments = self.pooled_commitments();
        self.mint_block(txs, &commitments, ctx)
    }

    fn mint_block(
        &mut self,
        txs: Vec<doin_primitives::models::Transaction>,
        commitments: &[OptimaeCommitment],
        ctx: &mut Ctx<'_>,
    ) -> bool {
        let optimae = txs.len();
        let stamp = self.timestamp(ctx.now);
        let block = match self.state.build_block_with_commitments(
            &self.identity,
            txs,
            Vec::new(),
            Vec::new(),
            commitments,
            stamp,
        ) {
            Ok(b) => Arc::new(b),
            Err(e) => {
                ctx.notes.push(Note::Refused(format!("cannot mint: {e}")));
                return false;
            }
        };
        match self.keep_minted(&block, ctx) {
            Ok(o) if o.adopted() => {}
            Ok(_) => return false,
            Err(e) => {
                ctx.notes
                    .push(Note::Refused(format!("own block refused: {e}")));
                return false;
            }
        }
        if optimae > 0 {
            self.ready.clear();
        }
        ctx.notes.push(Note::Minted {
            hash: block.hash.clone(),
            optimae,
        });
        let withholding =
            matches!(self.adversary, Some(Adversary::Withholder { .. })) && ctx.faulty;
        if !withholding {
            self.relay_block(&block, None, ctx);
        }
        self.after_chain_change(ctx);
        true
    }

    /// After the chain changed: prune the pool, reveal a candidate whose commitment
    /// landed, drop one whose commitment left the chain, and reschedule minting.
    pub(crate) fn after_chain_change(&mut self, ctx: &mut Ctx<'_>) {
        // The node's chain service checks minting right after every import (its timer
        // sees the new tip then).
        let now = self.clock(ctx.now);
        self.timer.tip_adopted(&self.state, now);
        self.pool.prune(&self.state, now);
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

    /// Moves a candidate whose whole quorum voted to the ready optimae.
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
            let votes = quorum.iter().filter_map(|m| votes.remove(m)).collect();
            self.ready.push(Ready { reveal, votes });
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
        for r in &self.ready {
            d = d.min(distance_of(Some(performance(&r.reveal.parameters))));
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
