//! Applying a validated block's summary: difficulty, reputations, domains' bests, balances,
//! rejections, the tip, recent commitments and finality.

use std::collections::BTreeMap;

use crate::difficulty::on_block;
use crate::reputation::{apply_event, ReputationEvent};
use crate::state::ChainState;

use super::BlockSummary;

impl ChainState {
    pub(super) fn apply_summary(&mut self, s: &BlockSummary) {
        let t = s.timestamp_micros;
        let half_life = self.params.reputation_half_life_secs;
        // A commitment block leaves the difficulty as it was: block times are measured
        // between blocks that reach the threshold.
        if !s.optimae.is_empty() {
            self.difficulty = on_block(&self.difficulty, t, &self.params);
        }
        let event = |reps: &mut BTreeMap<String, _>, peer: &str, e: ReputationEvent| {
            let r = reps.entry(peer.to_owned()).or_default();
            *r = apply_event(r, e, t, half_life);
        };
        for o in &s.optimae {
            event(
                &mut self.reputations,
                &o.optimizer_id,
                ReputationEvent::OptimaeAccepted,
            );
            self.peers_seen.insert(o.optimizer_id.clone());
            for (evaluator, agreed) in &o.votes {
                // A divergent voter is not a contributor: a key that only ever voted
                // against its quorum must not be drawn into quorums (bootstrap, stalls).
                let e = if *agreed {
                    self.active_evaluators.insert(evaluator.clone());
                    self.peers_seen.insert(evaluator.clone());
                    ReputationEvent::VoteAgreed
                } else {
                    ReputationEvent::VoteDivergent
                };
                event(&mut self.reputations, evaluator, e);
            }
            let d = self.domains.entry(o.domain_id.clone()).or_default();
            d.best = Some(o.verified_performance);
            d.accepted += 1;
            self.optimae_ids.insert(o.optimae_id.clone());
            self.commitments.insert(o.commitment_hash.clone());
        }
        // A commitment block takes no work to make: its generator contributes nothing.
        if !s.optimae.is_empty() {
            self.peers_seen.insert(s.generator_id.clone());
            self.active_evaluators.insert(s.generator_id.clone());
            self.work_time_micros = t;
        }
        let base_fee = self.base_fee;
        self.apply_transfers(&s.transfers);
        self.apply_channel_ops(&s.channels);
        for out in &s.coinbase.outputs {
            let b = self.balances.entry(out.recipient.clone()).or_default();
            *b = b.saturating_add(out.amount);
        }
        self.apply_rejections(&s.rejections, t, base_fee);
        self.total_minted = self.total_minted.saturating_add(s.coinbase.block_reward);
        self.cumulative_work += s.weighted_sum;
        self.height = s.height;
        self.tip_hash = s.hash.clone();
        self.tip_time_micros = t;
        self.announced.extend(s.commitments.iter().map(|c| c.id()));
        let commitments = s
            .commitments
            .iter()
            .map(|c| {
                let on_chain = crate::commitment::OnChainCommitment {
                    optimizer_id: c.optimizer_id.clone(),
                    domain_id: c.domain_id.clone(),
                };
                (
                    (c.bound_commitment.clone(), c.optimizer_id.clone()),
                    on_chain,
                )
            })
            .collect();
        self.push_recent(commitments, crate::finality::attesters_of(s));
        self.advance_finality();
    }
}
