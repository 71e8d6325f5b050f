//! Accepted optimae read from blocks: every participant's results, as the chain carries
//! them, for `fact_chain_optimae`.

use doin_consensus::accepted::AcceptedOptimae;
use doin_primitives::cjson::to_cjson;
use doin_primitives::models::{Block, TransactionType};
use doin_primitives::Value;

use crate::model::ChainOptimaeRow;

/// The rows of a block's OPTIMAE_ACCEPTED transactions, in block order, read from the
/// payload keys the reference writes (experiment metrics, `quorum_agree_fraction`,
/// `previous_best_performance`, at the payload's top level). Transactions that do not
/// parse are skipped with a warning (the chain validated them, so this only happens for a
/// block format this version does not know).
pub fn chain_optimae_rows(block: &Block) -> Vec<ChainOptimaeRow> {
    let mut rows = Vec::new();
    for tx in &block.transactions {
        if tx.tx_type != TransactionType::OptimaeAccepted {
            continue;
        }
        let a = match AcceptedOptimae::from_tx(tx) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(block = block.header.index, tx = %tx.id, "accepted optimae not readable for stats: {e}");
                continue;
            }
        };
        rows.push(ChainOptimaeRow {
            optimae_id: a.optimae_id,
            domain_id: a.domain_id,
            optimizer_id: a.optimizer_id,
            experiment_id: a.experiment.experiment_id,
            round_number: a.experiment.round_number,
            parameters: to_cjson(&Value::Object(a.parameters)),
            reported_performance: a.reported_performance,
            verified_performance: a.verified_performance,
            effective_increment: a.effective_increment,
            time_to_this_result_seconds: a.experiment.time_to_this_result_seconds,
            optimization_config_hash: a.experiment.optimization_config_hash,
            data_hash: a.experiment.data_hash,
            previous_best_performance: a.previous_best_performance,
            reward_fraction: a.reward_fraction,
            quorum_agree_fraction: Some(a.quorum_agree_fraction),
            block_height: block.header.index,
            block_timestamp: block.header.timestamp.isoformat(),
        });
    }
    rows
}
