//! Payment channels on chain: the rules a [`ChannelOp`] must meet to enter a block, and
//! the check a receiver runs on an off-chain [`ChannelUpdate`].
//!
//! Every operation is sealed by its actor ([`SealKind::ChannelOp`]), pays a `fee` like a
//! transfer (base fee burned, the rest tips the generator) and carries the actor's
//! *channel-operation nonce*: its previous one plus one, counted apart from transfer
//! nonces so that the transfer mempool and the channel pool never race for a nonce.
//! A block carries at most [`MAX_CHANNEL_OPS_PER_BLOCK`] operations; they apply in order,
//! after the block's transfers, against the balances those leave. Time is chain time: the
//! including block's header timestamp, never a clock.
//!
//! * **open** (actor = sender): `receiver` a peer id other than the sender; `0 < deposit`
//!   within the supply; `dispute_period` in
//!   [[`MIN_DISPUTE_PERIOD_SECS`], [`MAX_DISPUTE_PERIOD_SECS`]]; fewer than
//!   [`MAX_OPEN_CHANNELS_PER_SENDER`] unsettled channels of the sender (closed ones do not
//!   count, unlike the reference's lifetime cap); balance ≥ deposit + fee. The deposit is
//!   locked; the channel's id is the operation's id; its state is (deposit, 0) at nonce 0.
//! * **close** (either participant, channel open): with no update, the opening state;
//!   with an update, it must be valid ([`check_update_fields`]: this channel, balances
//!   not negative and summing to the deposit, the sender's seal). Countersigned by the
//!   receiver, it settles at once (cooperative close). Otherwise the channel is *closing*
//!   until `deadline = block time + dispute_period`. A second close is refused: while
//!   closing only a dispute with a newer update changes the state (the reference's close
//!   during a dispute skipped the period).
//! * **dispute** (either participant, channel closing, block time < deadline): an update
//!   valid as above with a nonce above the closing state's. **The newest validly signed
//!   update always wins**: it replaces the closing state and the channel settles at once,
//!   so a party that closed on a stale update is paid exactly what the newest update
//!   says and gains nothing by the attempt. There is no further monetary penalty.
//! * **settle** (either participant, channel closing, block time ≥ deadline): the closing
//!   state is paid out: receiver payout and sender refund credited, the deposit unlocked,
//!   the channel closed.
//!
//! Money is conserved: Σ balances + [`ChainState::total_locked`] == minted − burned.
//!
//! The refusals are [`ChannelError`]; the per-operation rules live in `ledger.rs`, the
//! working copy a block's operations are checked against.

use std::collections::BTreeMap;

use doin_primitives::identity::require_seal;
use doin_primitives::models::{ChannelOp, ChannelUpdate, Transfer};
use doin_primitives::seal::SealKind;

use crate::error::ConsensusError;
use crate::state::ChainState;
use crate::transfer::{check_transfer, debited, Account, BlockTransfers};

/// Most channel operations one block may carry.
pub const MAX_CHANNEL_OPS_PER_BLOCK: u64 = 100;
/// The shortest dispute period: one second of chain time.
pub const MIN_DISPUTE_PERIOD_SECS: i64 = 1;
/// The longest dispute period: thirty days of chain time.
pub const MAX_DISPUTE_PERIOD_SECS: i64 = 30 * 24 * 3600;
/// Most unsettled (open or closing) channels one sender may have.
pub const MAX_OPEN_CHANNELS_PER_SENDER: u64 = 64;

/// Where a channel is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelStatus {
    /// Open: updates are being exchanged off chain.
    Open,
    /// Closed unilaterally by `closer`; disputable until `deadline_micros` (chain time).
    Closing {
        /// Who closed.
        closer: String,
        /// When the dispute period ends, µs since the Unix epoch.
        deadline_micros: i64,
    },
    /// Paid out; nothing more can happen.
    Closed,
}

impl ChannelStatus {
    /// The status's name: `open`, `closing` or `closed`.
    pub fn name(&self) -> &'static str {
        match self {
            ChannelStatus::Open => "open",
            ChannelStatus::Closing { .. } => "closing",
            ChannelStatus::Closed => "closed",
        }
    }
}

