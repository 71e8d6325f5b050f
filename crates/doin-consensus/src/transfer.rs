//! Coin transfers: the account rules a [`Transfer`] must meet to enter a block.
//!
//! Accounts (balance in base units, last used nonce) are a fold of the chain: coinbase
//! outputs credit, transfers move coins and burn base fees ([`crate::fee_market`]). A
//! transfer is valid against its sender's account when, in this order:
//! 1. `amount > 0` and `fee >= 0`, and `amount + fee` does not exceed the total supply;
//! 2. the recipient is a peer id (40 lowercase hex characters);
//! 3. `fee >= base_fee` of the block it enters;
//! 4. `nonce == last_nonce + 1` (a lower nonce is a replay, a higher one skips);
//! 5. `balance >= amount + fee`;
//! 6. the seal ([`SealKind::Transfer`] over the id) holds and its key hashes to `sender`
//!    ([`verify_transfer_seal`], checked apart because it does not depend on the state).
//!
//! Inside a block, transfers apply in order, each against the account the earlier ones
//! leave; coinbase credits of the same block are not spendable until the next one.

use std::collections::BTreeMap;

use doin_primitives::identity::require_seal;
use doin_primitives::models::Transfer;
use doin_primitives::seal::SealKind;

use crate::error::ConsensusError;
use crate::fee_market::{next_base_fee, split_fee, MAX_TRANSFERS_PER_BLOCK};
use crate::state::ChainState;

/// The total supply cap in base units (21 million DOIN); no amount may exceed it.
pub const MAX_SUPPLY_UNITS: u64 = 21_000_000 * 100_000_000;

/// An account as the chain leaves it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Account {
    /// Base units held.
    pub balance: u64,
    /// The last nonce used (0 before the first transfer).
    pub nonce: u64,
}

/// Why a transfer is refused; each variant names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// Rule 1: the amount must be positive.
    #[error("amount must be positive, got {0} base units")]
    NonPositiveAmount(i64),
    /// Rule 1: the fee must not be negative.
    #[error("fee must not be negative, got {0} base units")]
    NegativeFee(i64),
    /// Rule 1: amount plus fee above the total supply.
    #[error("amount + fee exceeds the total supply of {MAX_SUPPLY_UNITS} base units")]
    AboveSupply,
    /// Rule 2: the recipient is not a peer id.
    #[error("recipient {0:?} is not a peer id (40 lowercase hex characters)")]
    BadRecipient(String),
    /// Rule 3: the fee does not cover the base fee.
    #[error("fee {fee} is below the base fee {base_fee} (base units)")]
    FeeBelowBaseFee {
        /// The transfer's fee.
        fee: u64,
        /// The block's base fee.
        base_fee: u64,
    },
    /// Rule 4: the nonce was already used (a replay).
    #[error("nonce {got} already used: expected {expected}")]
    NonceReused {
        /// The next nonce of the sender.
        expected: u64,
        /// The transfer's nonce.
        got: i64,
    },
    /// Rule 4: the nonce skips the sender's next one.
    #[error("nonce {got} skips the next nonce {expected}")]
    NonceSkipped {
        /// The next nonce of the sender.
        expected: u64,
        /// The transfer's nonce.
        got: i64,
    },
    /// Rule 5: the sender cannot pay amount plus fee.
    #[error("insufficient balance: {balance} < {needed} (amount + fee, base units)")]
    InsufficientBalance {
        /// The sender's balance.
        balance: u64,
        /// Amount plus fee.
        needed: u64,
    },
    /// Rule 6: the seal is missing, or its key or signature does not hold.
    #[error("bad signature: {0}")]
    BadSignature(String),
    /// A block carries more transfers than the fee market allows.
    #[error("{count} transfers in one block, at most {max}")]
    TooMany {
        /// Transfers carried.
        count: usize,
        /// The limit.
        max: u64,
    },
}

/// What a valid transfer does: the sender's debit and the fee's burn and tip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferEffect {
    /// The amount credited to the recipient.
    pub amount: u64,
    /// `amount + fee`, debited from the sender.
    pub debit: u64,
    /// The base fee, burned.
    pub burned: u64,
    /// The rest of the fee, to the generator.
    pub tip: u64,
}

/// Whether `s` is a peer id: 40 lowercase hex characters ([`doin_primitives::PeerId::parse`]).
pub fn is_peer_id(s: &str) -> bool {
    doin_primitives::PeerId::parse(s).is_ok()
}

