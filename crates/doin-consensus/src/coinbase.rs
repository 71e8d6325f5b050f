//! Block rewards and the coinbase, in integer base units (1 DOIN = 10^8 units).
//!
//! The coinbase rides in the block extension `"coinbase"`:
//! `{"block_index", "block_reward", "fees", "outputs": [{"recipient", "amount", "role",
//! "domain_id"}]}`. It is fully determined by the block's content, so validators recompute
//! it and require equality; the block hash does not need to cover it.
//!
//! **Split.** With `R = reward + fees`: generator pool `R*5/100`, optimizer pool
//! `R*65/100`, evaluator pool the rest (exactly 5/65/30 whenever `R` is a multiple of 20).
//! The optimizer pool is shared pro rata to `floor(effective_increment * 1e12)` summed per
//! optimizer, the evaluator pool pro rata to each evaluator's agreeing votes; shares are
//! floored and each pool's remainder goes to its largest-weight recipient (first on ties).
//! A pool without recipients goes to the generator. Outputs: generator first, then
//! optimizers and evaluators in order of first appearance; zero amounts are omitted. The
//! outputs always sum to `R`.

use doin_primitives::fields::{Fields, ModelError};
use doin_primitives::map;
use doin_primitives::value::Value;

use crate::params::ChainParams;

/// The block extension key of the coinbase.
pub const COINBASE_KEY: &str = "coinbase";

/// The block reward: `initial >> (index / halving_interval)`, 0 after 64 halvings
/// (a zero interval never halves).
pub fn block_reward(index: u64, params: &ChainParams) -> u64 {
    let halvings = index.checked_div(params.halving_interval).unwrap_or(0);
    if halvings >= 64 {
        0
    } else {
        params.initial_block_reward >> halvings
    }
}

/// Who an output pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An optimizer whose optimae the block accepts.
    Optimizer,
    /// An evaluator whose vote agreed with its quorum.
    Evaluator,
    /// The block's generator.
    Generator,
}

impl Role {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Optimizer => "optimizer",
            Role::Evaluator => "evaluator",
            Role::Generator => "generator",
        }
    }

    /// Parses a wire value.
    pub fn parse(s: &str) -> Option<Self> {
        [Role::Optimizer, Role::Evaluator, Role::Generator]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// One payment of a coinbase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoinbaseOutput {
    /// The peer paid.
    pub recipient: String,
    /// Base units.
    pub amount: u64,
    /// Why.
    pub role: Role,
    /// The domain of the work (empty for the generator).
    pub domain_id: String,
}

/// A block's newly minted reward and collected fees, and where they go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coinbase {
    /// The block's height.
    pub block_index: u64,
    /// Newly minted base units.
    pub block_reward: u64,
    /// Fees collected (base units).
    pub fees: u64,
    /// The payments; they sum to `block_reward + fees`.
    pub outputs: Vec<CoinbaseOutput>,
}

/// An optimizer's work in a block.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerWork {
    /// The optimizer.
    pub optimizer_id: String,
    /// The domain.
    pub domain_id: String,
    /// The accepted optimae's effective increment.
    pub effective_increment: f64,
}

/// An evaluator's work in a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluatorWork {
    /// The evaluator.
    pub evaluator_id: String,
    /// The domain.
    pub domain_id: String,
    /// Its votes agreeing with their quorum.
    pub agreeing_votes: u64,
}

/// An optimizer's weight: `floor(effective_increment * 1e12)`, 0 for non-positive values.
pub fn optimizer_weight(effective_increment: f64) -> u128 {
    let w = (effective_increment * 1e12).floor();
    if w >= 1.0 {
        w as u128
    } else {
        0
    }
}

