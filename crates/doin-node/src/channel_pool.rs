//! The channel-operation pool: signed channel operations waiting for a block, bounded,
//! ordered by fee, with per-peer rate limits. Owned by the chain service beside the
//! transfer [`crate::mempool::Mempool`].
//!
//! * **Admission** ([`ChannelPool::insert`]): not already pending; the submitting peer
//!   under its rate limit; every rule of [`doin_consensus::channel`] against the tip
//!   after the actor's pending operations (so its next nonce is the chain's plus its
//!   pending count), judged at the node's current time (a block judges again at its own
//!   timestamp); room in the pool, or a fee above the cheapest pending operation, which
//!   is evicted (only an actor's last pending operation is evictable, so no actor is left
//!   with a nonce gap).
//! * **Order** ([`ChannelPool::ordered`]): highest fee first, earlier on ties, each
//!   actor's operations in nonce order.
//! * **After a block** ([`ChannelPool::prune`]): operations whose nonce the chain used
//!   leave, and so does every operation that no longer fits after them.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::time::Instant;

use doin_consensus::channel::{verify_channel_op_seal, Channel, ChannelError, ChannelStats};
use doin_consensus::ChainState;
use doin_primitives::models::ChannelOp;

use crate::rate_window::{RateWindow, RATE_WINDOW};

/// Pending channel operations kept at most by default.
pub const DEFAULT_CHANNEL_POOL_CAPACITY: usize = 1_000;

/// Why a channel operation was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelPoolError {
    /// The same operation is already pending.
    #[error("channel operation {0} is already pending")]
    AlreadyPending(String),
    /// A consensus rule refuses it.
    #[error("{0}")]
    Invalid(#[from] ChannelError),
    /// The submitting peer is over its rate limit.
    #[error("rate limit exceeded: {count} channel operations from {peer} in {window_secs} s (limit {limit})")]
    RateLimited {
        /// The submitting peer.
        peer: String,
        /// Operations admitted from it in the window.
        count: usize,
        /// The limit.
        limit: usize,
        /// The window, seconds.
        window_secs: u64,
    },
    /// The pool is full and the operation pays no more than the cheapest evictable one.
    #[error("channel pool full: fee {fee} does not beat the lowest evictable fee {lowest}")]
    Full {
        /// The operation's fee.
        fee: u64,
        /// The cheapest evictable fee.
        lowest: u64,
    },
}

/// Block-order key of an actor's next operation: highest fee, then earliest arrival.
type Head<'a> = Reverse<((Reverse<u64>, u64), &'a str, u64)>;

struct Entry {
    op: ChannelOp,
    fee: u64,
    seq: u64,
}

/// The pending channel operations (see the module doc).
pub struct ChannelPool {
    capacity: usize,
    by_id: HashMap<String, Entry>,
    /// Pending ids per actor by nonce.
    by_actor: BTreeMap<String, BTreeMap<u64, String>>,
    next_seq: u64,
    rates: RateWindow,
}

impl ChannelPool {
    /// An empty pool of `capacity` operations, `rate_limit` admissions per peer per
    /// [`RATE_WINDOW`] (0: no limit).
    pub fn new(capacity: usize, rate_limit: usize) -> Self {
        ChannelPool {
            capacity: capacity.max(1),
            by_id: HashMap::new(),
            by_actor: BTreeMap::new(),
            next_seq: 0,
            rates: RateWindow::new(rate_limit),
        }
    }

    /// Pending operations.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The actor's pending operations, in nonce order.
    fn pending_of(&self, actor: &str) -> Vec<&ChannelOp> {
        self.by_actor
            .get(actor)
            .into_iter()
            .flat_map(|m| m.values())
            .filter_map(|id| self.by_id.get(id).map(|e| &e.op))
            .collect()
    }

    /// The channel-operation nonce `actor` should use next, counting its pending ones.
    pub fn next_nonce(&self, chain: &ChainState, actor: &str) -> u64 {
        chain.channel_nonce(actor) + self.pending_of(actor).len() as u64 + 1
    }