/// Checks rules 1 to 5 of the module doc for `t` against its sender's `account` at
/// `base_fee`; returns what the transfer does.
pub fn check_transfer(
    t: &Transfer,
    account: &Account,
    base_fee: u64,
) -> Result<TransferEffect, TransferError> {
    let amount = u64::try_from(t.amount)
        .ok()
        .filter(|a| *a > 0)
        .ok_or(TransferError::NonPositiveAmount(t.amount))?;
    let fee = u64::try_from(t.fee).map_err(|_| TransferError::NegativeFee(t.fee))?;
    let debit = amount
        .checked_add(fee)
        .filter(|d| *d <= MAX_SUPPLY_UNITS)
        .ok_or(TransferError::AboveSupply)?;
    if !is_peer_id(&t.recipient) {
        return Err(TransferError::BadRecipient(t.recipient.clone()));
    }
    let (burned, tip) =
        split_fee(fee, base_fee).ok_or(TransferError::FeeBelowBaseFee { fee, base_fee })?;
    let expected = account.nonce.saturating_add(1);
    match u64::try_from(t.nonce) {
        Ok(n) if n == expected => {}
        Ok(n) if n > expected => {
            return Err(TransferError::NonceSkipped {
                expected,
                got: t.nonce,
            })
        }
        _ => {
            return Err(TransferError::NonceReused {
                expected,
                got: t.nonce,
            })
        }
    }
    if account.balance < debit {
        return Err(TransferError::InsufficientBalance {
            balance: account.balance,
            needed: debit,
        });
    }
    Ok(TransferEffect {
        amount,
        debit,
        burned,
        tip,
    })
}

/// Rule 6: the sender's seal over the transfer id holds and its key hashes to `sender`.
pub fn verify_transfer_seal(t: &Transfer) -> Result<(), TransferError> {
    require_seal(
        t.seal.as_ref(),
        SealKind::Transfer,
        &t.compute_id(),
        &t.sender,
    )
    .map_err(|e| TransferError::BadSignature(e.to_string()))
}

/// The account after a valid transfer's debit.
pub fn debited(account: &Account, effect: &TransferEffect) -> Account {
    Account {
        balance: account.balance - effect.debit,
        nonce: account.nonce + 1,
    }
}

/// A block's transfers, checked in order against the state before the block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlockTransfers {
    /// The transfers, in block order.
    pub transfers: Vec<Transfer>,
    /// What each does.
    pub effects: Vec<TransferEffect>,
    /// Base units the block burns (its base fee per transfer).
    pub burned: u64,
    /// Base units the block's generator earns in tips.
    pub tips: u64,
}

impl ChainState {
    /// Checks a next block's transfers in order (see the module doc), each against the
    /// account the earlier ones leave, at the tip's [`ChainState::base_fee`].
    pub fn check_transfers(
        &self,
        transfers: &[Transfer],
    ) -> Result<BlockTransfers, ConsensusError> {
        if transfers.len() as u64 > MAX_TRANSFERS_PER_BLOCK {
            return Err(ConsensusError::Transfers(TransferError::TooMany {
                count: transfers.len(),
                max: MAX_TRANSFERS_PER_BLOCK,
            }));
        }
        let mut out = BlockTransfers::default();
        let mut accounts: BTreeMap<&str, Account> = BTreeMap::new();
        for (index, t) in transfers.iter().enumerate() {
            let in_transfer = |source| ConsensusError::InTransfer { index, source };
            self.check_seal(
                t.seal.as_ref(),
                SealKind::Transfer,
                &t.compute_id(),
                &t.sender,
            )
            .map_err(|e| in_transfer(TransferError::BadSignature(e.to_string())))?;
            let account = accounts
                .get(t.sender.as_str())
                .copied()
                .unwrap_or_else(|| self.account(&t.sender));
            let effect = check_transfer(t, &account, self.base_fee).map_err(in_transfer)?;
            accounts.insert(&t.sender, debited(&account, &effect));
            let credited = accounts
                .entry(&t.recipient)
                .or_insert_with(|| self.account(&t.recipient));
            credited.balance += effect.amount;
            out.burned += effect.burned;
            out.tips += effect.tip;
            out.effects.push(effect);
        }
        out.transfers = transfers.to_vec();
        Ok(out)
    }

