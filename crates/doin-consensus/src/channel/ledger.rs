//! The working copy a block's channel operations are checked against, one operation at a
//! time: the rules of open, close, dispute and settle ([`super`]'s module doc).

use doin_primitives::models::{ChannelAction, ChannelOp, ChannelUpdate};

use super::{
    check_update_fields, BlockChannelOps, Channel, ChannelError, ChannelStatus,
    MAX_DISPUTE_PERIOD_SECS, MAX_OPEN_CHANNELS_PER_SENDER, MIN_DISPUTE_PERIOD_SECS,
};
use crate::fee_market::split_fee;
use crate::state::ChainState;
use crate::transfer::{is_peer_id, MAX_SUPPLY_UNITS};

/// The working copy one block's operations are checked against.
pub(super) struct Ledger<'a> {
    pub(super) state: &'a ChainState,
    pub(super) at_micros: i64,
    pub(super) height: u64,
    pub(super) out: BlockChannelOps,
}

impl Ledger<'_> {
    fn balance(&self, who: &str) -> u64 {
        self.out
            .balances
            .get(who)
            .copied()
            .unwrap_or_else(|| self.state.balance(who))
    }

    fn credit(&mut self, who: &str, units: u64) {
        let b = self.balance(who).saturating_add(units);
        self.out.balances.insert(who.to_owned(), b);
    }

    fn channel(&self, id: &str) -> Result<Channel, ChannelError> {
        self.out
            .channels
            .get(id)
            .or_else(|| self.state.channels.get(id))
            .cloned()
            .ok_or_else(|| ChannelError::UnknownChannel(id.to_owned()))
    }

    fn unsettled(&self, sender: &str) -> u64 {
        self.out.unsettled.get(sender).copied().unwrap_or_else(|| {
            self.state
                .unsettled_channels
                .get(sender)
                .copied()
                .unwrap_or(0)
        })
    }

    /// Checks `op` (seal aside) and applies it to the working copy.
    pub(super) fn apply(&mut self, op: &ChannelOp) -> Result<(), ChannelError> {
        let fee = u64::try_from(op.fee).map_err(|_| ChannelError::NegativeFee(op.fee))?;
        let base_fee = self.state.base_fee;
        let (burned, tip) =
            split_fee(fee, base_fee).ok_or(ChannelError::FeeBelowBaseFee { fee, base_fee })?;
        let last = self
            .out
            .nonces
            .get(&op.actor)
            .copied()
            .unwrap_or_else(|| self.state.channel_nonce(&op.actor));
        let expected = last.saturating_add(1);
        match u64::try_from(op.nonce) {
            Ok(n) if n == expected => {}
            Ok(n) if n > expected => {
                return Err(ChannelError::NonceSkipped {
                    expected,
                    got: op.nonce,
                })
            }
            _ => {
                return Err(ChannelError::NonceReused {
                    expected,
                    got: op.nonce,
                })
            }
        }
        let balance = self.balance(&op.actor);
        let needed = match &op.action {
            ChannelAction::Open { deposit, .. } => u64::try_from(*deposit)
                .ok()
                .filter(|d| *d > 0)
                .ok_or(ChannelError::NonPositiveDeposit(*deposit))?
                .checked_add(fee)
                .filter(|n| *n <= MAX_SUPPLY_UNITS)
                .ok_or(ChannelError::AboveSupply)?,
            _ => fee,
        };
        match &op.action {
            ChannelAction::Open {
                receiver,
                deposit,
                dispute_period,
            } => self.open(op, receiver, *deposit, *dispute_period)?,
            ChannelAction::Close { channel_id, update } => {
                self.close(op, channel_id, update.as_ref())?
            }
            ChannelAction::Dispute { update } => self.dispute(op, update)?,
            ChannelAction::Settle { channel_id } => self.settle_op(op, channel_id)?,
        }
        if balance < needed {
            return Err(ChannelError::InsufficientBalance { balance, needed });
        }
        // Solvency was judged on the balance before this operation's payout (if any).
        let after = self.balance(&op.actor) - needed;
        self.out.balances.insert(op.actor.clone(), after);
        self.out.nonces.insert(op.actor.clone(), expected);
        self.out.burned += burned;
        self.out.tips += tip;
        Ok(())
    }

    fn open(
        &mut self,
        op: &ChannelOp,
        receiver: &str,
        deposit: i64,
        dispute_period: i64,
    ) -> Result<(), ChannelError> {
        if receiver == op.actor {
            return Err(ChannelError::SelfChannel);
        }
        if !is_peer_id(receiver) {
            return Err(ChannelError::BadReceiver(receiver.to_owned()));
        }
        if !(MIN_DISPUTE_PERIOD_SECS..=MAX_DISPUTE_PERIOD_SECS).contains(&dispute_period) {
            return Err(ChannelError::BadDisputePeriod(dispute_period));
        }
        let open = self.unsettled(&op.actor);
        if open >= MAX_OPEN_CHANNELS_PER_SENDER {
            return Err(ChannelError::TooManyChannels {
                sender: op.actor.clone(),
                open,
            });
        }
        let deposit = deposit.unsigned_abs();
        let id = op.compute_id();
        self.out.channels.insert(
            id.clone(),
            Channel {
                channel_id: id,
                sender: op.actor.clone(),
                receiver: receiver.to_owned(),
                deposit,
                dispute_period_secs: dispute_period.unsigned_abs(),
                opened_height: self.height,
                status: ChannelStatus::Open,
                nonce: 0,
                sender_balance: deposit,
                receiver_balance: 0,
            },
        );
        self.out.unsettled.insert(op.actor.clone(), open + 1);
        self.out.stats.total_channels += 1;
        self.out.stats.active_channels += 1;
        self.out.stats.total_locked += deposit;
        Ok(())
    }

    /// The channel `id` with `actor` a participant.
    fn participant(&self, actor: &str, id: &str) -> Result<Channel, ChannelError> {
        let c = self.channel(id)?;
        if actor != c.sender && actor != c.receiver {
            return Err(ChannelError::NotParticipant {
                actor: actor.to_owned(),
                channel_id: id.to_owned(),
            });
        }
        Ok(c)
    }

    fn close(
        &mut self,
        op: &ChannelOp,
        id: &str,
        update: Option<&ChannelUpdate>,
    ) -> Result<(), ChannelError> {
        let mut c = self.participant(&op.actor, id)?;
        match c.status {
            ChannelStatus::Open => {}
            ChannelStatus::Closing {
                deadline_micros, ..
            } => {
                return Err(ChannelError::Closing {
                    channel_id: id.to_owned(),
                    deadline_micros,
                })
            }
            ChannelStatus::Closed => return Err(ChannelError::Closed(id.to_owned())),
        }
        let cooperative = match update {
            None => false,
            Some(u) => {
                let both = check_update_fields(&c, u)?;
                c.nonce = u.nonce.unsigned_abs();
                c.sender_balance = u.sender_balance.unsigned_abs();
                c.receiver_balance = u.receiver_balance.unsigned_abs();
                both
            }
        };
        if cooperative {
            self.settle(c);
        } else {
            let period = i64::try_from(c.dispute_period_secs).unwrap_or(MAX_DISPUTE_PERIOD_SECS);
            c.status = ChannelStatus::Closing {
                closer: op.actor.clone(),
                deadline_micros: self.at_micros.saturating_add(period * 1_000_000),
            };
            self.out.channels.insert(c.channel_id.clone(), c);
        }
        Ok(())
    }

    fn dispute(&mut self, op: &ChannelOp, u: &ChannelUpdate) -> Result<(), ChannelError> {
        let id = u.channel_id.as_str();
        let mut c = self.participant(&op.actor, id)?;
        let deadline_micros = match c.status {
            ChannelStatus::Closing {
                deadline_micros, ..
            } => deadline_micros,
            ChannelStatus::Open => return Err(ChannelError::NotClosing(id.to_owned())),
            ChannelStatus::Closed => return Err(ChannelError::Closed(id.to_owned())),
        };
        if self.at_micros >= deadline_micros {
            return Err(ChannelError::DisputePeriodOver {
                deadline_micros,
                at_micros: self.at_micros,
            });
        }
        check_update_fields(&c, u)?;
        if u64::try_from(u.nonce).map_or(true, |n| n <= c.nonce) {
            return Err(ChannelError::NonceNotNewer {
                got: u.nonce,
                current: c.nonce,
            });
        }
        c.nonce = u.nonce.unsigned_abs();
        c.sender_balance = u.sender_balance.unsigned_abs();
        c.receiver_balance = u.receiver_balance.unsigned_abs();
        self.out.stats.disputes += 1;
        self.settle(c);
        Ok(())
    }

    fn settle_op(&mut self, op: &ChannelOp, id: &str) -> Result<(), ChannelError> {
        let c = self.participant(&op.actor, id)?;
        match c.status {
            ChannelStatus::Closing {
                deadline_micros, ..
            } if self.at_micros < deadline_micros => Err(ChannelError::DisputePeriodNotOver {
                deadline_micros,
                at_micros: self.at_micros,
            }),
            ChannelStatus::Closing { .. } => {
                self.settle(c);
                Ok(())
            }
            ChannelStatus::Open => Err(ChannelError::NotClosing(id.to_owned())),
            ChannelStatus::Closed => Err(ChannelError::Closed(id.to_owned())),
        }
    }

    /// Pays `c`'s state out and closes it.
    fn settle(&mut self, mut c: Channel) {
        self.credit(&c.receiver, c.receiver_balance);
        self.credit(&c.sender, c.sender_balance);
        let open = self.unsettled(&c.sender);
        self.out
            .unsettled
            .insert(c.sender.clone(), open.saturating_sub(1));
        let s = &mut self.out.stats;
        s.active_channels = s.active_channels.saturating_sub(1);
        s.total_locked = s.total_locked.saturating_sub(c.deposit);
        s.total_settled += c.receiver_balance;
        c.status = ChannelStatus::Closed;
        self.out.channels.insert(c.channel_id.clone(), c);
    }
}
