//! The chain parameters of the network this node joins, derived from its config.
//!
//! Every node of a network must derive the same [`ChainParams`] (their hash is compared
//! when peers meet and stored in `chain.db`). Node-local settings (ports, roles, plugin
//! choices) are not part of them; the network-wide ones are: block timing, threshold,
//! quorum size and tolerance, finality depth, rewards, and each domain's weight, metric
//! direction, parameter bounds and incentive curve.

use doin_consensus::params::{ChainParams, DomainParams};
use doin_consensus::reference::IncentiveConfig;

use crate::config::NodeConfig;

/// The chain parameters a config describes.
pub fn chain_params(config: &NodeConfig) -> ChainParams {
    let mut params = ChainParams::solo_default();
    params.target_block_time_secs = config.target_block_time;
    params.initial_threshold = config.initial_threshold;
    params.quorum_min_evaluators = config.quorum_min_evaluators;
    params.quorum_tolerance = config.quorum_tolerance;
    params.finality_depth = u64::from(config.finality_confirmation_depth.max(1));
    params.domains = config
        .domains
        .iter()
        .map(|d| {
            let mut p = DomainParams::new(&d.domain_id, d.higher_is_better);
            p.param_bounds = d.param_bounds.clone();
            p.incentives = IncentiveConfig {
                higher_is_better: d.higher_is_better,
                tolerance_margin: d.incentive_config.tolerance_margin,
                bonus_threshold: d.incentive_config.bonus_threshold,
                min_reward_fraction: d.incentive_config.min_reward_fraction,
                max_bonus_multiplier: d.incentive_config.max_bonus_multiplier,
            };
            p
        })
        .collect();
    params
}