/// A channel as the chain leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// Its id (the open operation's id).
    pub channel_id: String,
    /// The paying party.
    pub sender: String,
    /// The paid party.
    pub receiver: String,
    /// Base units locked at open.
    pub deposit: u64,
    /// Seconds of chain time a unilateral close waits.
    pub dispute_period_secs: u64,
    /// The height of the block that opened it.
    pub opened_height: u64,
    /// Its status.
    pub status: ChannelStatus,
    /// The nonce of the state on chain (0: the opening state).
    pub nonce: u64,
    /// What the sender gets back on settlement.
    pub sender_balance: u64,
    /// What the receiver is paid on settlement.
    pub receiver_balance: u64,
}

/// Channel totals, the reference's `get_stats()` keys (amounts in base units).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelStats {
    /// Channels ever opened.
    pub total_channels: u64,
    /// Channels not yet settled (open or closing).
    pub active_channels: u64,
    /// Base units locked in unsettled channels.
    pub total_locked: u64,
    /// Base units paid to receivers by settlements.
    pub total_settled: u64,
    /// Settlement fees (DOIN charges none: operations pay a transfer-like fee instead).
    pub total_fees: u64,
    /// Disputes won on chain.
    pub disputes: u64,
}

mod error;
mod ledger;

pub use error::ChannelError;
use ledger::Ledger;

/// Checks an update against `channel` without the nonce rule: it names the channel, its
/// nonce and balances are not negative, the balances sum to the deposit, and the sender's
/// seal over the state hash holds. Returns whether the receiver countersigned it (a
/// present but broken countersignature is refused).
pub fn check_update_fields(channel: &Channel, u: &ChannelUpdate) -> Result<bool, ChannelError> {
    if u.channel_id != channel.channel_id {
        return Err(ChannelError::WrongChannel {
            expected: channel.channel_id.clone(),
            got: u.channel_id.clone(),
        });
    }
    if u.nonce < 0 || u.sender_balance < 0 || u.receiver_balance < 0 {
        return Err(ChannelError::NegativeAmount);
    }
    let sum = i128::from(u.sender_balance) + i128::from(u.receiver_balance);
    if sum != i128::from(channel.deposit) {
        return Err(ChannelError::BalancesNotDeposit {
            sum,
            deposit: channel.deposit,
        });
    }
    let hash = u.state_hash();
    require_seal(
        u.sender_seal.as_ref(),
        SealKind::PaymentUpdate,
        &hash,
        &channel.sender,
    )
    .map_err(|e| ChannelError::BadUpdateSeal(e.to_string()))?;
    match &u.receiver_seal {
        None => Ok(false),
        Some(seal) => require_seal(
            Some(seal),
            SealKind::PaymentUpdate,
            &hash,
            &channel.receiver,
        )
        .map(|()| true)
        .map_err(|e| ChannelError::BadCountersignature(e.to_string())),
    }
}

/// The off-chain rule a receiver applies to consecutive updates of one channel: `next`
/// has a higher nonce and pays at least as much as `previous`. Returns the increment paid
/// (base units).
pub fn check_successor(
    previous: &ChannelUpdate,
    next: &ChannelUpdate,
) -> Result<u64, ChannelError> {
    if next.nonce <= previous.nonce {
        return Err(ChannelError::NonceNotNewer {
            got: next.nonce,
            current: u64::try_from(previous.nonce).unwrap_or(0),
        });
    }
    u64::try_from(next.receiver_balance - previous.receiver_balance).map_err(|_| {
        ChannelError::PaymentDecreased {
            got: next.receiver_balance,
            previous: previous.receiver_balance,
        }
    })
}

/// What a valid update is worth to its receiver, per [`ChainState::check_channel_update`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoucherCheck {
    /// The channel as on chain.
    pub channel: Channel,
    /// Base units the update pays the receiver (cumulative).
    pub paid: u64,
    /// The update's nonce.
    pub nonce: u64,
}

/// A block's channel operations, checked in order: the accounts and channels they leave.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlockChannelOps {
    /// The operations, in block order.
    pub ops: Vec<ChannelOp>,
    /// Balances of the accounts the operations touch, after them (and the block's transfers).
    pub balances: BTreeMap<String, u64>,
    /// Channel-operation nonces of the actors, after them.
    pub nonces: BTreeMap<String, u64>,
    /// Channels the operations touch, after them.
    pub channels: BTreeMap<String, Channel>,
    /// Unsettled channels per sender, for the senders touched.
    pub unsettled: BTreeMap<String, u64>,
    /// The totals after them.
    pub stats: ChannelStats,
    /// Base units the operations burn (base fees).
    pub burned: u64,
    /// Base units the generator earns in tips.
    pub tips: u64,
}

