//! One simulated node: its kept blocks (its "disk"), its chain state, its pools, and how
//! it answers messages. Import and fork choice are the node's own
//! ([`doin_node::chain_import`], run over the kept blocks by [`crate::import`]), minting
//! in [`crate::mint`], the optimizer in [`crate::optimizer`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use doin_consensus::accepted::Reveal;
use doin_consensus::commitment::OptimaeCommitment;
use doin_consensus::{ChainParams, ChainState, QuorumVote};
use doin_node::chain_import::Importer;
use doin_node::commitment_pool::{CommitmentPool, DEFAULT_CAPACITY};
use doin_node::mint_timer::MintTimer;
use doin_node::pending_optimae::PendingOptimae;
use doin_primitives::identity::Identity;
use doin_primitives::models::Block;
use doin_primitives::seal::SealKind;
use doin_primitives::timestamp::Timestamp;
use doin_primitives::value::Value;
use rand_chacha::ChaCha8Rng;

use crate::config::{Adversary, PlantedBug, DOMAIN};
use crate::invariants::Violation;
use crate::memo::Memo;
use crate::queue::{short, Event, Msg};

/// Vote requests an evaluator keeps waiting for its chain at most.
const MAX_WAITING_REQUESTS: usize = 64;

/// Votes an evaluator keeps to answer repeated requests at most.
const MAX_VOTES_KEPT: usize = 256;

/// Commitment ids a node remembers having relayed (then it forgets them all at once).
const MAX_SEEN_COMMITMENTS: usize = 8192;

/// How long an evaluator keeps a vote request waiting for its chain, µs.
const REQUEST_PATIENCE: i64 = 60 * crate::config::SECOND;

/// Virtual time zero: 2026-01-01T00:00:00Z, µs since the Unix epoch.
pub const START_MICROS: i64 = 1_767_225_600 * 1_000_000;

/// What a node asks the simulator to do.
#[derive(Debug)]
pub enum Action {
    /// Send a message to one node.
    Send {
        /// Receiver.
        to: usize,
        /// The message.
        msg: Msg,
    },
    /// Schedule an event at a virtual time (µs after the start).
    Schedule {
        /// When.
        at: i64,
        /// What.
        event: Event,
    },
}

/// What happened at a node that the metrics and the checker want to know.
#[derive(Debug, Clone)]
pub enum Note {
    /// The node minted a block.
    Minted {
        /// Its hash.
        hash: String,
        /// Accepted optimae it carries.
        optimae: usize,
    },
    /// A block joined the node's chain.
    Adopted(String),
    /// The node switched branches, dropping `depth` blocks.
    Reorganized {
        /// Blocks dropped.
        depth: u64,
    },
    /// The node refused a block or a branch.
    Refused(String),
    /// A step of the optimizer's proposal cycle.
    Proposal(crate::optimizer::ProposalNote),
    /// Anything else worth a line in the log.
    Info(String),
}

/// The context a node handles an event in: the time, the run's random stream, and where
/// its actions and notes go.
pub struct Ctx<'a> {
    /// Virtual time, µs after the start.
    pub now: i64,
    /// The run's random stream.
    pub rng: &'a mut ChaCha8Rng,
    /// Actions for the simulator.
    pub out: Vec<Action>,
    /// Notes for metrics and the log.
    pub notes: Vec<Note>,
    /// Broken invariants seen while handling the event.
    pub violations: Vec<Violation>,
    /// Checks and states computed once per run ([`crate::memo`]).
    pub memo: &'a mut Memo,
    /// Every node's peer id, by index.
    pub ids: &'a [String],
    /// The peers this node relays gossip to.
    pub relays: &'a [usize],
    /// Whether the run is still in its faulty phase (adversaries active).
    pub faulty: bool,
}

impl Ctx<'_> {
    /// Sends `msg` to `to`.
    pub fn send(&mut self, to: usize, msg: Msg) {
        self.out.push(Action::Send { to, msg });
    }

    /// Sends `msg` to every relay peer but `except`.
    pub fn relay(&mut self, msg: &Msg, except: Option<usize>) {
        for &p in self.relays {
            if Some(p) != except {
                self.out.push(Action::Send {
                    to: p,
                    msg: msg.clone(),
                });
            }
        }
    }

    /// Schedules `event` at `at`.
    pub fn schedule(&mut self, at: i64, event: Event) {
        self.out.push(Action::Schedule { at, event });
    }
}