    /// The transfers among `candidates` (seals already verified) a next block can carry,
    /// in the given order: each one valid after those picked before it, at most
    /// [`MAX_TRANSFERS_PER_BLOCK`]. A builder passes its mempool's best-paying first.
    pub fn select_transfers<'a>(
        &self,
        candidates: impl IntoIterator<Item = &'a Transfer>,
    ) -> Vec<Transfer> {
        let mut picked = Vec::new();
        let mut accounts: BTreeMap<String, Account> = BTreeMap::new();
        for t in candidates {
            if picked.len() as u64 >= MAX_TRANSFERS_PER_BLOCK {
                break;
            }
            let account = accounts
                .get(&t.sender)
                .copied()
                .unwrap_or_else(|| self.account(&t.sender));
            let Ok(effect) = check_transfer(t, &account, self.base_fee) else {
                continue;
            };
            accounts.insert(t.sender.clone(), debited(&account, &effect));
            let credited = accounts
                .entry(t.recipient.clone())
                .or_insert_with(|| self.account(&t.recipient));
            credited.balance += effect.amount;
            picked.push(t.clone());
        }
        picked
    }

    /// Applies a validated block's transfers: balances, nonces, the burn, and the base fee
    /// of the next block (tips arrive through the coinbase).
    pub(crate) fn apply_transfers(&mut self, b: &BlockTransfers) {
        for (t, e) in b.transfers.iter().zip(&b.effects) {
            let from = self.balances.entry(t.sender.clone()).or_default();
            *from = from.saturating_sub(e.debit);
            let to = self.balances.entry(t.recipient.clone()).or_default();
            *to = to.saturating_add(e.amount);
            let n = self.nonces.entry(t.sender.clone()).or_default();
            *n += 1;
        }
        self.total_burned = self.total_burned.saturating_add(b.burned);
        self.base_fee = next_base_fee(self.base_fee, b.transfers.len() as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::identity::Identity;
    use doin_primitives::Timestamp;

    fn bob() -> String {
        "b".repeat(40)
    }

    fn transfer(amount: i64, fee: i64, nonce: i64) -> Transfer {
        let alice = Identity::from_scalar_bytes(&[5u8; 32]).expect("scalar");
        Transfer::signed(&alice, bob(), amount, fee, nonce, Timestamp::EPOCH)
    }

    #[test]
    fn each_rule_refuses_with_its_reason() {
        let acct = Account {
            balance: 1_000,
            nonce: 2,
        };
        let ok = check_transfer(&transfer(500, 150, 3), &acct, 100).expect("valid");
        assert_eq!(
            ok,
            TransferEffect {
                amount: 500,
                debit: 650,
                burned: 100,
                tip: 50
            }
        );
        assert_eq!(
            debited(&acct, &ok),
            Account {
                balance: 350,
                nonce: 3
            }
        );
        let err = |t: Transfer| check_transfer(&t, &acct, 100).expect_err("refused");
        assert_eq!(
            err(transfer(0, 100, 3)),
            TransferError::NonPositiveAmount(0)
        );
        assert_eq!(
            err(transfer(-10, 100, 3)),
            TransferError::NonPositiveAmount(-10)
        );
        assert_eq!(err(transfer(5, -1, 3)), TransferError::NegativeFee(-1));
        assert_eq!(err(transfer(i64::MAX, 100, 3)), TransferError::AboveSupply);
        assert_eq!(
            err(transfer(5, 99, 3)),
            TransferError::FeeBelowBaseFee {
                fee: 99,
                base_fee: 100
            }
        );
        assert_eq!(
            err(transfer(5, 100, 2)),
            TransferError::NonceReused {
                expected: 3,
                got: 2
            }
        );
        assert_eq!(
            err(transfer(5, 100, -1)),
            TransferError::NonceReused {
                expected: 3,
                got: -1
            }
        );
        assert_eq!(
            err(transfer(5, 100, 4)),
            TransferError::NonceSkipped {
                expected: 3,
                got: 4
            }
        );
        assert_eq!(
            err(transfer(901, 100, 3)),
            TransferError::InsufficientBalance {
                balance: 1_000,
                needed: 1_001
            }
        );
        let mut to_nobody = transfer(5, 100, 3);
        to_nobody.recipient = "Bob".into();
        assert!(matches!(err(to_nobody), TransferError::BadRecipient(_)));
    }

    #[test]
    fn the_seal_binds_every_id_field() {
        let t = transfer(5, 100, 1);
        assert_eq!(verify_transfer_seal(&t), Ok(()));
        let mut more = t.clone();
        more.amount = 6;
        assert!(matches!(
            verify_transfer_seal(&more),
            Err(TransferError::BadSignature(_))
        ));
        let mut unsigned = t.clone();
        unsigned.seal = None;
        assert!(verify_transfer_seal(&unsigned).is_err());
        let mut other_sender = t;
        other_sender.sender = bob();
        assert!(verify_transfer_seal(&other_sender).is_err());
    }
}