/// Shares `pool` pro rata to `weights` (floor), the remainder to the largest weight (first
/// on ties). `None` when no weight is positive.
pub fn split_pro_rata(pool: u64, weights: &[u128]) -> Option<Vec<u64>> {
    let total: u128 = weights.iter().sum();
    if total == 0 {
        return None;
    }
    let mut shares: Vec<u64> = weights
        .iter()
        .map(|w| (u128::from(pool) * w / total) as u64)
        .collect();
    let paid: u64 = shares.iter().sum();
    let mut largest = 0;
    for (i, w) in weights.iter().enumerate() {
        if *w > weights[largest] {
            largest = i;
        }
    }
    shares[largest] += pool - paid;
    Some(shares)
}

/// Sums weights per recipient in order of first appearance.
fn aggregate<'a>(
    items: impl Iterator<Item = (&'a str, &'a str, u128)>,
) -> Vec<(String, String, u128)> {
    let mut out: Vec<(String, String, u128)> = Vec::new();
    for (who, domain, w) in items {
        match out.iter_mut().find(|(r, _, _)| r == who) {
            Some(entry) => entry.2 += w,
            None => out.push((who.to_owned(), domain.to_owned(), w)),
        }
    }
    out
}

/// The coinbase of block `index` (see the module doc for the split).
pub fn compute_coinbase(
    index: u64,
    reward: u64,
    fees: u64,
    generator_id: &str,
    optimizers: &[OptimizerWork],
    evaluators: &[EvaluatorWork],
) -> Coinbase {
    let total = reward + fees;
    let generator_pool = total * 5 / 100;
    let optimizer_pool = total * 65 / 100;
    let evaluator_pool = total - generator_pool - optimizer_pool;
    let mut to_generator = generator_pool;
    let mut outputs = Vec::new();

    let pools = [
        (
            Role::Optimizer,
            optimizer_pool,
            aggregate(optimizers.iter().map(|o| {
                (
                    o.optimizer_id.as_str(),
                    o.domain_id.as_str(),
                    optimizer_weight(o.effective_increment),
                )
            })),
        ),
        (
            Role::Evaluator,
            evaluator_pool,
            aggregate(evaluators.iter().map(|e| {
                (
                    e.evaluator_id.as_str(),
                    e.domain_id.as_str(),
                    u128::from(e.agreeing_votes),
                )
            })),
        ),
    ];
    for (role, pool, recipients) in pools {
        let weights: Vec<u128> = recipients.iter().map(|r| r.2).collect();
        match split_pro_rata(pool, &weights) {
            Some(shares) => {
                for ((recipient, domain_id, _), amount) in recipients.into_iter().zip(shares) {
                    if amount > 0 {
                        outputs.push(CoinbaseOutput {
                            recipient,
                            amount,
                            role,
                            domain_id,
                        });
                    }
                }
            }
            None => to_generator += pool,
        }
    }
    if to_generator > 0 {
        outputs.insert(
            0,
            CoinbaseOutput {
                recipient: generator_id.to_owned(),
                amount: to_generator,
                role: Role::Generator,
                domain_id: String::new(),
            },
        );
    }
    Coinbase {
        block_index: index,
        block_reward: reward,
        fees,
        outputs,
    }
}

/// Pays the block's transfer tips to its generator: `fees += tips` and the generator's
/// output grows by `tips` (one is put first if the coinbase has none), so the outputs still
/// sum to `block_reward + fees`.
pub fn pay_tips(coinbase: &mut Coinbase, generator_id: &str, tips: u64) {
    if tips == 0 {
        return;
    }
    coinbase.fees += tips;
    match coinbase
        .outputs
        .iter_mut()
        .find(|o| o.role == Role::Generator && o.recipient == generator_id)
    {
        Some(o) => o.amount += tips,
        None => coinbase.outputs.insert(
            0,
            CoinbaseOutput {
                recipient: generator_id.to_owned(),
                amount: tips,
                role: Role::Generator,
                domain_id: String::new(),
            },
        ),
    }
}

