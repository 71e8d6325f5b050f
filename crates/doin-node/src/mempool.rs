//! The transfer mempool: pending transfers waiting for a block, bounded, ordered by fee,
//! with per-peer rate limits. Owned by the chain service (which holds the state it checks
//! transfers against), so it needs no lock.
//!
//! * **Admission** ([`Mempool::insert`]): not already pending; the submitting peer under
//!   its rate limit (only admitted transfers count); every consensus rule of
//!   [`doin_consensus::transfer`] against the sender's account *after its pending
//!   transfers* at the current base fee (so the next nonce is the chain's plus the pending
//!   count, and pending debits reduce the balance); room in the pool; the seal last (the
//!   costly check).
//! * **Full pool**: a transfer that pays more than the cheapest evictable one (the cheapest
//!   whose sender has no later pending nonce, so no sender is left with a gap) takes its
//!   place; otherwise it is refused. (The reference does the opposite.)
//! * **Order** ([`Mempool::ordered`]): highest fee first, earlier arrival on ties, each
//!   sender's transfers in nonce order (a sender's next transfer competes once the one
//!   before it is out), as Ethereum's price-and-nonce order does.
//! * **After a block** ([`Mempool::prune`]): included or outdated nonces leave; each
//!   sender's chain is re-checked against its new account and cut at the first transfer
//!   that no longer fits. After a reorganisation, the transfers of the blocks that left
//!   the chain come back ([`Mempool::readmit`]).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::time::Instant;

use doin_consensus::transfer::{
    check_transfer, debited, verify_transfer_seal, Account, TransferError,
};
use doin_consensus::ChainState;
use doin_primitives::models::Transfer;

/// Pending transfers kept at most by default (the reference's `MEMPOOL_SIZE_LIMIT`).
pub const DEFAULT_CAPACITY: usize = 10_000;
/// Transfers one peer may have admitted per [`RATE_WINDOW`] by default.
pub const DEFAULT_RATE_LIMIT: usize = 20;
use crate::rate_window::RateWindow;
pub use crate::rate_window::RATE_WINDOW;

/// Why a transfer was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    /// The same transfer is already pending.
    #[error("transfer {0} is already pending")]
    AlreadyPending(String),
    /// A consensus rule refuses it.
    #[error("{0}")]
    Invalid(#[from] TransferError),
    /// The submitting peer is over its rate limit.
    #[error(
        "rate limit exceeded: {count} transfers from {peer} in {window_secs} s (limit {limit})"
    )]
    RateLimited {
        /// The submitting peer.
        peer: String,
        /// Transfers admitted from it in the window.
        count: usize,
        /// The limit.
        limit: usize,
        /// The window, seconds.
        window_secs: u64,
    },
    /// The pool is full and the transfer pays no more than the cheapest pending one.
    #[error("mempool full: fee {fee} does not beat the lowest evictable fee {lowest}")]
    Full {
        /// The transfer's fee.
        fee: u64,
        /// The cheapest evictable pending fee.
        lowest: u64,
    },
}

/// Mempool settings.
#[derive(Debug, Clone, Copy)]
pub struct MempoolConfig {
    /// Most pending transfers.
    pub capacity: usize,
    /// Admitted transfers per peer per [`RATE_WINDOW`] (0: no limit).
    pub rate_limit: usize,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig {
            capacity: DEFAULT_CAPACITY,
            rate_limit: DEFAULT_RATE_LIMIT,
        }
    }
}

/// Priority key: highest fee first, then earliest arrival.
type Priority = (Reverse<u64>, u64);

struct Entry {
    transfer: Transfer,
    fee: u64,
    seq: u64,
}

/// The pending transfers (see the module doc).
pub struct Mempool {
    config: MempoolConfig,
    by_id: HashMap<String, Entry>,
    /// Pending ids per sender by nonce.
    by_sender: HashMap<String, BTreeMap<u64, String>>,
    /// Every pending id by priority.
    order: BTreeSet<(Priority, String)>,
    /// Each sender's last pending transfer, cheapest (then newest) first: the eviction
    /// candidates.
    tails: BTreeSet<(u64, Reverse<u64>, String)>,
    next_seq: u64,
    rates: RateWindow,
}

