//! The fee market, EIP-1559 style, in integer base units: a base fee per block that follows
//! block fullness, burned; whatever a transfer pays above it tips the block's generator.
//!
//! * Every transfer in a block pays a `fee` of at least the block's base fee. The base fee
//!   is burned (it leaves the supply); the rest is the generator's tip, paid through the
//!   coinbase ([`crate::coinbase::pay_tips`]).
//! * The base fee of the next block follows [`next_base_fee`] from the parent's base fee and
//!   the parent's transfer count; genesis starts at [`MIN_BASE_FEE`].
//! * A block carries at most [`MAX_TRANSFERS_PER_BLOCK`] transfers (twice the target), so
//!   the base fee moves by at most 1/8 = 12.5 % per block.
//! * An optimae stake is [`OPTIMAE_STAKE_MULTIPLIER`] base fees: every optimizer's sealed
//!   claim names at least that much, refunded on acceptance (nothing moves) and a fifth of it
//!   burned when a rejection lands on chain ([`crate::rejection::stake_burn`]).
//!
//! The reference's fee market (`fee_market.py`) has the same constants in DOIN floats but
//! does not cap the increase, inverts its mempool eviction and burns nothing.

/// The lowest base fee: 0.001 DOIN.
pub const MIN_BASE_FEE: u64 = 100_000;
/// The highest base fee: 100 DOIN.
pub const MAX_BASE_FEE: u64 = 10_000_000_000;
/// Transfers per block at which the base fee stays put.
pub const TARGET_TRANSFERS_PER_BLOCK: u64 = 100;
/// Most transfers a block may carry.
pub const MAX_TRANSFERS_PER_BLOCK: u64 = 2 * TARGET_TRANSFERS_PER_BLOCK;
/// The base fee moves by at most `1 / BASE_FEE_CHANGE_DENOMINATOR` per block.
pub const BASE_FEE_CHANGE_DENOMINATOR: u64 = 8;
/// An optimae stake is this many base fees.
pub const OPTIMAE_STAKE_MULTIPLIER: u64 = 5;

/// The base fee of the block after one with base fee `base_fee` and `transfers` transfers.
///
/// Rule (EIP-1559): with target `T` and `n = min(transfers, 2T)`: `n == T` keeps the base
/// fee; `n > T` raises it by `max(base_fee * (n - T) / T / 8, 1)`; `n < T` lowers it by
/// `base_fee * (T - n) / T / 8`; the result is clamped to
/// `[MIN_BASE_FEE, MAX_BASE_FEE]`. Integer division, so the change is at most 12.5 %.
pub fn next_base_fee(base_fee: u64, transfers: u64) -> u64 {
    let target = TARGET_TRANSFERS_PER_BLOCK;
    let used = transfers.min(MAX_TRANSFERS_PER_BLOCK);
    let scaled = |diff: u64| -> u64 {
        let d = u128::from(base_fee) * u128::from(diff)
            / u128::from(target)
            / u128::from(BASE_FEE_CHANGE_DENOMINATOR);
        u64::try_from(d).unwrap_or(u64::MAX)
    };
    let next = match used.cmp(&target) {
        std::cmp::Ordering::Equal => base_fee,
        std::cmp::Ordering::Greater => base_fee.saturating_add(scaled(used - target).max(1)),
        std::cmp::Ordering::Less => base_fee.saturating_sub(scaled(target - used)),
    };
    next.clamp(MIN_BASE_FEE, MAX_BASE_FEE)
}

/// How a transfer's fee divides: `(burned, tip)` = `(base_fee, fee - base_fee)`; `None` when
/// the fee is below the base fee (such a transfer is invalid).
pub fn split_fee(fee: u64, base_fee: u64) -> Option<(u64, u64)> {
    fee.checked_sub(base_fee).map(|tip| (base_fee, tip))
}

/// The tip a transfer offers at `base_fee`: what the generator earns, and what orders the
/// mempool (0 when the fee does not cover the base fee).
pub fn effective_tip(fee: u64, base_fee: u64) -> u64 {
    fee.saturating_sub(base_fee)
}

/// The stake an optimae must lock at `base_fee`: `OPTIMAE_STAKE_MULTIPLIER * base_fee`.
pub fn optimae_stake(base_fee: u64) -> u64 {
    base_fee.saturating_mul(OPTIMAE_STAKE_MULTIPLIER)
}

/// Suggested fees at `base_fee`: `(tip, total)` for priorities low, normal, high and urgent
/// (tips of 10 %, 50 %, 100 % and 200 % of the base fee, as the reference suggests).
pub fn suggested_fees(base_fee: u64) -> [(&'static str, u64, u64); 4] {
    [("low", 10), ("normal", 50), ("high", 100), ("urgent", 200)].map(|(name, pct)| {
        let tip = u64::try_from(u128::from(base_fee) * pct / 100).unwrap_or(u64::MAX);
        (name, tip, base_fee.saturating_add(tip))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_fee_follows_fullness_within_an_eighth() {
        let b = 8_000_000;
        assert_eq!(next_base_fee(b, TARGET_TRANSFERS_PER_BLOCK), b);
        assert_eq!(next_base_fee(b, MAX_TRANSFERS_PER_BLOCK), b + b / 8);
        assert_eq!(next_base_fee(b, 150), b + b / 16);
        assert_eq!(next_base_fee(b, 0), b - b / 8);
        // More than the maximum counts as the maximum: never above +12.5 %.
        assert_eq!(next_base_fee(b, 10_000), b + b / 8);
        // Any increase is at least one unit; the floor and the ceiling hold.
        assert_eq!(next_base_fee(MIN_BASE_FEE, 101), MIN_BASE_FEE + 125);
        assert_eq!(next_base_fee(MIN_BASE_FEE, 0), MIN_BASE_FEE);
        assert_eq!(next_base_fee(MAX_BASE_FEE, 200), MAX_BASE_FEE);
        for n in 0..=MAX_TRANSFERS_PER_BLOCK {
            let next = next_base_fee(b, n);
            assert!(next <= b + b / 8 && next >= b - b / 8, "{n}: {next}");
        }
    }

    #[test]
    fn fee_splits_into_burn_and_tip() {
        assert_eq!(split_fee(150, 100), Some((100, 50)));
        assert_eq!(split_fee(100, 100), Some((100, 0)));
        assert_eq!(split_fee(99, 100), None);
        assert_eq!(effective_tip(99, 100), 0);
    }

    #[test]
    fn stakes_and_suggestions() {
        assert_eq!(optimae_stake(MIN_BASE_FEE), 500_000);
        let s = suggested_fees(1000);
        assert_eq!(s[1], ("normal", 500, 1500));
        assert_eq!(s[3], ("urgent", 2000, 3000));
    }
}
