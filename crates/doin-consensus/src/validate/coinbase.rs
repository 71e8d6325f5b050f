//! The coinbase a block must carry (rule 10 of [`super`]): the block reward split over
//! its accepted optimae's optimizers and agreeing evaluators, plus the tips to the
//! generator; a commitment block earns no reward.

use crate::coinbase::{
    block_reward, compute_coinbase, pay_tips, Coinbase, EvaluatorWork, OptimizerWork,
};
use crate::state::ChainState;

use super::OptimaeOutcome;

impl ChainState {
    pub(super) fn expected_coinbase(
        &self,
        height: u64,
        generator_id: &str,
        outcomes: &[OptimaeOutcome],
        tips: u64,
    ) -> Coinbase {
        let optimizers: Vec<OptimizerWork> = outcomes
            .iter()
            .map(|o| OptimizerWork {
                optimizer_id: o.optimizer_id.clone(),
                domain_id: o.domain_id.clone(),
                effective_increment: o.effective_increment,
            })
            .collect();
        let evaluators: Vec<EvaluatorWork> = outcomes
            .iter()
            .flat_map(|o| {
                o.votes
                    .iter()
                    .filter(|(_, agreed)| *agreed)
                    .map(|(e, _)| EvaluatorWork {
                        evaluator_id: e.clone(),
                        domain_id: o.domain_id.clone(),
                        agreeing_votes: 1,
                    })
            })
            .collect();
        // A commitment block accepts no optimae and earns no block reward.
        let reward = if outcomes.is_empty() {
            0
        } else {
            block_reward(height, &self.params)
        };
        let mut coinbase =
            compute_coinbase(height, reward, 0, generator_id, &optimizers, &evaluators);
        pay_tips(&mut coinbase, generator_id, tips);
        coinbase
    }
}
