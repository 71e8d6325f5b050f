//! Builders of valid chains for the tests and the benchmark.
#![allow(dead_code, unreachable_pub)]

use doin_primitives::map;
use doin_primitives::merkle::merkle_root;
use doin_primitives::models::{Block, BlockHeader, Transaction, TransactionType};
use doin_primitives::Timestamp;

/// A valid block on top of (`tip`, `tip_hash`) with `txs` accepted-optimae transactions.
/// `salt` makes transaction ids differ between otherwise equal blocks.
pub fn next_block(tip: i64, tip_hash: &str, txs: usize, salt: i64) -> Block {
    let index = tip + 1;
    let timestamp = Timestamp::from_unix_secs(1_700_000_000 + index * 60);
    let transactions: Vec<Transaction> = (0..txs)
        .map(|n| {
            Transaction::new(
                TransactionType::OptimaeAccepted,
                "quadratic",
                format!("peer{:036}", n),
                map! {
                    "optimae_id" => format!("opt-{index}-{n}-{salt}"),
                    "effective_increment" => 0.25 + n as f64,
                    "parameters" => map! { "x" => 1.5, "steps" => index },
                },
                timestamp,
            )
        })
        .collect();
    block_with(tip, tip_hash, transactions)
}

/// A block on top of (`tip`, `tip_hash`) carrying `transactions`, with a correct merkle root
/// and hash.
pub fn block_with(tip: i64, tip_hash: &str, transactions: Vec<Transaction>) -> Block {
    let index = tip + 1;
    let ids: Vec<&str> = transactions.iter().map(|t| t.id.as_str()).collect();
    let header = BlockHeader {
        index,
        previous_hash: tip_hash.to_owned(),
        timestamp: Timestamp::from_unix_secs(1_700_000_000 + index * 60),
        merkle_root: merkle_root(&ids),
        generator_id: "generator-peer".into(),
        weighted_performance_sum: 1.25,
        threshold: 1.0,
    };
    Block::new(header, transactions)
}

/// `n` valid blocks following (`tip`, `tip_hash`).
pub fn chain_after(tip: i64, tip_hash: &str, n: usize, txs: usize) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::with_capacity(n);
    let (mut index, mut hash) = (tip, tip_hash.to_owned());
    for _ in 0..n {
        let b = next_block(index, &hash, txs, 0);
        index = b.header.index;
        hash.clone_from(&b.hash);
        out.push(b);
    }
    out
}