    /// Admits `op` from peer `source` (see the module doc), judged at `at_micros`;
    /// returns its id.
    pub fn insert(
        &mut self,
        op: ChannelOp,
        source: &str,
        chain: &ChainState,
        at_micros: i64,
        now: Instant,
    ) -> Result<String, ChannelPoolError> {
        self.admit(op, Some((source, now)), chain, at_micros)
    }

    fn admit(
        &mut self,
        op: ChannelOp,
        rate: Option<(&str, Instant)>,
        chain: &ChainState,
        at_micros: i64,
    ) -> Result<String, ChannelPoolError> {
        let id = op.compute_id();
        if self.by_id.contains_key(&id) {
            return Err(ChannelPoolError::AlreadyPending(id));
        }
        if let Some((source, now)) = rate {
            if let Some(count) = self.rates.exhausted(source, now) {
                return Err(ChannelPoolError::RateLimited {
                    peer: source.to_owned(),
                    count,
                    limit: self.rates.limit(),
                    window_secs: RATE_WINDOW.as_secs(),
                });
            }
        }
        chain.check_channel_op_after(&self.pending_of(&op.actor), &op, at_micros)?;
        // The costly check last, and once: operations readmitted after a block were
        // verified when they first came in.
        if rate.is_some() {
            verify_channel_op_seal(&op)?;
        }
        let fee = op.fee.unsigned_abs();
        if self.by_id.len() >= self.capacity {
            match self.evictable(&op.actor) {
                Some((lowest, victim)) if fee > lowest => {
                    self.remove(&victim);
                }
                Some((lowest, _)) => return Err(ChannelPoolError::Full { fee, lowest }),
                None => return Err(ChannelPoolError::Full { fee, lowest: 0 }),
            }
        }
        if let Some((source, now)) = rate {
            self.rates.note(source, now);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_actor
            .entry(op.actor.clone())
            .or_default()
            .insert(op.nonce.unsigned_abs(), id.clone());
        self.by_id.insert(id.clone(), Entry { op, fee, seq });
        Ok(id)
    }

    /// The cheapest actor-last pending operation not from `incoming`: `(fee, id)`.
    fn evictable(&self, incoming: &str) -> Option<(u64, String)> {
        self.by_actor
            .iter()
            .filter(|(actor, _)| actor.as_str() != incoming)
            .filter_map(|(_, nonces)| {
                let id = nonces.values().next_back()?;
                let e = self.by_id.get(id)?;
                Some((e.fee, Reverse(e.seq), id.clone()))
            })
            .min()
            .map(|(fee, _, id)| (fee, id))
    }

    fn remove(&mut self, id: &str) -> Option<ChannelOp> {
        let e = self.by_id.remove(id)?;
        if let Some(m) = self.by_actor.get_mut(&e.op.actor) {
            m.retain(|_, v| v != id);
            if m.is_empty() {
                self.by_actor.remove(&e.op.actor);
            }
        }
        Some(e.op)
    }

    /// The pending operations in block order: highest fee first (earlier on ties), each
    /// actor's in nonce order.
    pub fn ordered(&self) -> Vec<&ChannelOp> {
        let head = |actor, nonce, id: &String| self.head(actor, nonce, id);
        let mut heads: BinaryHeap<Head<'_>> = self
            .by_actor
            .iter()
            .filter_map(|(a, m)| m.iter().next().and_then(|(n, id)| head(a, *n, id)))
            .collect();
        let mut out = Vec::with_capacity(self.by_id.len());
        while let Some(Reverse((_, actor, nonce))) = heads.pop() {
            let Some(nonces) = self.by_actor.get(actor) else {
                continue;
            };
            if let Some(e) = nonces.get(&nonce).and_then(|id| self.by_id.get(id)) {
                out.push(&e.op);
            }
            if let Some(next) = nonces
                .range(nonce + 1..)
                .next()
                .and_then(|(n, id)| head(actor, *n, id))
            {
                heads.push(next);
            }
        }
        out
    }

    /// The priority of an actor's pending operation (`None` if not pending).
    fn head<'a>(&self, actor: &'a str, nonce: u64, id: &str) -> Option<Head<'a>> {
        let e = self.by_id.get(id)?;
        Some(Reverse(((Reverse(e.fee), e.seq), actor, nonce)))
    }

    /// Drops what a new tip made stale (see the module doc), judged at `at_micros`;
    /// returns how many left.
    pub fn prune(&mut self, chain: &ChainState, at_micros: i64) -> usize {
        let before = self.len();
        let all: Vec<ChannelOp> = self.by_id.drain().map(|(_, e)| e.op).collect();
        self.by_actor.clear();
        self.readmit(all, chain, at_micros);
        before.saturating_sub(self.len())
    }

    /// Admits `ops` again (per actor in nonce order, no rate limit): after a new tip, or
    /// the operations of blocks a reorganisation removed. Returns how many are pending.
    pub fn readmit(
        &mut self,
        mut ops: Vec<ChannelOp>,
        chain: &ChainState,
        at_micros: i64,
    ) -> usize {
        ops.sort_by(|a, b| (&a.actor, a.nonce).cmp(&(&b.actor, b.nonce)));
        for op in ops {
            let _ = self.admit(op, None, chain, at_micros);
        }
        self.len()
    }
}

