//! Block reward schedule and the coinbase split, as the reference's `models/coin.py`
//! computes them, in `f64` and in the reference's exact operation order (the amounts are
//! hashed into the coinbase id, so one rounding difference changes the id).
//!
//! Reference behaviour kept here, and fixed by DOIN's own rules elsewhere:
//! * the split is documented as 5 % generator / 65 % optimizers / 30 % evaluators, but the
//!   pools are taken from what is left after the generator's 5 %, and the 5 % of that
//!   remainder that no pool takes goes back to the generator as "remainder": with both
//!   roles present a fee-free reward is paid 9.75 % / 61.75 % / 28.5 %;
//! * transaction fees are counted twice for the generator (inside the 5 % base and again
//!   on top), so it can receive more than reward plus fees;
//! * money is `f64`; sums are plain left-to-right additions, as Python 3.11's `sum` does
//!   (Python 3.12 and later compensate float sums and can differ in the last bit).

use doin_primitives::models::{CoinbaseOutput, CoinbaseTransaction};
use doin_primitives::Timestamp;

use super::python::py_min;

/// The reward of the first halving epoch.
pub const INITIAL_BLOCK_REWARD: f64 = 50.0;
/// Blocks per halving epoch.
pub const HALVING_INTERVAL: i64 = 210_000;
/// The supply cap applied by [`compute_total_supply_at`].
pub const MAX_SUPPLY: f64 = 21_000_000.0;
/// The generator's nominal share.
pub const GENERATOR_FEE_FRACTION: f64 = 0.05;
/// The optimizers' nominal share (of what is left after the generator's).
pub const OPTIMIZER_POOL_FRACTION: f64 = 0.65;
/// The evaluators' nominal share (of what is left after the generator's).
pub const EVALUATOR_POOL_FRACTION: f64 = 0.30;
/// The smallest amount paid out.
pub const MIN_REWARD: f64 = 1e-8;

/// Python's `2 ** h` as used in `50.0 / 2 ** h`: an exact power of two (0 below the
/// smallest subnormal, infinity above the largest float).
fn pow2(h: i64) -> f64 {
    if h > 1023 {
        f64::INFINITY
    } else if h >= -1022 {
        // h + 1023 is in 1..=2046: a normal float with a zero mantissa.
        f64::from_bits(((h + 1023) as u64) << 52)
    } else if h >= -1074 {
        f64::from_bits(1u64 << (h + 1074))
    } else {
        0.0
    }
}

/// The reference's `compute_block_reward(index)`: `50.0 / 2**(index // 210000)`, or `0.0`
/// after 64 halvings or once that is below [`MIN_REWARD`] (from block 6,930,000 on).
///
/// A negative index (never a valid height) follows Python's floor division and gives
/// `50 · 2^|h|`; where Python would divide by zero (`h < -1074`) this returns infinity.
pub fn compute_block_reward(index: i64) -> f64 {
    let halvings = index.div_euclid(HALVING_INTERVAL);
    if halvings >= 64 {
        return 0.0;
    }
    let reward = INITIAL_BLOCK_REWARD / pow2(halvings);
    if reward < MIN_REWARD {
        return 0.0;
    }
    reward
}

/// The reference's `compute_total_supply_at(index)`: the coins minted in blocks
/// `0..=index`, epoch by epoch, capped at [`MAX_SUPPLY`].
pub fn compute_total_supply_at(index: i64) -> f64 {
    let mut total = 0.0;
    let mut remaining = index.saturating_add(1);
    let mut epoch = 0;
    while remaining > 0 && epoch < 64 {
        let reward = INITIAL_BLOCK_REWARD / pow2(epoch);
        if reward < MIN_REWARD {
            break;
        }
        let blocks = remaining.min(HALVING_INTERVAL);
        total += blocks as f64 * reward;
        remaining -= blocks;
        epoch += 1;
    }
    py_min(total, MAX_SUPPLY)
}

/// A contributor's role in a block (`ContributorWork.role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContributorRole {
    /// Found an accepted optimae; paid from the optimizer pool.
    Optimizer,
    /// Verified optimae; paid from the evaluator pool.
    Evaluator,
    /// Made the block (the split ignores generator contributors; see `generator_id`).
    Generator,
}