/// What admission needs from the chain: an account and the base fee.
pub trait AccountSource {
    /// The account as the chain's tip leaves it.
    fn account(&self, peer_id: &str) -> Account;
    /// The base fee of the next block.
    fn base_fee(&self) -> u64;
}

impl AccountSource for ChainState {
    fn account(&self, peer_id: &str) -> Account {
        ChainState::account(self, peer_id)
    }

    fn base_fee(&self) -> u64 {
        ChainState::base_fee(self)
    }
}

impl Mempool {
    /// An empty pool.
    pub fn new(config: MempoolConfig) -> Self {
        Mempool {
            config,
            by_id: HashMap::new(),
            by_sender: HashMap::new(),
            order: BTreeSet::new(),
            tails: BTreeSet::new(),
            next_seq: 0,
            rates: RateWindow::new(config.rate_limit),
        }
    }

    /// Pending transfers.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.config.capacity
    }

    /// Whether a transfer id is pending.
    pub fn contains(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// Transfers of `sender` pending.
    pub fn pending_of(&self, sender: &str) -> usize {
        self.by_sender.get(sender).map_or(0, BTreeMap::len)
    }

    /// The sender's account after its pending transfers.
    fn pending_account(&self, chain: &impl AccountSource, sender: &str) -> Account {
        let mut account = chain.account(sender);
        for id in self
            .by_sender
            .get(sender)
            .into_iter()
            .flat_map(|m| m.values())
        {
            if let Some(e) = self.by_id.get(id) {
                let debit = u64::try_from(e.transfer.amount).unwrap_or(0) + e.fee;
                account.balance = account.balance.saturating_sub(debit);
                account.nonce += 1;
            }
        }
        account
    }

    /// The next nonce `sender` should use, counting its pending transfers.
    pub fn next_nonce(&self, chain: &impl AccountSource, sender: &str) -> u64 {
        self.pending_account(chain, sender).nonce + 1
    }

    /// Admits `t` from peer `source` at time `now` (see the module doc); returns its id.
    pub fn insert(
        &mut self,
        t: Transfer,
        source: &str,
        chain: &impl AccountSource,
        now: Instant,
    ) -> Result<String, MempoolError> {
        self.admit(t, Some((source, now)), chain)
    }

    /// After a reorganisation to `chain`: the transfers of the blocks that left the chain
    /// and the pending ones are admitted again (per sender in nonce order, no rate limit);
    /// those the new chain already holds or no longer allows are dropped. Returns how many
    /// are pending.
    pub fn readmit(&mut self, orphaned: Vec<Transfer>, chain: &impl AccountSource) -> usize {
        let mut all = orphaned;
        all.extend(self.by_id.drain().map(|(_, e)| e.transfer));
        self.by_sender.clear();
        self.order.clear();
        self.tails.clear();
        all.sort_by(|a, b| (&a.sender, a.nonce).cmp(&(&b.sender, b.nonce)));
        for t in all {
            let _ = self.admit(t, None, chain);
        }
        self.len()
    }

    fn admit(
        &mut self,
        t: Transfer,
        rate: Option<(&str, Instant)>,
        chain: &impl AccountSource,
    ) -> Result<String, MempoolError> {
        let id = t.compute_id();
        if self.by_id.contains_key(&id) {
            return Err(MempoolError::AlreadyPending(id));
        }
        if let Some((source, now)) = rate {
            if let Some(count) = self.rates.exhausted(source, now) {
                return Err(MempoolError::RateLimited {
                    peer: source.to_owned(),
                    count,
                    limit: self.rates.limit(),
                    window_secs: RATE_WINDOW.as_secs(),
                });
            }
        }
        let account = self.pending_account(chain, &t.sender);
        let effect = check_transfer(&t, &account, chain.base_fee())?;
        let fee = effect.debit - effect.amount;
        let victim = if self.by_id.len() >= self.config.capacity {
            match self.evictable(&t.sender) {
                Some((lowest, victim)) if fee > lowest => Some(victim),
                Some((lowest, _)) => return Err(MempoolError::Full { fee, lowest }),
                None => return Err(MempoolError::Full { fee, lowest: 0 }),
            }
        } else {
            None
        };
        verify_transfer_seal(&t)?;
        if let Some(victim) = victim {
            self.remove(&victim);
        }
        if let Some((source, now)) = rate {
            self.rates.note(source, now);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let old_tail = self.tail_of(&t.sender);
        self.order.insert(((Reverse(fee), seq), id.clone()));
        self.by_sender
            .entry(t.sender.clone())
            .or_default()
            .insert(account.nonce + 1, id.clone());
        let sender = t.sender.clone();
        self.by_id.insert(
            id.clone(),
            Entry {
                transfer: t,
                fee,
                seq,
            },
        );
        self.refresh_tail(&sender, old_tail);
        Ok(id)
    }

    /// The eviction key of `sender`'s last pending transfer.
    fn tail_of(&self, sender: &str) -> Option<(u64, Reverse<u64>, String)> {
        let id = self.by_sender.get(sender)?.values().next_back()?;
        let e = self.by_id.get(id)?;
        Some((e.fee, Reverse(e.seq), id.clone()))
    }

    /// Replaces `sender`'s eviction key `old` by its current one.
    fn refresh_tail(&mut self, sender: &str, old: Option<(u64, Reverse<u64>, String)>) {
        if let Some(old) = old {
            self.tails.remove(&old);
        }
        if let Some(new) = self.tail_of(sender) {
            self.tails.insert(new);
        }
    }

    /// The cheapest pending transfer that is its sender's last, not from `incoming` (whose
    /// new transfer follows its pending ones): `(fee, id)`.
    fn evictable(&self, incoming: &str) -> Option<(u64, String)> {
        self.tails.iter().find_map(|(fee, _, id)| {
            let e = self.by_id.get(id)?;
            (e.transfer.sender != incoming).then(|| (*fee, id.clone()))
        })
    }

    fn remove(&mut self, id: &str) -> Option<Transfer> {
        let sender = self.by_id.get(id)?.transfer.sender.clone();
        let old_tail = self.tail_of(&sender);
        let e = self.by_id.remove(id)?;
        self.order.remove(&((Reverse(e.fee), e.seq), id.to_owned()));
        if let Some(m) = self.by_sender.get_mut(&sender) {
            m.retain(|_, v| v != id);
            if m.is_empty() {
                self.by_sender.remove(&sender);
            }
        }
        self.refresh_tail(&sender, old_tail);
        Some(e.transfer)
    }

    /// The pending transfers in block order: highest fee first (earlier on ties), each
    /// sender's in nonce order.
    pub fn ordered(&self) -> Vec<&Transfer> {
        let mut heads: BinaryHeap<Reverse<(Priority, &str, u64)>> = BinaryHeap::new();
        for (sender, nonces) in &self.by_sender {
            if let Some((nonce, id)) = nonces.iter().next() {
                if let Some(e) = self.by_id.get(id) {
                    heads.push(Reverse(((Reverse(e.fee), e.seq), sender.as_str(), *nonce)));
                }
            }
        }
        let mut out = Vec::with_capacity(self.by_id.len());
        while let Some(Reverse((_, sender, nonce))) = heads.pop() {
            let Some(nonces) = self.by_sender.get(sender) else {
                continue;
            };
            if let Some(e) = nonces.get(&nonce).and_then(|id| self.by_id.get(id)) {
                out.push(&e.transfer);
            }
            if let Some((next, id)) = nonces.range(nonce + 1..).next() {
                if let Some(e) = self.by_id.get(id) {
                    heads.push(Reverse(((Reverse(e.fee), e.seq), sender, *next)));
                }
            }
        }
        out
    }

    /// Drops what a new tip made stale: per sender, transfers whose nonce the chain has
    /// used, and every transfer from the first one its new account no longer covers.
    /// Returns how many left.
    pub fn prune(&mut self, chain: &impl AccountSource) -> usize {
        let mut stale = Vec::new();
        for (sender, nonces) in &self.by_sender {
            let mut account = chain.account(sender);
            let mut broken = false;
            for (nonce, id) in nonces {
                let Some(e) = self.by_id.get(id) else {
                    continue;
                };
                if *nonce <= account.nonce {
                    stale.push(id.clone());
                    continue;
                }
                // A fee below a risen base fee waits; any other failure cuts the chain.
                match (broken, check_transfer(&e.transfer, &account, 0)) {
                    (false, Ok(effect)) => account = debited(&account, &effect),
                    _ => {
                        broken = true;
                        stale.push(id.clone());
                    }
                }
            }
        }
        for id in &stale {
            self.remove(id);
        }
        stale.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::identity::Identity;
    use doin_primitives::Timestamp;

    struct Chain {
        accounts: HashMap<String, Account>,
        base_fee: u64,
    }

    impl AccountSource for Chain {
        fn account(&self, peer_id: &str) -> Account {
            self.accounts.get(peer_id).copied().unwrap_or_default()
        }
        fn base_fee(&self) -> u64 {
            self.base_fee
        }
    }

    fn funded(ids: &[&Identity]) -> Chain {
        Chain {
            accounts: ids
                .iter()
                .map(|i| {
                    (
                        i.peer_id().to_string(),
                        Account {
                            balance: 1_000_000,
                            nonce: 0,
                        },
                    )
                })
                .collect(),
            base_fee: 10,
        }
    }

    fn id(b: u8) -> Identity {
        Identity::from_scalar_bytes(&[b; 32]).expect("scalar")
    }

    fn pay(from: &Identity, fee: i64, nonce: i64) -> Transfer {
        Transfer::signed(from, "c".repeat(40), 100, fee, nonce, Timestamp::EPOCH)
    }

    fn pool(capacity: usize, rate_limit: usize) -> Mempool {
        Mempool::new(MempoolConfig {
            capacity,
            rate_limit,
        })
    }

    #[test]
    fn admission_refuses_with_reasons_and_counts_pending_nonces() {
        let (a, b) = (id(1), id(2));
        let chain = funded(&[&a]);
        let mut m = pool(10, 0);
        let now = Instant::now();
        m.insert(pay(&a, 10, 1), "p", &chain, now).expect("first");
        assert_eq!(m.next_nonce(&chain, a.peer_id()), 2);
        assert!(matches!(
            m.insert(pay(&a, 10, 1), "p", &chain, now),
            Err(MempoolError::AlreadyPending(_))
        ));
        assert!(matches!(
            m.insert(pay(&a, 11, 1), "p", &chain, now),
            Err(MempoolError::Invalid(TransferError::NonceReused { .. }))
        ));
        assert!(matches!(
            m.insert(pay(&a, 10, 3), "p", &chain, now),
            Err(MempoolError::Invalid(TransferError::NonceSkipped { .. }))
        ));
        assert!(matches!(
            m.insert(pay(&a, 9, 2), "p", &chain, now),
            Err(MempoolError::Invalid(TransferError::FeeBelowBaseFee { .. }))
        ));
        assert!(matches!(
            m.insert(pay(&b, 10, 1), "p", &chain, now),
            Err(MempoolError::Invalid(
                TransferError::InsufficientBalance { .. }
            ))
        ));
        let mut forged = pay(&a, 10, 2);
        forged.amount = 99;
        assert!(matches!(
            m.insert(forged, "p", &chain, now),
            Err(MempoolError::Invalid(TransferError::BadSignature(_)))
        ));
        // Pending debits count against the balance.
        let big = Transfer::signed(&a, "c".repeat(40), 999_885, 10, 2, Timestamp::EPOCH);
        assert!(matches!(
            m.insert(big, "p", &chain, now),
            Err(MempoolError::Invalid(
                TransferError::InsufficientBalance { .. }
            ))
        ));
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn highest_fee_first_in_nonce_order() {
        let (a, b, c) = (id(1), id(2), id(3));
        let chain = funded(&[&a, &b, &c]);
        let mut m = pool(10, 0);
        let now = Instant::now();
        m.insert(pay(&a, 10, 1), "p", &chain, now).expect("a1");
        m.insert(pay(&a, 50, 2), "p", &chain, now).expect("a2");
        m.insert(pay(&b, 20, 1), "p", &chain, now).expect("b1");
        m.insert(pay(&c, 20, 1), "p", &chain, now).expect("c1");
        let order: Vec<(u8, i64)> = m
            .ordered()
            .iter()
            .map(|t| {
                let who = [&a, &b, &c]
                    .iter()
                    .position(|i| i.peer_id() == t.sender)
                    .expect("known") as u8;
                (who, t.nonce)
            })
            .collect();
        // b and c pay 20 (b arrived first); a's 50 waits behind its own nonce 1 at 10.
        assert_eq!(order, vec![(1, 1), (2, 1), (0, 1), (0, 2)]);
    }

    #[test]
    fn a_full_pool_evicts_the_cheapest_never_the_richer() {
        let senders: Vec<Identity> = (1..=4).map(id).collect();
        let refs: Vec<&Identity> = senders.iter().collect();
        let chain = funded(&refs);
        let mut m = pool(3, 0);
        let now = Instant::now();
        m.insert(pay(&senders[0], 10, 1), "p", &chain, now)
            .expect("0");
        m.insert(pay(&senders[0], 40, 2), "p", &chain, now)
            .expect("0b");
        m.insert(pay(&senders[1], 30, 1), "p", &chain, now)
            .expect("1");
        // Cheaper than every evictable one: refused. (Sender 0's nonce 1 is cheapest but
        // not evictable: its nonce 2 depends on it; the cheapest evictable pays 30.)
        assert_eq!(
            m.insert(pay(&senders[2], 30, 1), "p", &chain, now),
            Err(MempoolError::Full {
                fee: 30,
                lowest: 30
            })
        );
        // Richer: evicts the cheapest evictable (sender 1's 30).
        m.insert(pay(&senders[3], 35, 1), "p", &chain, now)
            .expect("evicts");
        assert_eq!(m.len(), 3);
        assert_eq!(m.pending_of(senders[1].peer_id()), 0);
        assert_eq!(m.pending_of(senders[0].peer_id()), 2);
        // A sender never evicts its own last transfer (its new one would follow a gap):
        // sender 3's richer nonce 2 evicts sender 0's nonce 2 instead.
        m.insert(pay(&senders[3], 45, 2), "p", &chain, now)
            .expect("evicts another sender's");
        assert_eq!(m.pending_of(senders[3].peer_id()), 2);
        assert_eq!(m.pending_of(senders[0].peer_id()), 1);
        let order: Vec<(i64, i64)> = m.ordered().iter().map(|t| (t.fee, t.nonce)).collect();
        assert_eq!(order, vec![(35, 1), (45, 2), (10, 1)]);
    }

    #[test]
    fn rate_limit_counts_admitted_transfers_per_peer_in_a_window() {
        let a = id(1);
        let chain = funded(&[&a]);
        let mut m = pool(100, 2);
        let t0 = Instant::now();
        m.insert(pay(&a, 10, 1), "p", &chain, t0).expect("1");
        // A refused transfer does not use a slot.
        assert!(m.insert(pay(&a, 10, 9), "p", &chain, t0).is_err());
        m.insert(pay(&a, 10, 2), "p", &chain, t0).expect("2");
        assert!(matches!(
            m.insert(pay(&a, 10, 3), "p", &chain, t0),
            Err(MempoolError::RateLimited { count: 2, .. })
        ));
        m.insert(pay(&a, 10, 3), "q", &chain, t0)
            .expect("another peer");
        m.insert(pay(&a, 10, 4), "p", &chain, t0 + RATE_WINDOW)
            .expect("window passed");
    }

    #[test]
    fn prune_drops_included_and_uncovered_transfers() {
        let a = id(1);
        let mut chain = funded(&[&a]);
        let mut m = pool(10, 0);
        let now = Instant::now();
        for n in 1..=3 {
            m.insert(pay(&a, 10, n), "p", &chain, now).expect("in");
        }
        // Nonce 1 got into a block; the balance now covers one more transfer only.
        chain.accounts.insert(
            a.peer_id().to_string(),
            Account {
                balance: 150,
                nonce: 1,
            },
        );
        assert_eq!(m.prune(&chain), 2);
        assert_eq!(m.ordered()[0].nonce, 2);
        // A reorganisation takes nonce 1 off the chain again: it comes back before the
        // pending nonce 2, and nonce 3 too now that the balance allows.
        let orphaned = vec![pay(&a, 10, 3), pay(&a, 10, 1)];
        chain.accounts.insert(
            a.peer_id().to_string(),
            Account {
                balance: 1_000,
                nonce: 0,
            },
        );
        assert_eq!(m.readmit(orphaned, &chain), 3);
        let nonces: Vec<i64> = m.ordered().iter().map(|t| t.nonce).collect();
        assert_eq!(nonces, vec![1, 2, 3]);
    }
}
