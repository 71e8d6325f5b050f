//! Rejection evidence, node side: optimizers' sealed claims and the quorum votes on them,
//! pooled from verification tasks and gossip, and turned into the `optimae_rejected`
//! transactions a minted block carries ([`doin_consensus::rejection`]).
//!
//! * An optimizer seals an [`OptimaeClaim`] for every optimae it sends to its quorum; the
//!   claim rides with each verification task (and its `task_created` announcement) under
//!   the `"claim"` key.
//! * An evaluator evaluates a task only with a valid claim of its requester that names the
//!   task's optimae, commitment, parameters and report and stakes enough ([`admit_claim`]);
//!   it then gossips its sealed vote with the claim (`task_completed`, the pair under
//!   `"claim"` and `"vote"`), so that evidence reaches every node, whatever the requester
//!   does with the vote.
//! * Every node pools claims and votes ([`RejectionPool`], bounded, deduplicated, seals
//!   checked on entry); when it mints, every claim whose quorum members have all voted and
//!   whose votes decide *rejected* ([`ChainState::check_rejection`]) goes into the block.
//!   Claims leave the pool when their commitment is on chain (accepted or rejected) or their
//!   commit height leaves the window.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use doin_consensus::quorum::{counted_votes, decide_counted};
use doin_consensus::rejection::{
    check_stake, claim_in, OptimaeClaim, RejectedOptimae, CLAIM_KEY, MAX_REJECTIONS_PER_BLOCK,
};
use doin_consensus::{ChainState, QuorumVote};
use doin_primitives::identity::require_seal;
use doin_primitives::seal::SealKind;
use doin_primitives::value::{Map, Value};
use tokio::sync::mpsc;

use crate::task_queue::QueuedTask;

/// Wire key of a gossiped vote beside its claim.
pub const VOTE_KEY: &str = "vote";
/// Most claims pooled at once (oldest dropped first).
pub const MAX_CLAIMS: usize = 1_024;
/// Most votes pooled per claim (a quorum is smaller).
pub const MAX_VOTES_PER_CLAIM: usize = 16;
/// Votes waiting to be gossiped.
const OUTBOX: usize = 256;

/// Rule for evaluators: a verification task is evaluated only with a claim under `"claim"`
/// that its requester sealed ([`OptimaeClaim::check`]), naming the task's optimae,
/// commitment, domain, parameters and reported performance, and staking at least the
/// required stake at `base_fee` ([`check_stake`]). The error is the reason it is refused.
pub fn admit_claim(task: &QueuedTask, base_fee: u64) -> Result<OptimaeClaim, String> {
    let claim = task
        .claim
        .as_ref()
        .ok_or("refused: the task carries no claim of its requester")?;
    let claim = OptimaeClaim::from_value(claim).map_err(|e| format!("refused: claim: {e}"))?;
    claim.check().map_err(|e| format!("refused: claim: {e}"))?;
    let r = &claim.reveal;
    let names_the_task = claim.optimizer_id == task.requester_id
        && claim.optimae_id == task.optimae_id
        && claim.commitment_hash == task.commitment_hash
        && r.domain_id == task.domain_id
        && r.parameters == task.parameters
        && task
            .reported_performance
            .is_some_and(|p| p.to_bits() == r.reported_performance.to_bits());
    if !names_the_task {
        return Err("refused: the claim does not name this task's optimae and report".into());
    }
    check_stake(claim.stake, base_fee).map_err(|e| format!("refused: {e}"))?;
    Ok(claim)
}

/// The `"claim"` extension field of a task or an announcement.
pub fn claim_field(claim: &OptimaeClaim) -> Map {
    let mut m = Map::new();
    m.insert(CLAIM_KEY.into(), claim.to_value());
    m
}

/// Reads a gossiped `{"claim", "vote"}` pair out of a payload's extra fields; `None` when
/// the payload carries none.
pub fn vote_in(extra: &Map) -> Option<Result<(OptimaeClaim, QuorumVote), String>> {
    let claim = claim_in(extra)?;
    Some((|| {
        let claim = claim.map_err(|e| e.to_string())?;
        let vote = extra.get(VOTE_KEY).ok_or("a claim without its vote")?;
        let vote = QuorumVote::from_value(vote).map_err(|e| e.to_string())?;
        Ok((claim, vote))
    })())
}

/// What the pool knows of claims in flight: their number and total stake.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InFlight {
    /// Claims known, not yet decided on chain.
    pub claims: usize,
    /// Their stakes, base units.
    pub staked: u64,
}