impl ContributorRole {
    /// The reference's role string.
    pub fn as_str(self) -> &'static str {
        match self {
            ContributorRole::Optimizer => "optimizer",
            ContributorRole::Evaluator => "evaluator",
            ContributorRole::Generator => "generator",
        }
    }

    /// Parses the reference's role string.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "optimizer" => Some(ContributorRole::Optimizer),
            "evaluator" => Some(ContributorRole::Evaluator),
            "generator" => Some(ContributorRole::Generator),
            _ => None,
        }
    }
}

/// The reference's `ContributorWork`: one peer's contribution to a block.
#[derive(Debug, Clone, PartialEq)]
pub struct ContributorWork {
    /// The peer.
    pub peer_id: String,
    /// Its role.
    pub role: ContributorRole,
    /// The domain of the work (copied to the output).
    pub domain_id: String,
    /// Contribution weight (carried, unused by the split).
    pub weight: f64,
    /// Optimizer: its effective increment.
    pub effective_increment: f64,
    /// Optimizer: its incentive reward fraction.
    pub reward_fraction: f64,
    /// Evaluator: whether it agreed with the quorum (disagreeing evaluators get nothing).
    pub agreed_with_quorum: bool,
    /// Evaluator: how many evaluations it completed.
    pub evaluations_completed: i64,
}

impl ContributorWork {
    /// An optimizer with the given effective increment and reward fraction.
    pub fn optimizer(
        peer_id: impl Into<String>,
        domain_id: impl Into<String>,
        effective_increment: f64,
        reward_fraction: f64,
    ) -> Self {
        ContributorWork {
            peer_id: peer_id.into(),
            role: ContributorRole::Optimizer,
            domain_id: domain_id.into(),
            weight: 0.0,
            effective_increment,
            reward_fraction,
            agreed_with_quorum: true,
            evaluations_completed: 0,
        }
    }

    /// An evaluator with the given agreement and number of evaluations.
    pub fn evaluator(
        peer_id: impl Into<String>,
        domain_id: impl Into<String>,
        agreed_with_quorum: bool,
        evaluations_completed: i64,
    ) -> Self {
        ContributorWork {
            peer_id: peer_id.into(),
            role: ContributorRole::Evaluator,
            domain_id: domain_id.into(),
            weight: 0.0,
            effective_increment: 0.0,
            reward_fraction: 0.0,
            agreed_with_quorum,
            evaluations_completed,
        }
    }
}