/// A simulated node.
pub struct Node {
    /// Its index in the run.
    pub index: usize,
    /// Its key.
    pub identity: Identity,
    /// Its clock's offset from virtual time, µs.
    pub skew: i64,
    /// Whether it runs (false while crashed).
    pub up: bool,
    /// Whether it optimizes.
    pub optimizer: bool,
    /// How it misbehaves, if it does.
    pub adversary: Option<Adversary>,
    /// A bug planted in it, if any.
    pub planted: Option<PlantedBug>,
    /// What its optimizer improves and its evaluator measures.
    pub objective: crate::optimae::Objective,
    pub(crate) params: ChainParams,
    /// Its kept blocks after genesis (survive a crash): `blocks[h - 1]` is at height `h`.
    pub blocks: Vec<Arc<Block>>,
    /// Its chain state (rebuilt from `blocks` on restart), shared with the nodes on the
    /// same tip ([`crate::memo`]).
    pub state: Arc<ChainState>,
    /// When it first saw its tip and since when it pools commitments at it, by its own
    /// clock: the node's own [`MintTimer`] (where the wait for its next work block may
    /// start, [`doin_node::mint_schedule::wait_origin_micros`]).
    pub timer: MintTimer,
    /// States at recent checkpoint heights, to rebuild a fork point cheaply.
    pub(crate) snapshots: Vec<Arc<ChainState>>,
    /// The node's importer: holds a competing branch between the pages of a sync.
    pub(crate) importer: Importer<Arc<Block>, Vec<Arc<ChainState>>>,
    /// Commitments waiting for a block: the node's own pool.
    pub(crate) pool: CommitmentPool,
    /// Commitment ids already relayed.
    pub(crate) seen_commitments: BTreeSet<Arc<str>>,
    /// The optimizer's proposals: the node's own cycle ([`crate::optimizer`]).
    pub(crate) cycle: crate::optimizer::Proposals,
    /// Verified optimae waiting for a work block: the node's own.
    pub(crate) pending: PendingOptimae,
    pub(crate) checks_scheduled: BTreeSet<i64>,
    /// Vote requests waiting for their commitment to reach this node's chain:
    /// (optimizer, reveal, received at).
    pub(crate) vote_requests: Vec<(usize, Arc<Reveal>, i64)>,
    /// Votes this node signed, by reveal (allocation) and seed.
    pub(crate) votes_cast: BTreeMap<(usize, u64), (Arc<Reveal>, Arc<QuorumVote>)>,
    /// Highest finalized height already reported to the checker.
    pub(crate) reported_final: u64,
}

impl Node {
    /// A node at genesis.
    pub fn new(index: usize, identity: Identity, params: ChainParams) -> Self {
        let cycle = crate::optimizer::new_cycle(&identity);
        Node {
            index,
            identity,
            skew: 0,
            up: true,
            optimizer: false,
            adversary: None,
            planted: None,
            objective: crate::optimae::Objective::Bowl,
            state: Arc::new(ChainState::new(params.clone())),
            timer: MintTimer::new(),
            params,
            blocks: Vec::new(),
            snapshots: Vec::new(),
            importer: Importer::new(),
            pool: CommitmentPool::new(DEFAULT_CAPACITY),
            seen_commitments: BTreeSet::new(),
            cycle,
            pending: PendingOptimae::new(),
            checks_scheduled: BTreeSet::new(),
            vote_requests: Vec::new(),
            votes_cast: BTreeMap::new(),
            reported_final: 0,
        }
    }

    /// The node's clock at virtual time `t`, as µs since the Unix epoch.
    pub fn clock(&self, t: i64) -> i64 {
        START_MICROS + t + self.skew
    }

    /// The node's clock at virtual time `t`.
    pub fn timestamp(&self, t: i64) -> Timestamp {
        Timestamp::from_unix_micros(self.clock(t))
    }

    /// The virtual time at which this node's clock reads `micros`.
    pub fn virtual_at(&self, micros: i64) -> i64 {
        micros - START_MICROS - self.skew
    }

    /// The peer id.
    pub fn peer_id(&self) -> &str {
        self.identity.peer_id()
    }

    /// The hash of the node's block at `height` (genesis at 0).
    pub fn hash_at(&self, height: u64) -> Option<&str> {
        if height == 0 {
            return Some(doin_primitives::models::GENESIS_HASH);
        }
        let i = usize::try_from(height - 1).ok()?;
        self.blocks.get(i).map(|b| b.hash.as_str())
    }