/// Why a claim or vote was not pooled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// A claim or vote seal does not hold, or the claim does not bind.
    #[error("forged: {0}")]
    Forged(String),
    /// The vote is about another optimae than the claim.
    #[error("vote on {vote} does not match the claim on {claim}")]
    Mismatch {
        /// The vote's optimae.
        vote: String,
        /// The claim's optimae.
        claim: String,
    },
}

struct Entry {
    claim: OptimaeClaim,
    votes: BTreeMap<String, QuorumVote>,
}

#[derive(Default)]
struct Inner {
    entries: BTreeMap<String, Entry>,
    order: VecDeque<String>,
}

/// The bounded pool of claims and votes this node knows of.
pub struct RejectionPool {
    inner: Mutex<Inner>,
    outbox: mpsc::Sender<Value>,
    outbox_rx: Mutex<Option<mpsc::Receiver<Value>>>,
}

impl Default for RejectionPool {
    fn default() -> Self {
        Self::new()
    }
}

impl RejectionPool {
    /// An empty pool.
    pub fn new() -> Self {
        let (outbox, rx) = mpsc::channel(OUTBOX);
        RejectionPool {
            inner: Mutex::new(Inner::default()),
            outbox,
            outbox_rx: Mutex::new(Some(rx)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Pools a claim whose seal and binding hold; `Ok(true)` if it was new.
    pub fn offer_claim(&self, claim: &OptimaeClaim) -> Result<bool, PoolError> {
        claim
            .check()
            .map_err(|e| PoolError::Forged(e.to_string()))?;
        let mut inner = self.lock();
        if inner.entries.contains_key(&claim.commitment_hash) {
            return Ok(false);
        }
        while inner.order.len() >= MAX_CLAIMS {
            // Claims cost nothing to make: a flood of them evicts the oldest claim nobody
            // voted on before any claim with votes (which could become evidence).
            let Inner { entries, order } = &mut *inner;
            let unvoted = order
                .iter()
                .position(|c| entries.get(c).is_none_or(|e| e.votes.is_empty()));
            if let Some(old) = order.remove(unvoted.unwrap_or(0)) {
                entries.remove(&old);
            }
        }
        inner.order.push_back(claim.commitment_hash.clone());
        inner.entries.insert(
            claim.commitment_hash.clone(),
            Entry {
                claim: claim.clone(),
                votes: BTreeMap::new(),
            },
        );
        Ok(true)
    }

    /// Pools a sealed vote on a claim (pooling the claim too); `Ok(true)` if the vote was
    /// new. Seeds and quorum membership are checked when evidence is drawn.
    pub fn offer_vote(&self, claim: &OptimaeClaim, vote: &QuorumVote) -> Result<bool, PoolError> {
        if vote.optimae_id != claim.optimae_id || vote.domain_id != claim.reveal.domain_id {
            return Err(PoolError::Mismatch {
                vote: vote.optimae_id.clone(),
                claim: claim.optimae_id.clone(),
            });
        }
        require_seal(
            vote.seal.as_ref(),
            SealKind::Vote,
            &vote.id(),
            &vote.evaluator_id,
        )
        .map_err(|e| PoolError::Forged(e.to_string()))?;
        self.offer_claim(claim)?;
        let mut inner = self.lock();
        let Some(entry) = inner.entries.get_mut(&claim.commitment_hash) else {
            return Ok(false);
        };
        if entry.votes.contains_key(&vote.evaluator_id) || entry.votes.len() >= MAX_VOTES_PER_CLAIM
        {
            return Ok(false);
        }
        entry.votes.insert(vote.evaluator_id.clone(), vote.clone());
        Ok(true)
    }

    /// The votes pooled on the claim of commitment `commitment_hash` (seals checked on
    /// entry; seeds and quorum membership are the caller's to check).
    pub fn votes_on(&self, commitment_hash: &str) -> Vec<QuorumVote> {
        self.lock()
            .entries
            .get(commitment_hash)
            .map(|e| e.votes.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Pools this node's own vote and queues it for gossip with its claim.
    pub fn publish_vote(&self, claim: &OptimaeClaim, vote: &QuorumVote) {
        if let Ok(true) = self.offer_vote(claim, vote) {
            let mut m = claim_field(claim);
            m.insert(VOTE_KEY.into(), vote.to_value());
            // A full outbox only costs gossip: this node's own blocks still carry it.
            let _ = self.outbox.try_send(Value::Object(m));
        }
    }

    /// The `{"claim", "vote"}` pairs to gossip (only the first caller gets the receiver).
    pub fn take_outbox(&self) -> Option<mpsc::Receiver<Value>> {
        self.outbox_rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Drops the claims `state` has decided (commitment on chain) or can no longer take
    /// (commit height out of the window).
    pub fn prune(&self, state: &ChainState) {
        let mut inner = self.lock();
        let keep = |e: &Entry| {
            !state.has_commitment(&e.claim.commitment_hash)
                && state.seed_block_hash(e.claim.reveal.commit_height).is_ok()
        };
        let entries = std::mem::take(&mut inner.entries);
        inner.entries = entries.into_iter().filter(|(_, e)| keep(e)).collect();
        let Inner { entries, order } = &mut *inner;
        order.retain(|c| entries.contains_key(c));
    }

    /// The rejections the next block (timestamped `at_micros`) can carry: every pooled claim
    /// whose quorum members have all voted and whose votes decide *rejected*, at most
    /// [`MAX_REJECTIONS_PER_BLOCK`], in the order the claims arrived.
    pub fn evidence(&self, state: &ChainState, at_micros: i64) -> Vec<RejectedOptimae> {
        let inner = self.lock();
        let mut out = Vec::new();
        for commitment in &inner.order {
            if out.len() >= MAX_REJECTIONS_PER_BLOCK {
                break;
            }
            let Some(e) = inner.entries.get(commitment) else {
                continue;
            };
            let c = &e.claim;
            let Ok(quorum) = state.quorum_for_at(
                &c.reveal.domain_id,
                &c.optimizer_id,
                c.reveal.commit_height,
                at_micros,
            ) else {
                continue;
            };
            let votes: Option<Vec<QuorumVote>> =
                quorum.iter().map(|q| e.votes.get(q).cloned()).collect();
            let Some(votes) = votes else { continue };
            // Most complete quorums accept: decide before checking every seal again.
            let voters: Vec<&str> = votes.iter().map(|v| v.evaluator_id.as_str()).collect();
            let perfs: Vec<f64> = votes.iter().map(|v| v.verified_performance).collect();
            let counted = counted_votes(&quorum, &c.optimizer_id, &voters);
            let tolerance = state.params().quorum_tolerance;
            let decision =
                decide_counted(&perfs, &counted, c.reveal.reported_performance, tolerance);
            if decision.is_none_or(|d| d.accepted) {
                continue;
            }
            let r = RejectedOptimae {
                claim: c.clone(),
                votes,
            };
            if state.check_rejection(&r, at_micros).is_ok() {
                out.push(r);
            }
        }
        out
    }

    /// The claims in flight and their total stake.
    pub fn in_flight(&self) -> InFlight {
        let inner = self.lock();
        InFlight {
            claims: inner.entries.len(),
            staked: inner
                .entries
                .values()
                .fold(0u64, |s, e| s.saturating_add(e.claim.stake)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_consensus::accepted::Reveal;
    use doin_consensus::fee_market::MIN_BASE_FEE;
    use doin_consensus::rejection::claim_stake;
    use doin_primitives::identity::Identity;
    use doin_primitives::map;
    use doin_primitives::Timestamp;

    fn key(b: u8) -> Identity {
        Identity::from_scalar_bytes(&[b; 32]).expect("scalar")
    }

    fn reveal(nonce: &str) -> Reveal {
        Reveal {
            domain_id: "d".into(),
            parameters: map! { "x" => 0.5 },
            nonce: nonce.into(),
            reported_performance: -1.0,
            commit_height: 0,
            timestamp: Timestamp::from_unix_secs(1_767_225_600),
        }
    }

    fn task_for(claim: &OptimaeClaim) -> QueuedTask {
        QueuedTask {
            id: "t".into(),
            kind: crate::task_queue::TaskKind::OptimaeVerification,
            domain_id: "d".into(),
            state: crate::task_queue::TaskState::Pending,
            requester_id: claim.optimizer_id.clone(),
            evaluator_id: None,
            parameters: claim.reveal.parameters.clone(),
            optimae_id: claim.optimae_id.clone(),
            reported_performance: Some(claim.reveal.reported_performance),
            created_at: Timestamp::from_unix_secs(1_767_225_600),
            claimed_at: None,
            completed_at: None,
            priority: 0,
            verified_performance: None,
            commitment_hash: claim.commitment_hash.clone(),
            seed_block_hash: "b".into(),
            quorum: Vec::new(),
            claim: Some(claim.to_value()),
        }
    }

    fn vote(evaluator: &Identity, claim: &OptimaeClaim) -> QuorumVote {
        QuorumVote {
            optimae_id: claim.optimae_id.clone(),
            domain_id: "d".into(),
            evaluator_id: evaluator.peer_id().into(),
            verified_performance: -2.0,
            synthetic_seed: 1,
            synthetic_data_hash: String::new(),
            timestamp: Timestamp::from_unix_secs(1_767_225_600),
            seal: None,
        }
        .sealed(evaluator)
    }

    #[test]
    fn evaluators_refuse_tasks_without_a_valid_claim_of_their_requester() {
        let (a, b) = (key(1), key(2));
        let claim = OptimaeClaim::sealed(&a, &reveal("n"), claim_stake(MIN_BASE_FEE));
        let task = task_for(&claim);
        assert_eq!(admit_claim(&task, MIN_BASE_FEE), Ok(claim.clone()));
        let refused = |t: &QueuedTask, base_fee: u64, why: &str| {
            let err = admit_claim(t, base_fee).expect_err(why);
            assert!(err.starts_with("refused"), "{why}: {err}");
            err
        };
        // Hidden, or sealed by someone else, or naming another report or requester.
        let mut t = task.clone();
        t.claim = None;
        assert!(refused(&t, MIN_BASE_FEE, "no claim").contains("no claim"));
        let mut t = task.clone();
        let mut framed = claim.clone();
        framed.seal = OptimaeClaim::sealed(&b, &claim.reveal, claim.stake).seal;
        t.claim = Some(framed.to_value());
        assert!(refused(&t, MIN_BASE_FEE, "framed").contains("claim seal"));
        let mut t = task.clone();
        t.reported_performance = Some(-0.5);
        refused(&t, MIN_BASE_FEE, "another report");
        let mut t = task.clone();
        t.requester_id = b.peer_id().into();
        refused(&t, MIN_BASE_FEE, "another requester");
        let mut t = task.clone();
        t.claim = Some(Value::Str("claim".into()));
        refused(&t, MIN_BASE_FEE, "malformed");
        // Staking too little at the evaluator's base fee.
        let err = refused(&task, 2 * MIN_BASE_FEE, "under-staked");
        assert!(err.contains("at least 1000000 required"), "{err}");
    }

    #[test]
    fn the_pool_checks_seals_deduplicates_bounds_and_counts_stakes() {
        let (a, e) = (key(1), key(3));
        let pool = RejectionPool::new();
        let claim = OptimaeClaim::sealed(&a, &reveal("n"), 700);
        assert_eq!(pool.offer_claim(&claim), Ok(true));
        assert_eq!(pool.offer_claim(&claim), Ok(false));
        let mut forged = claim.clone();
        forged.stake = 1;
        assert!(matches!(
            pool.offer_claim(&forged),
            Err(PoolError::Forged(_))
        ));
        let v = vote(&e, &claim);
        assert_eq!(pool.offer_vote(&claim, &v), Ok(true));
        assert_eq!(pool.offer_vote(&claim, &v), Ok(false));
        let mut doctored = v.clone();
        doctored.verified_performance = -1.0;
        assert!(matches!(
            pool.offer_vote(&claim, &doctored),
            Err(PoolError::Forged(_))
        ));
        let later = Reveal {
            timestamp: Timestamp::from_unix_secs(1_767_225_601),
            ..reveal("m")
        };
        let other = OptimaeClaim::sealed(&a, &later, 300);
        assert!(matches!(
            pool.offer_vote(&other, &v),
            Err(PoolError::Mismatch { .. })
        ));
        assert_eq!(
            pool.in_flight(),
            InFlight {
                claims: 1,
                staked: 700
            }
        );
        // Published votes go to the outbox once, with their claim.
        let mut outbox = pool.take_outbox().expect("first taker");
        assert!(pool.take_outbox().is_none());
        let w = vote(&key(4), &claim);
        pool.publish_vote(&claim, &w);
        pool.publish_vote(&claim, &w);
        let Value::Object(sent) = outbox.try_recv().expect("gossiped") else {
            panic!("an object")
        };
        assert_eq!(vote_in(&sent), Some(Ok((claim.clone(), w))));
        assert!(outbox.try_recv().is_err(), "deduplicated");
        // Bounded: a flood of claims evicts the oldest claims without votes first.
        for i in 0..MAX_CLAIMS {
            let c = OptimaeClaim::sealed(&a, &reveal(&format!("k{i}")), 1);
            pool.offer_claim(&c).expect("pooled");
        }
        let f = pool.in_flight();
        assert_eq!(f.claims, MAX_CLAIMS);
        assert_eq!(
            f.staked,
            700 + MAX_CLAIMS as u64 - 1,
            "the voted claim stays"
        );
    }
}