/// The reference's `distribute_block_reward`: the coinbase of block `block_index`.
///
/// The coinbase's timestamp is left at the Unix epoch: the reference stamps it with the
/// wall clock, the id does not cover it, and a caller that keeps the coinbase sets it
/// (to its block's timestamp, for one).
///
/// One divergence: when no output exists yet and an evaluator pool with no evaluators is
/// to be credited to the first output, the reference raises `IndexError` (it happens for
/// a contributor-less block in the halving epoch of 2.3e-8 coins); this function leaves
/// that pool unpaid instead and returns the (empty) coinbase.
pub fn distribute_block_reward(
    block_index: i64,
    generator_id: &str,
    contributors: &[ContributorWork],
    tx_fees: f64,
) -> CoinbaseTransaction {
    let block_reward = compute_block_reward(block_index);
    let total_reward = block_reward + tx_fees;
    if total_reward <= 0.0 {
        return CoinbaseTransaction {
            block_index,
            block_reward: 0.0,
            outputs: Vec::new(),
            timestamp: Timestamp::EPOCH,
        };
    }

    let mut outputs: Vec<CoinbaseOutput> = Vec::new();

    // 1. The generator: 5 % of reward plus fees, plus the fees again.
    let generator_reward = total_reward * GENERATOR_FEE_FRACTION + tx_fees;
    if generator_reward >= MIN_REWARD {
        outputs.push(CoinbaseOutput::new(
            generator_id,
            generator_reward,
            "block_generator",
            "",
        ));
    }

    let distributable = total_reward - (total_reward * GENERATOR_FEE_FRACTION);
    let optimizers = contributors
        .iter()
        .filter(|c| c.role == ContributorRole::Optimizer);
    let evaluators = contributors
        .iter()
        .filter(|c| c.role == ContributorRole::Evaluator);

    // 2. The optimizer pool, by effective increment times reward fraction.
    let optimizer_pool = distributable * OPTIMIZER_POOL_FRACTION;
    let total_opt_weight = optimizers.clone().fold(0.0, |acc, c| {
        acc + c.effective_increment * c.reward_fraction
    });
    let evaluator_bonus = if total_opt_weight > 0.0 && optimizer_pool >= MIN_REWARD {
        for c in optimizers {
            let weight = c.effective_increment * c.reward_fraction;
            if weight <= 0.0 {
                continue;
            }
            let share = optimizer_pool * (weight / total_opt_weight);
            if share >= MIN_REWARD {
                outputs.push(CoinbaseOutput::new(
                    c.peer_id.clone(),
                    share,
                    "optimizer",
                    c.domain_id.clone(),
                ));
            }
        }
        0.0
    } else if optimizer_pool >= MIN_REWARD {
        // No optimizer weight: the pool moves to the evaluators.
        optimizer_pool
    } else {
        0.0
    };

    // 3. The evaluator pool, by evaluations completed (agreeing evaluators only).
    let evaluator_pool = distributable * EVALUATOR_POOL_FRACTION + evaluator_bonus;
    let total_eval_weight = evaluators.clone().fold(0.0, |acc, c| {
        acc + c.evaluations_completed as f64 * if c.agreed_with_quorum { 1.0 } else { 0.0 }
    });
    if total_eval_weight > 0.0 && evaluator_pool >= MIN_REWARD {
        for c in evaluators {
            if !c.agreed_with_quorum || c.evaluations_completed <= 0 {
                continue;
            }
            let share = evaluator_pool * (c.evaluations_completed as f64 / total_eval_weight);
            if share >= MIN_REWARD {
                outputs.push(CoinbaseOutput::new(
                    c.peer_id.clone(),
                    share,
                    "evaluator",
                    c.domain_id.clone(),
                ));
            }
        }
    } else if evaluator_pool >= MIN_REWARD {
        // No evaluators: the pool goes to the first output (the reference raises here when
        // there is none; see the function documentation).
        if let Some(first) = outputs.first_mut() {
            first.amount += evaluator_pool;
        }
    }

    // 4. Whatever is left goes to the first output.
    let distributed = outputs.iter().fold(0.0, |acc, o| acc + o.amount);
    let remainder = total_reward - distributed;
    if remainder >= MIN_REWARD {
        if let Some(first) = outputs.first_mut() {
            first.amount += remainder;
        }
    }

    CoinbaseTransaction {
        block_index,
        block_reward,
        outputs,
        timestamp: Timestamp::EPOCH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amounts(cb: &CoinbaseTransaction) -> Vec<f64> {
        cb.outputs.iter().map(|o| o.amount).collect()
    }

    #[test]
    fn schedule() {
        assert_eq!(compute_block_reward(0), 50.0);
        assert_eq!(compute_block_reward(210_000), 25.0);
        assert_eq!(compute_block_reward(6_929_999), 1.1641532182693481e-08);
        assert_eq!(compute_block_reward(6_930_000), 0.0);
        assert_eq!(compute_block_reward(-1), 100.0);
        assert_eq!(compute_total_supply_at(0), 50.0);
        assert_eq!(compute_total_supply_at(210_000 * 64), 20999999.99755528);
        assert_eq!(compute_total_supply_at(-5), 0.0);
    }

    #[test]
    fn effective_split_is_9_75_61_75_28_5() {
        let c = [
            ContributorWork::optimizer("o", "d", 1.0, 1.0),
            ContributorWork::evaluator("e", "d", true, 1),
        ];
        let cb = distribute_block_reward(1, "g", &c, 0.0);
        assert_eq!(amounts(&cb), [4.875, 30.875, 14.25]);
        let cb = distribute_block_reward(1, "g", &[], 0.0);
        assert_eq!(amounts(&cb), [50.0]);
        let cb = distribute_block_reward(1, "g", &[], 10.0);
        assert_eq!(amounts(&cb), [67.15]);
    }

    #[test]
    fn reference_crash_path_leaves_pool_unpaid() {
        // Epoch 31 (2.3e-8 coins): no generator output and an evaluator pool to credit.
        let cb = distribute_block_reward(6_600_000, "g", &[], 0.0);
        assert!(cb.outputs.is_empty());
        assert_eq!(cb.block_reward, 2.3283064365386963e-08);
    }
}