/// The actor's seal over the operation's id holds and its key hashes to `actor`.
pub fn verify_channel_op_seal(op: &ChannelOp) -> Result<(), ChannelError> {
    require_seal(
        op.seal.as_ref(),
        SealKind::ChannelOp,
        &op.compute_id(),
        &op.actor,
    )
    .map_err(|e| ChannelError::BadSignature(e.to_string()))
}

/// Balances after a block's transfers, for the accounts they touch.
fn balances_after(state: &ChainState, transfers: &BlockTransfers) -> BTreeMap<String, u64> {
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    for (t, e) in transfers.transfers.iter().zip(&transfers.effects) {
        let from = out
            .entry(t.sender.clone())
            .or_insert_with(|| state.balance(&t.sender));
        *from = from.saturating_sub(e.debit);
        let to = out
            .entry(t.recipient.clone())
            .or_insert_with(|| state.balance(&t.recipient));
        *to = to.saturating_add(e.amount);
    }
    out
}

impl ChainState {
    /// The channel with this id, open, closing or closed.
    pub fn channel(&self, channel_id: &str) -> Option<&Channel> {
        self.channels.get(channel_id)
    }

    /// Every channel on chain, by id.
    pub fn channels(&self) -> &BTreeMap<String, Channel> {
        &self.channels
    }

    /// Channel totals (the reference's `get_stats()` keys).
    pub fn channel_stats(&self) -> ChannelStats {
        self.channel_stats
    }

    /// Base units locked in unsettled channels; Σ balances + this == minted − burned.
    pub fn total_locked(&self) -> u64 {
        self.channel_stats.total_locked
    }

    /// A peer's last used channel-operation nonce (0 before its first).
    pub fn channel_nonce(&self, peer_id: &str) -> u64 {
        self.channel_nonces.get(peer_id).copied().unwrap_or(0)
    }

    /// The receiver's check of an off-chain update, against the chain's tip: the channel
    /// exists and is open (a closing or closed channel takes no more payments), the update
    /// is valid for it ([`check_update_fields`]: channel, balances summing to the deposit,
    /// the sender's seal), and its nonce is above the one on chain. Returns what it pays.
    /// A receiver also checks each update against the one before it ([`check_successor`]).
    pub fn check_channel_update(&self, u: &ChannelUpdate) -> Result<VoucherCheck, ChannelError> {
        let c = self
            .channels
            .get(&u.channel_id)
            .ok_or_else(|| ChannelError::UnknownChannel(u.channel_id.clone()))?;
        match c.status {
            ChannelStatus::Open => {}
            ChannelStatus::Closing {
                deadline_micros, ..
            } => {
                return Err(ChannelError::Closing {
                    channel_id: c.channel_id.clone(),
                    deadline_micros,
                })
            }
            ChannelStatus::Closed => return Err(ChannelError::Closed(c.channel_id.clone())),
        }
        check_update_fields(c, u)?;
        let nonce = u64::try_from(u.nonce).ok().filter(|n| *n > c.nonce).ok_or(
            ChannelError::NonceNotNewer {
                got: u.nonce,
                current: c.nonce,
            },
        )?;
        Ok(VoucherCheck {
            channel: c.clone(),
            paid: u.receiver_balance.unsigned_abs(),
            nonce,
        })
    }