impl Coinbase {
    /// The extension object.
    pub fn to_value(&self) -> Value {
        let outputs: Vec<Value> = self
            .outputs
            .iter()
            .map(|o| {
                Value::Object(map! {
                    "recipient" => o.recipient.clone(),
                    "amount" => o.amount,
                    "role" => o.role.as_str(),
                    "domain_id" => o.domain_id.clone(),
                })
            })
            .collect();
        Value::Object(map! {
            "block_index" => self.block_index,
            "block_reward" => self.block_reward,
            "fees" => self.fees,
            "outputs" => outputs,
        })
    }

    /// Reads the extension object (amounts must be non-negative integers).
    pub fn from_value(v: &Value) -> Result<Self, ModelError> {
        let f = Fields::new("Coinbase", v)?;
        let outputs = f
            .list_or_empty("outputs")?
            .iter()
            .map(|o| {
                let g = Fields::new("CoinbaseOutput", o)?;
                Ok(CoinbaseOutput {
                    recipient: g.str("recipient")?,
                    amount: units(&g, "CoinbaseOutput", "amount")?,
                    role: g.enum_of("role", Role::parse)?,
                    domain_id: g.str_or("domain_id", "")?,
                })
            })
            .collect::<Result<Vec<_>, ModelError>>()?;
        Ok(Coinbase {
            block_index: units(&f, "Coinbase", "block_index")?,
            block_reward: units(&f, "Coinbase", "block_reward")?,
            fees: units(&f, "Coinbase", "fees")?,
            outputs,
        })
    }

    /// Sum of the outputs.
    pub fn total_out(&self) -> u128 {
        self.outputs.iter().map(|o| u128::from(o.amount)).sum()
    }
}