    /// The node's chain from its finalized height up, as (height, hash): what it sends
    /// in a sync request so the peer finds the last block both have.
    pub fn locator(&self) -> Vec<(u64, String)> {
        let from = self.state.finalized_height();
        let mut l: Vec<(u64, String)> = (from..=self.state.height())
            .filter_map(|h| self.hash_at(h).map(|s| (h, s.to_owned())))
            .collect();
        if from > 0 {
            l.insert(0, (0, doin_primitives::models::GENESIS_HASH.to_owned()));
        }
        l
    }

    /// Handles a message from `from`.
    pub fn on_message(&mut self, from: usize, msg: Msg, ctx: &mut Ctx<'_>) {
        match msg {
            Msg::Block(b) => self.on_block(from, b, ctx),
            Msg::Commitment(c) => self.on_commitment(from, c, ctx),
            Msg::VoteRequest(r) => {
                if !self.try_vote(from, &r, ctx) && self.vote_requests.len() < MAX_WAITING_REQUESTS
                {
                    self.vote_requests.push((from, r, ctx.now));
                }
            }
            Msg::Vote(v) => self.on_vote(&v, ctx),
            Msg::SyncRequest(locator) => self.on_sync_request(from, &locator, ctx),
            Msg::Blocks(blocks) => {
                // A refused segment may still have extended the tip by its valid prefix.
                let tip = self.state.tip_hash().to_owned();
                let _ = self.import(&blocks, ctx);
                if self.state.tip_hash() != tip {
                    self.after_chain_change(ctx);
                }
            }
        }
    }

    fn on_block(&mut self, from: usize, b: Arc<Block>, ctx: &mut Ctx<'_>) {
        let Ok(height) = u64::try_from(b.header.index) else {
            return;
        };
        if self.hash_at(height) == Some(b.hash.as_str()) {
            return;
        }
        let parent_known = height
            .checked_sub(1)
            .and_then(|p| self.hash_at(p))
            .is_some_and(|h| h == b.header.previous_hash);
        if !parent_known {
            if self.planted != Some(PlantedBug::NoSync) {
                ctx.send(from, Msg::SyncRequest(self.locator()));
            }
            return;
        }
        match self.import(std::slice::from_ref(&b), ctx) {
            Ok(outcome) if outcome.adopted() => {
                self.relay_block(&b, Some(from), ctx);
                self.after_chain_change(ctx);
            }
            Ok(_) => {}
            Err(e) => ctx.notes.push(Note::Refused(format!(
                "block {}@{} from {from}: {e}",
                short(&b.hash),
                height
            ))),
        }
    }

    /// Announces a block to the relay peers; an invalid-block relay sends corrupted
    /// copies first.
    pub(crate) fn relay_block(&self, b: &Arc<Block>, except: Option<usize>, ctx: &mut Ctx<'_>) {
        if self.adversary == Some(Adversary::InvalidRelay) && ctx.faulty {
            for bad in corrupted_copies(b, &self.identity) {
                ctx.relay(&Msg::Block(Arc::new(bad)), except);
            }
        }
        ctx.relay(&Msg::Block(b.clone()), except);
    }

    fn on_commitment(&mut self, from: usize, c: Arc<OptimaeCommitment>, ctx: &mut Ctx<'_>) {
        let id = ctx.memo.commitment_id(&c);
        if self.seen_commitments.len() >= MAX_SEEN_COMMITMENTS {
            // Bounded as the node's gossip dedupe is: a commitment heard again after this
            // is refused by the pool that holds it, or admitted again once it is gone.
            self.seen_commitments.clear();
        }
        if !self.seen_commitments.insert(id) {
            return;
        }
        if !ctx.memo.commitment_holds(&c) {
            return;
        }
        let now = self.clock(ctx.now);
        if self
            .pool
            .insert_sealed((*c).clone(), &self.state, now)
            .is_err()
        {
            return;
        }
        ctx.relay(&Msg::Commitment(c), Some(from));
        self.schedule_mint_checks(ctx);
    }

    /// Evaluates a reveal if its commitment is on this node's chain (an honest evaluator
    /// only evaluates what is committed on its own chain); whether it voted.
    fn try_vote(&mut self, from: usize, r: &Arc<Reveal>, ctx: &mut Ctx<'_>) -> bool {
        let Some(optimizer) = ctx.ids.get(from) else {
            return true;
        };
        let commitment = r.commitment_hash();
        if self
            .state
            .check_committed(&commitment, optimizer, &r.domain_id, r.commit_height)
            .is_err()
        {
            return false;
        }
        let Ok(seed) =
            self.state
                .synthetic_seed_for(&commitment, DOMAIN, self.peer_id(), r.commit_height)
        else {
            return false;
        };
        // Signatures are deterministic (RFC 6979): a repeated request gets the same vote,
        // signed once.
        let key = (Arc::as_ptr(r) as usize, seed);
        let v = match self.votes_cast.get(&key) {
            Some((_, v)) => v.clone(),
            None => {
                let v = Arc::new(crate::optimae::vote(
                    &self.identity,
                    self.objective,
                    optimizer,
                    r,
                    seed,
                ));
                if self.votes_cast.len() >= MAX_VOTES_KEPT {
                    self.votes_cast.clear();
                }
                self.votes_cast.insert(key, (r.clone(), v.clone()));
                v
            }
        };
        ctx.send(from, Msg::Vote(v));
        true
    }