/// What [`crate::chain_service::ChainHandle::channel_info`] answers.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelInfo {
    /// The channel asked for, if on chain.
    pub channel: Option<Channel>,
    /// The channel totals.
    pub stats: ChannelStats,
    /// Channel operations pending in the pool.
    pub pending: usize,
    /// The address's last used channel-operation nonce and the one its next operation
    /// takes (after its pending ones), when an address was given.
    pub nonces: Option<(u64, u64)>,
    /// The tip's timestamp, µs (dispute deadlines compare with it).
    pub tip_time_micros: i64,
}

impl ChannelInfo {
    /// Reads the answer from the chain state and the pool.
    pub fn read(
        chain: &ChainState,
        pool: &ChannelPool,
        channel_id: Option<&str>,
        address: Option<&str>,
    ) -> Self {
        ChannelInfo {
            channel: channel_id.and_then(|id| chain.channel(id)).cloned(),
            stats: chain.channel_stats(),
            pending: pool.len(),
            nonces: address.map(|a| (chain.channel_nonce(a), pool.next_nonce(chain, a))),
            tip_time_micros: chain.tip_time_micros(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_consensus::ChainParams;
    use doin_primitives::identity::Identity;
    use doin_primitives::models::ChannelAction;

    fn open(who: &Identity, to: &Identity, fee: i64, nonce: i64) -> ChannelOp {
        ChannelOp::signed(
            who,
            ChannelAction::Open {
                receiver: to.peer_id().into(),
                deposit: 1_000,
                dispute_period: 10,
            },
            fee,
            nonce,
        )
    }

    #[test]
    fn admission_orders_evicts_and_prunes() {
        let keys: Vec<Identity> = (1..=3u8)
            .map(|i| Identity::from_scalar_bytes(&[i + 40; 32]).expect("scalar"))
            .collect();
        let chain = ChainState::new(ChainParams::solo_default());
        let base = chain.base_fee() as i64;
        let mut pool = ChannelPool::new(2, 0);
        let now = Instant::now();
        // No funds on chain: the rule's reason comes back.
        let poor = open(&keys[0], &keys[1], base, 1);
        assert!(matches!(
            pool.insert(poor, "p", &chain, 1, now),
            Err(ChannelPoolError::Invalid(
                ChannelError::InsufficientBalance { .. }
            ))
        ));
        let funded = funded(&keys[..2]);
        let a1 = open(&keys[0], &keys[1], base, 1);
        let a2 = open(&keys[0], &keys[2], base + 9, 2);
        pool.insert(a1.clone(), "p", &funded, 1, now).expect("a1");
        assert_eq!(
            pool.insert(a1.clone(), "p", &funded, 1, now),
            Err(ChannelPoolError::AlreadyPending(a1.compute_id()))
        );
        pool.insert(a2.clone(), "p", &funded, 1, now)
            .expect("a2 follows a1");
        assert_eq!(pool.next_nonce(&funded, keys[0].peer_id()), 3);
        // Full: a cheap one is refused, a richer one from another actor evicts a2 (the
        // last of its actor), never a1.
        let cheap = open(&keys[1], &keys[0], base, 1);
        assert!(matches!(
            pool.insert(cheap, "q", &funded, 1, now),
            Err(ChannelPoolError::Full { .. })
        ));
        let rich = open(&keys[1], &keys[0], base + 50, 1);
        pool.insert(rich.clone(), "q", &funded, 1, now)
            .expect("evicts");
        assert_eq!(pool.ordered(), vec![&rich, &a1]);
        // Rate limit per source.
        let mut limited = ChannelPool::new(10, 1);
        limited
            .insert(a1.clone(), "p", &funded, 1, now)
            .expect("first");
        assert!(matches!(
            limited.insert(a2, "p", &funded, 1, now),
            Err(ChannelPoolError::RateLimited { .. })
        ));
        // A chain on which the deposits no longer fit: everything leaves.
        assert_eq!(pool.prune(&chain, 1), 2);
        assert!(pool.is_empty());
    }

    /// A solo chain on which each key minted one block (and so holds its coinbase).
    fn funded(keys: &[Identity]) -> ChainState {
        use doin_consensus::accepted::{AcceptedOptimae, Experiment, Reveal};
        use doin_consensus::QuorumVote;
        use doin_primitives::value::{Map, Value};
        use doin_primitives::Timestamp;
        let mut params = ChainParams::solo_default();
        params.initial_threshold = 0.001;
        let mut state = ChainState::new(params);
        for (i, me) in keys.iter().enumerate() {
            let perf = -(10.0 - i as f64);
            let mut parameters = Map::new();
            parameters.insert("x".into(), Value::Array(vec![Value::Float(0.1 * i as f64)]));
            let start = 1_700_000_000_000_000 + i as i64 * 30_000_000;
            let ts = Timestamp::from_unix_micros(start + 1_000_000);
            let mut reveal = Reveal {
                domain_id: "quadratic".into(),
                parameters,
                nonce: format!("{i:032x}"),
                reported_performance: perf,
                commit_height: 0,
                timestamp: ts,
            };
            let commitment = reveal.commitment_hash();
            // The commitment goes on chain first, in a commitment block.
            let sealed = doin_consensus::commitment::OptimaeCommitment::sealed(
                me,
                "quadratic",
                &commitment,
                Timestamp::from_unix_micros(start),
            );
            let committed = state
                .build_block_with_commitments(
                    me,
                    Vec::new(),
                    Vec::new(),
                    Vec::new(),
                    &[sealed],
                    Timestamp::from_unix_micros(start),
                )
                .expect("commitment block");
            state.apply_block(&committed).expect("applies");
            reveal.commit_height = state.height();
            let seed = state
                .synthetic_seed_for(&commitment, "quadratic", me.peer_id(), state.height())
                .expect("seed");
            let vote = QuorumVote {
                optimae_id: reveal.optimae_id(me.peer_id()),
                domain_id: "quadratic".into(),
                evaluator_id: me.peer_id().to_string(),
                verified_performance: perf,
                synthetic_seed: seed,
                synthetic_data_hash: String::new(),
                timestamp: ts,
                seal: None,
            }
            .sealed(me);
            let votes = vec![vote];
            let scoring = state
                .score_optimae(&reveal, me.peer_id(), &votes)
                .expect("scores");
            let tx = AcceptedOptimae::build(me, &reveal, &scoring, &votes, &Experiment::default());
            let block = state.build_block(me, vec![tx], ts).expect("builds");
            state.apply_block(&block).expect("applies");
            assert!(state.balance(me.peer_id()) > 1_000_000);
        }
        state
    }
}
