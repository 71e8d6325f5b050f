//! Why a channel operation or update is refused ([`ChannelError`]).

use super::{
    MAX_CHANNEL_OPS_PER_BLOCK, MAX_DISPUTE_PERIOD_SECS, MAX_OPEN_CHANNELS_PER_SENDER,
    MIN_DISPUTE_PERIOD_SECS,
};
use crate::transfer::MAX_SUPPLY_UNITS;

/// Why a channel operation or update is refused; each variant names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// No channel with this id on chain.
    #[error("unknown channel {0}")]
    UnknownChannel(String),
    /// The actor is neither the sender nor the receiver.
    #[error("{actor} is not a participant of channel {channel_id}")]
    NotParticipant {
        /// The actor.
        actor: String,
        /// The channel.
        channel_id: String,
    },
    /// Open: the receiver is the sender.
    #[error("cannot open a channel with yourself")]
    SelfChannel,
    /// Open: the receiver is not a peer id.
    #[error("receiver {0:?} is not a peer id (40 lowercase hex characters)")]
    BadReceiver(String),
    /// Open: the deposit must be positive.
    #[error("deposit must be positive, got {0} base units")]
    NonPositiveDeposit(i64),
    /// Open: deposit plus fee above the total supply.
    #[error("deposit + fee exceeds the total supply of {MAX_SUPPLY_UNITS} base units")]
    AboveSupply,
    /// Open: the dispute period is out of bounds.
    #[error(
        "dispute period {0} s is outside [{MIN_DISPUTE_PERIOD_SECS}, {MAX_DISPUTE_PERIOD_SECS}] s"
    )]
    BadDisputePeriod(i64),
    /// Open: the sender has too many unsettled channels.
    #[error(
        "{sender} already has {open} unsettled channels (at most {MAX_OPEN_CHANNELS_PER_SENDER})"
    )]
    TooManyChannels {
        /// The sender.
        sender: String,
        /// Its unsettled channels.
        open: u64,
    },
    /// The actor cannot pay the deposit and fee (open) or the fee.
    #[error("insufficient balance: {balance} < {needed} (base units)")]
    InsufficientBalance {
        /// The actor's balance.
        balance: u64,
        /// What the operation needs.
        needed: u64,
    },
    /// The fee must not be negative.
    #[error("fee must not be negative, got {0} base units")]
    NegativeFee(i64),
    /// The fee does not cover the base fee.
    #[error("fee {fee} is below the base fee {base_fee} (base units)")]
    FeeBelowBaseFee {
        /// The operation's fee.
        fee: u64,
        /// The block's base fee.
        base_fee: u64,
    },
    /// The actor's channel-operation nonce was already used.
    #[error("channel operation nonce {got} already used: expected {expected}")]
    NonceReused {
        /// The actor's next nonce.
        expected: u64,
        /// The operation's nonce.
        got: i64,
    },
    /// The nonce skips the actor's next one.
    #[error("channel operation nonce {got} skips the next nonce {expected}")]
    NonceSkipped {
        /// The actor's next nonce.
        expected: u64,
        /// The operation's nonce.
        got: i64,
    },
    /// The operation's seal is missing or does not hold.
    #[error("bad signature: {0}")]
    BadSignature(String),
    /// The update's sender seal is missing or does not hold.
    #[error("update not signed by the channel's sender: {0}")]
    BadUpdateSeal(String),
    /// The update's receiver seal does not hold.
    #[error("bad receiver countersignature: {0}")]
    BadCountersignature(String),
    /// The update is for another channel.
    #[error("update is for channel {got}, not {expected}")]
    WrongChannel {
        /// The channel acted on.
        expected: String,
        /// The update's channel.
        got: String,
    },
    /// The update's nonce or a balance is negative.
    #[error("update nonce and balances must not be negative")]
    NegativeAmount,
    /// The update's balances do not add up to the deposit.
    #[error("balances sum to {sum}, the deposit is {deposit} (base units)")]
    BalancesNotDeposit {
        /// sender_balance + receiver_balance.
        sum: i128,
        /// The deposit.
        deposit: u64,
    },
    /// The update is not newer than the state it would replace.
    #[error("update nonce {got} is not newer than {current}")]
    NonceNotNewer {
        /// The update's nonce.
        got: i64,
        /// The nonce it must exceed.
        current: u64,
    },
    /// The update pays the receiver less than the one before it.
    #[error("update pays the receiver {got}, less than the previous {previous} (base units)")]
    PaymentDecreased {
        /// The update's receiver balance.
        got: i64,
        /// The previous update's receiver balance.
        previous: i64,
    },
    /// A close or update while a close is pending.
    #[error("channel {channel_id} is closing (dispute period until {deadline_micros} µs): only a dispute with a newer update is accepted")]
    Closing {
        /// The channel.
        channel_id: String,
        /// The end of its dispute period.
        deadline_micros: i64,
    },
    /// A dispute or settle on a channel nobody closed.
    #[error("channel {0} is open: there is no close to dispute or settle")]
    NotClosing(String),
    /// Any operation on a settled channel.
    #[error("channel {0} is closed")]
    Closed(String),
    /// A dispute after the period.
    #[error("the dispute period ended at {deadline_micros} µs (block time {at_micros} µs)")]
    DisputePeriodOver {
        /// The end of the period.
        deadline_micros: i64,
        /// The block's time.
        at_micros: i64,
    },
    /// A settle before the period ends.
    #[error("the dispute period runs until {deadline_micros} µs (block time {at_micros} µs)")]
    DisputePeriodNotOver {
        /// The end of the period.
        deadline_micros: i64,
        /// The block's time.
        at_micros: i64,
    },
    /// A block carries more channel operations than allowed.
    #[error("{count} channel operations in one block, at most {MAX_CHANNEL_OPS_PER_BLOCK}")]
    TooMany {
        /// Operations carried.
        count: usize,
    },
}