    /// Retries the vote requests waiting for this node's chain, dropping old ones.
    pub(crate) fn retry_vote_requests(&mut self, ctx: &mut Ctx<'_>) {
        let waiting = std::mem::take(&mut self.vote_requests);
        for (from, r, at) in waiting {
            if ctx.now - at < REQUEST_PATIENCE && !self.try_vote(from, &r, ctx) {
                self.vote_requests.push((from, r, at));
            }
        }
    }

    fn on_sync_request(&mut self, from: usize, locator: &[(u64, String)], ctx: &mut Ctx<'_>) {
        // A withholder serves nothing: its branch goes out only when it releases it.
        if matches!(self.adversary, Some(Adversary::Withholder { .. })) && ctx.faulty {
            return;
        }
        let common = locator
            .iter()
            .rev()
            .find(|(h, hash)| self.hash_at(*h) == Some(hash.as_str()))
            .map(|(h, _)| *h);
        let Some(common) = common else {
            return;
        };
        if common >= self.state.height() {
            return;
        }
        let from_i = usize::try_from(common).unwrap_or(usize::MAX);
        let blocks: Vec<Arc<Block>> = self.blocks.iter().skip(from_i).take(64).cloned().collect();
        ctx.send(from, Msg::Blocks(blocks));
    }

    /// Starts a sync round with a random peer.
    pub fn sync_round(&mut self, peer: usize, ctx: &mut Ctx<'_>) {
        if self.planted == Some(PlantedBug::NoSync) || peer == self.index {
            return;
        }
        ctx.send(peer, Msg::SyncRequest(self.locator()));
    }

    /// Crashes the node: what it holds in memory is gone, its kept blocks stay.
    pub fn crash(&mut self) {
        self.up = false;
        self.importer.clear();
        self.pool.clear();
        self.timer = MintTimer::new();
        self.seen_commitments.clear();
        self.cycle = crate::optimizer::new_cycle(&self.identity);
        self.pending.clear();
        self.checks_scheduled.clear();
        self.vote_requests.clear();
        self.votes_cast.clear();
    }

    /// Restarts the node: rebuilds its state from its kept blocks, as the real node does
    /// from its store (seals trusted, every other rule checked).
    pub fn restart(&mut self, ctx: &mut Ctx<'_>) {
        self.up = true;
        let mut state = ChainState::new(self.params.clone());
        self.snapshots.clear();
        let blocks = self.blocks.clone();
        for b in &blocks {
            if let Err(e) = state.apply_stored_block(b) {
                ctx.violations.push(Violation::InvalidChain {
                    node: self.index,
                    detail: format!("kept block {} does not replay: {e}", b.header.index),
                });
                break;
            }
            crate::import::snapshot(&mut self.snapshots, self.params.finality_depth, &state);
        }
        self.state = Arc::new(state);
        self.timer.tip_adopted(&self.state, self.clock(ctx.now));
        self.schedule_mint_checks(ctx);
    }
}

/// Corrupted copies of `b` an invalid-block relay sends: the same hash with a tampered
/// coinbase (the coinbase is derived data the hash does not cover), and the block under
/// a seal that is not its generator's.
fn corrupted_copies(b: &Block, adversary: &Identity) -> Vec<Block> {
    let mut tampered = b.clone();
    if let Some(Value::Object(cb)) = tampered
        .extensions
        .get_mut(doin_consensus::coinbase::COINBASE_KEY)
    {
        if let Some(Value::Array(outputs)) = cb.get_mut("outputs") {
            if let Some(Value::Object(first)) = outputs.first_mut() {
                if let Some(Value::Int(amount)) = first.get_mut("amount") {
                    *amount += 1;
                }
            }
        }
    }
    let mut forged = b.clone();
    forged.seal = Some(adversary.seal(SealKind::Block, &b.hash));
    vec![tampered, forged]
}
