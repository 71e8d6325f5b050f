//! The optimizer at a simulated node: the node's own proposal cycle
//! ([`doin_node::proposal_cycle::ProposalCycle`]: what to commit, when a commitment has
//! landed, when to reveal and to which quorum, when a proposal is done, given up, or sent
//! back to waiting by a reorganisation) driven over the node's chain state, its commitment
//! pool and the simulated network, in virtual time. The node drives the same cycle over
//! its chain service and task queue (`doin_node::optimizer_loop`).
//!
//! What is simulated here is the I/O: a commitment goes into the node's pool and is
//! relayed; a reveal is a vote request to each quorum member (asked again after each
//! chain change, as requests may be lost or arrive before the evaluator's chain carries
//! the commitment); a vote comes back as a message, checked as the node's task queue
//! checks a completion. Simulated evaluators vote only when asked, so a young chain's open
//! slots are not offered.

use std::sync::Arc;

use doin_consensus::accepted::{Experiment, Reveal};
use doin_consensus::commitment::OptimaeCommitment;
use doin_consensus::vote::VoteSubject;
use doin_consensus::{ChainState, QuorumVote};
use doin_node::chain_service::{committed_at, plan_quorum, CommittedAt, QuorumPlan};
use doin_node::proposal_cycle::{quorum_wait, Committed, CycleChain, Dropped, ProposalCycle, Step};
use doin_primitives::hash::sha256_hex;
use doin_primitives::identity::Identity;
use rand_core::RngCore;

use crate::config::DOMAIN;
use crate::node::{Ctx, Node, Note};
use crate::queue::Msg;
use crate::rng::range_f64;

/// A simulated optimizer's proposals (nothing kept with them beyond the cycle's own).
pub type Proposals = ProposalCycle<()>;

/// What became of a proposal, for the metrics and the log.
#[derive(Debug, Clone, PartialEq)]
pub enum ProposalNote {
    /// Revealed to its quorum.
    Revealed,
    /// Its commit block was replaced by a reorganisation: back to waiting.
    Recommitted,
    /// Given up before its reveal.
    Dropped(Dropped),
    /// Its whole quorum voted and the pending optimae took it.
    Pending,
    /// Its whole quorum voted and the pending optimae refused it.
    Refused(String),
    /// Done without its whole quorum's votes.
    QuorumIncomplete,
}

/// A fresh cycle for `identity`'s proposals, waiting for votes as long as a node on the
/// default `eval_poll_interval` does.
pub fn new_cycle(identity: &Identity) -> Proposals {
    let poll = doin_node::config::NodeConfig::default().eval_poll_interval;
    ProposalCycle::new(DOMAIN, identity.peer_id(), true, quorum_wait(poll))
}

/// The node's chain as the cycle sees it, read at the node's clock.
struct StateChain<'a> {
    state: &'a ChainState,
    me: &'a str,
    now_micros: i64,
}

impl CycleChain for StateChain<'_> {
    fn committed_at(&mut self, bound: &str) -> Option<CommittedAt> {
        committed_at(self.state, bound, self.me)
    }

    fn plan_quorum(&mut self, commit_height: u64) -> Result<QuorumPlan, String> {
        let mut plan = plan_quorum(self.state, DOMAIN, self.me, commit_height, self.now_micros)?;
        plan.extra_votes = 0;
        Ok(plan)
    }
}

impl Node {
    /// An optimizer's round: hands on the proposals that are done, commits to a new
    /// candidate that improves on the best it knows (the cycle's floor: the chain's best,
    /// its accepted and its proposals in flight) by 2–8 % of its distance to the optimum
    /// while the cycle has room, and reveals what landed.
    pub fn optimizer_step(&mut self, ctx: &mut Ctx<'_>) {
        if !self.up || !self.optimizer {
            return;
        }
        self.cycle.pending_optimae(self.pending.len());
        self.conclude_done(ctx);
        let chain_best = self.state.domain(DOMAIN).and_then(|p| p.best);
        let step = range_f64(ctx.rng, 0.02, 0.08);
        let params = self.objective.candidate(self.cycle.floor(chain_best), step);
        let perf = self.objective.performance(&params);
        if self.cycle.worth_committing(perf, chain_best) {
            let nonce = format!("{:016x}{:016x}", ctx.rng.next_u64(), ctx.rng.next_u64());
            let c = Committed::new(params, perf, nonce, ());
            self.offer_commitment(&c.commitment_hash, ctx);
            let now = self.timestamp(ctx.now);
            self.cycle.commit(c, now);
            self.schedule_mint_checks(ctx);
        }
        self.advance_cycle(ctx);
    }

    /// Seals a commitment to `commitment_hash`, pools it and relays it (the chain service's
    /// `submit_commitment` with relay).
    fn offer_commitment(&mut self, commitment_hash: &str, ctx: &mut Ctx<'_>) {
        let commitment = Arc::new(OptimaeCommitment::sealed(
            &self.identity,
            DOMAIN,
            commitment_hash,
            self.timestamp(ctx.now),
        ));
        self.seen_commitments
            .insert(ctx.memo.commitment_id(&commitment));
        let now = self.clock(ctx.now);
        // Refused only when this optimizer already has as many pending as the pool takes.
        let _ = self
            .pool
            .insert_sealed((*commitment).clone(), &self.state, now);
        ctx.relay(&Msg::Commitment(commitment), None);
    }