/// A required non-negative JSON integer (floats refused: money is never a float).
fn units(f: &Fields<'_>, model: &'static str, field: &'static str) -> Result<u64, ModelError> {
    let invalid = |reason: String| ModelError::Invalid {
        model,
        field,
        reason,
    };
    match f.get(field) {
        None => Err(ModelError::Missing { model, field }),
        Some(Value::Int(i)) => {
            u64::try_from(*i).map_err(|_| invalid(format!("must be >= 0, got {i}")))
        }
        Some(Value::BigInt(t)) => t
            .parse::<u64>()
            .map_err(|_| invalid(format!("out of the u64 range: {t}"))),
        Some(other) => Err(invalid(format!(
            "expected an integer, got {}",
            other.type_name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tips_go_to_the_generator_and_keep_the_sum() {
        let mut cb = compute_coinbase(1, 1_000, 0, "gen", &[], &[]);
        pay_tips(&mut cb, "gen", 70);
        assert_eq!(cb.fees, 70);
        assert_eq!(cb.outputs.len(), 1);
        assert_eq!(cb.outputs[0].amount, 1_070);
        assert_eq!(cb.total_out(), u128::from(cb.block_reward + cb.fees));
        let mut empty = compute_coinbase(1, 0, 0, "gen", &[], &[]);
        assert!(empty.outputs.is_empty());
        pay_tips(&mut empty, "gen", 5);
        assert_eq!(empty.outputs[0].role, Role::Generator);
        assert_eq!(empty.total_out(), 5);
    }

    fn opt(id: &str, eff: f64) -> OptimizerWork {
        OptimizerWork {
            optimizer_id: id.into(),
            domain_id: "d".into(),
            effective_increment: eff,
        }
    }

    fn ev(id: &str, n: u64) -> EvaluatorWork {
        EvaluatorWork {
            evaluator_id: id.into(),
            domain_id: "d".into(),
            agreeing_votes: n,
        }
    }

    #[test]
    fn reward_halves_and_ends() {
        let p = ChainParams::solo_default();
        assert_eq!(block_reward(0, &p), 5_000_000_000);
        assert_eq!(block_reward(209_999, &p), 5_000_000_000);
        assert_eq!(block_reward(210_000, &p), 2_500_000_000);
        assert_eq!(block_reward(210_000 * 32, &p), 1);
        assert_eq!(block_reward(210_000 * 33, &p), 0);
        assert_eq!(block_reward(210_000 * 64, &p), 0);
        let mut q = p.clone();
        q.halving_interval = 0;
        assert_eq!(block_reward(u64::MAX, &q), 5_000_000_000);
    }

    #[test]
    fn split_is_exactly_5_65_30() {
        let cb = compute_coinbase(1, 5_000_000_000, 0, "g", &[opt("o", 0.5)], &[ev("e", 1)]);
        let amounts: Vec<(Role, u64)> = cb.outputs.iter().map(|o| (o.role, o.amount)).collect();
        assert_eq!(
            amounts,
            [
                (Role::Generator, 250_000_000),
                (Role::Optimizer, 3_250_000_000),
                (Role::Evaluator, 1_500_000_000)
            ]
        );
    }

    #[test]
    fn pro_rata_with_remainder_to_the_largest() {
        assert_eq!(split_pro_rata(10, &[1, 2]), Some(vec![3, 7]));
        assert_eq!(split_pro_rata(10, &[1, 1, 1]), Some(vec![4, 3, 3]));
        assert_eq!(split_pro_rata(10, &[0, 0]), None);
        let cb = compute_coinbase(
            1,
            100,
            0,
            "g",
            &[opt("a", 0.1), opt("b", 0.2), opt("a", 0.1)],
            &[],
        );
        // Optimizer pool 65 shared 1:1 between a (0.1+0.1) and b (0.2); evaluator pool to g.
        assert_eq!(cb.outputs[0].amount, 5 + 30);
        assert_eq!(
            (cb.outputs[1].recipient.as_str(), cb.outputs[1].amount),
            ("a", 33)
        );
        assert_eq!(
            (cb.outputs[2].recipient.as_str(), cb.outputs[2].amount),
            ("b", 32)
        );
    }

    #[test]
    fn empty_pools_go_to_the_generator_and_zero_reward_pays_nobody() {
        let cb = compute_coinbase(1, 100, 7, "g", &[], &[]);
        assert_eq!(cb.outputs.len(), 1);
        assert_eq!(cb.outputs[0].amount, 107);
        assert!(compute_coinbase(1, 0, 0, "g", &[opt("o", 1.0)], &[])
            .outputs
            .is_empty());
        assert_eq!(optimizer_weight(-1.0), 0);
        assert_eq!(optimizer_weight(0.5), 500_000_000_000);
    }

    #[test]
    fn wire_round_trip_and_float_amounts_refused() {
        let cb = compute_coinbase(3, 5_000_000_000, 0, "g", &[opt("o", 0.5)], &[ev("e", 2)]);
        assert_eq!(Coinbase::from_value(&cb.to_value()), Ok(cb.clone()));
        let mut v = cb.to_value();
        if let Value::Object(m) = &mut v {
            m.insert("fees".into(), Value::Float(0.0));
        }
        assert!(Coinbase::from_value(&v).is_err());
    }

    proptest! {
        #[test]
        fn outputs_always_sum_to_reward_plus_fees(
            reward in 0u64..=5_000_000_000_000,
            fees in 0u64..1_000_000_000,
            effs in proptest::collection::vec(-1.0f64..2.0, 0..6),
            votes in proptest::collection::vec(0u64..5, 0..6),
        ) {
            let optimizers: Vec<OptimizerWork> = effs.iter().enumerate()
                .map(|(i, e)| opt(&format!("o{}", i % 3), *e)).collect();
            let evaluators: Vec<EvaluatorWork> = votes.iter().enumerate()
                .map(|(i, n)| ev(&format!("e{}", i % 4), *n)).collect();
            let cb = compute_coinbase(1, reward, fees, "g", &optimizers, &evaluators);
            prop_assert_eq!(cb.total_out(), u128::from(reward + fees));
            prop_assert!(cb.outputs.iter().all(|o| o.amount > 0));
        }
    }
}