    /// Checks a next block's channel operations in order (module doc), after its checked
    /// `transfers`, for a block at height `tip + 1` timestamped `at_micros`.
    pub fn check_channel_ops(
        &self,
        ops: &[ChannelOp],
        transfers: &BlockTransfers,
        at_micros: i64,
    ) -> Result<BlockChannelOps, ConsensusError> {
        if ops.len() as u64 > MAX_CHANNEL_OPS_PER_BLOCK {
            return Err(ConsensusError::ChannelOps(ChannelError::TooMany {
                count: ops.len(),
            }));
        }
        if ops.is_empty() {
            return Ok(BlockChannelOps {
                stats: self.channel_stats,
                ..BlockChannelOps::default()
            });
        }
        let mut ledger = self.ledger(transfers, at_micros);
        for (index, op) in ops.iter().enumerate() {
            let in_op = |source| ConsensusError::InChannelOp { index, source };
            self.check_seal(
                op.seal.as_ref(),
                SealKind::ChannelOp,
                &op.compute_id(),
                &op.actor,
            )
            .map_err(|e| in_op(ChannelError::BadSignature(e.to_string())))?;
            ledger.apply(op).map_err(in_op)?;
        }
        ledger.out.ops = ops.to_vec();
        Ok(ledger.out)
    }

    fn ledger(&self, transfers: &BlockTransfers, at_micros: i64) -> Ledger<'_> {
        Ledger {
            state: self,
            at_micros,
            height: self.height + 1,
            out: BlockChannelOps {
                balances: balances_after(self, transfers),
                stats: self.channel_stats,
                ..BlockChannelOps::default()
            },
        }
    }

    /// The operations among `candidates` (seals already verified) a next block timestamped
    /// `at_micros` can carry after `transfers` (already selected, each valid in order), in
    /// the given order: each valid after those picked before it, at most
    /// [`MAX_CHANNEL_OPS_PER_BLOCK`].
    pub fn select_channel_ops<'a>(
        &self,
        candidates: impl IntoIterator<Item = &'a ChannelOp>,
        transfers: &[Transfer],
        at_micros: i64,
    ) -> Vec<ChannelOp> {
        let mut ledger = self.ledger(&self.transfer_effects(transfers), at_micros);
        let mut picked = Vec::new();
        for op in candidates {
            if picked.len() as u64 >= MAX_CHANNEL_OPS_PER_BLOCK {
                break;
            }
            let before = ledger.out.clone();
            if ledger.apply(op).is_ok() {
                picked.push(op.clone());
            } else {
                ledger.out = before;
            }
        }
        picked
    }

    /// What `transfers` do in order, seals not checked (those that break a rule are left
    /// out, as [`ChainState::select_transfers`] would).
    fn transfer_effects(&self, transfers: &[Transfer]) -> BlockTransfers {
        let mut out = BlockTransfers::default();
        let mut accounts: BTreeMap<&str, Account> = BTreeMap::new();
        for t in transfers {
            let account = accounts
                .get(t.sender.as_str())
                .copied()
                .unwrap_or_else(|| self.account(&t.sender));
            let Ok(effect) = check_transfer(t, &account, self.base_fee) else {
                continue;
            };
            accounts.insert(&t.sender, debited(&account, &effect));
            let to = accounts
                .entry(&t.recipient)
                .or_insert_with(|| self.account(&t.recipient));
            to.balance += effect.amount;
            out.transfers.push(t.clone());
            out.effects.push(effect);
        }
        out
    }

    /// Checks `op` (seal aside: [`verify_channel_op_seal`]) as if it entered a block at
    /// `at_micros` after the tip, following `pending` (the actor's operations a pool
    /// holds, in nonce order; those that no longer fit are skipped). A pool's admission
    /// rule.
    pub fn check_channel_op_after(
        &self,
        pending: &[&ChannelOp],
        op: &ChannelOp,
        at_micros: i64,
    ) -> Result<(), ChannelError> {
        let mut ledger = self.ledger(&BlockTransfers::default(), at_micros);
        for p in pending {
            let before = ledger.out.clone();
            if ledger.apply(p).is_err() {
                ledger.out = before;
            }
        }
        ledger.apply(op)
    }

    /// Applies a validated block's channel operations (after its transfers).
    pub(crate) fn apply_channel_ops(&mut self, b: &BlockChannelOps) {
        for (who, units) in &b.balances {
            self.balances.insert(who.clone(), *units);
        }
        for (who, n) in &b.nonces {
            self.channel_nonces.insert(who.clone(), *n);
        }
        for (id, c) in &b.channels {
            self.channels.insert(id.clone(), c.clone());
        }
        for (who, n) in &b.unsettled {
            self.unsettled_channels.insert(who.clone(), *n);
        }
        self.channel_stats = b.stats;
        self.total_burned = self.total_burned.saturating_add(b.burned);
    }
}

#[cfg(test)]
mod tests;