    /// Carries out what the cycle decides at the node's chain now: reveals (a vote
    /// request to each quorum member, this node's own vote at once), commitments offered
    /// again after a reorganisation, proposals dropped; then hands on those done.
    pub(crate) fn advance_cycle(&mut self, ctx: &mut Ctx<'_>) {
        let now = self.timestamp(ctx.now);
        let chain_best = self.state.domain(DOMAIN).and_then(|p| p.best);
        let mut chain = StateChain {
            state: &self.state,
            me: self.identity.peer_id(),
            now_micros: now.unix_micros(),
        };
        let target = self.params.target_block_time_secs;
        let steps = self.cycle.advance(&mut chain, now, chain_best, target);
        let me = self.peer_id().to_string();
        for step in steps {
            match step {
                Step::Reveal(to) => {
                    ctx.notes.push(Note::Proposal(ProposalNote::Revealed));
                    for (slot, member) in to.quorum.iter().enumerate() {
                        if *member == me {
                            let vote = self.own_vote(&to.reveal);
                            self.cycle.task_ended(to.key, slot, vote);
                        } else if let Some(i) = ctx.ids.iter().position(|p| p == member) {
                            ctx.send(i, Msg::VoteRequest(to.reveal.clone()));
                        }
                    }
                }
                Step::Recommit {
                    commitment_hash, ..
                } => {
                    ctx.notes.push(Note::Proposal(ProposalNote::Recommitted));
                    self.offer_commitment(&commitment_hash, ctx);
                    self.schedule_mint_checks(ctx);
                }
                Step::Drop { why, .. } => {
                    ctx.notes.push(Note::Proposal(ProposalNote::Dropped(why)));
                }
            }
        }
        self.conclude_done(ctx);
    }

    /// This node's vote on its own optimae, when the quorum drew it (a young chain).
    fn own_vote(&self, reveal: &Reveal) -> Option<QuorumVote> {
        let me = self.peer_id();
        let seed = self
            .state
            .synthetic_seed_for(&reveal.commitment_hash(), DOMAIN, me, reveal.commit_height)
            .ok()?;
        Some(crate::optimae::vote(
            &self.identity,
            self.objective,
            me,
            reveal,
            seed,
        ))
    }

    /// Asks again the quorum members that have not voted (lost requests, lagging
    /// evaluators).
    pub(crate) fn ask_again(&self, ctx: &mut Ctx<'_>) {
        for (reveal, members) in self.cycle.unanswered() {
            for member in members {
                if let Some(i) = ctx.ids.iter().position(|p| p == member) {
                    if i != self.index {
                        ctx.send(i, Msg::VoteRequest(reveal.clone()));
                    }
                }
            }
        }
    }

    /// A vote for one of this node's revealed optimae: counted if sealed by its evaluator
    /// for that optimae and seeded from the commit block on this node's chain (as the
    /// node's task queue checks a completion); a vote judged on another branch is dropped,
    /// and the evaluator asked again when the chain changes.
    pub(crate) fn on_vote(&mut self, v: &QuorumVote, ctx: &mut Ctx<'_>) {
        let Some(reveal) = self.cycle.reveal_of(&v.optimae_id) else {
            return;
        };
        let commitment = reveal.commitment_hash();
        let valid = self
            .state
            .seed_block_hash(reveal.commit_height)
            .ok()
            .is_some_and(|seed_block_hash| {
                let subject = VoteSubject {
                    optimae_id: &v.optimae_id,
                    domain_id: DOMAIN,
                    commitment_hash: &commitment,
                    seed_block_hash,
                };
                v.check_for(&v.evaluator_id, &subject).is_ok()
            });
        if valid && self.cycle.vote(v.clone()) {
            self.conclude_done(ctx);
        }
    }

    /// Hands the proposals whose whole quorum voted to the pending optimae (scored there,
    /// as the chain service scores a proposal; dropped if the rules refuse it); the others
    /// done are dropped.
    fn conclude_done(&mut self, ctx: &mut Ctx<'_>) {
        let now = self.timestamp(ctx.now);
        let done = self.cycle.take_done(now);
        if done.is_empty() {
            return;
        }
        for p in done {
            if !p.quorum_voted() {
                ctx.notes
                    .push(Note::Proposal(ProposalNote::QuorumIncomplete));
                continue;
            }
            match self.pending.submit(
                &self.state,
                &self.identity,
                &p.reveal,
                &p.votes,
                &experiment(&p.reveal),
                now.unix_micros(),
            ) {
                Ok(_) => {
                    ctx.notes.push(Note::Proposal(ProposalNote::Pending));
                    self.cycle.accept(p.reveal.reported_performance);
                }
                Err(e) => ctx
                    .notes
                    .push(Note::Proposal(ProposalNote::Refused(e.to_string()))),
            }
        }
        self.schedule_mint_checks(ctx);
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
