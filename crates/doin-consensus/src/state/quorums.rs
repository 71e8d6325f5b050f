//! The recent window of blocks the state keeps (hashes, eligible evaluators, commitments,
//! attesters) and the quorums drawn from it: the commit-height window, the eligibility and
//! young-chain bootstrap rules, the liveness rule after a stall, and the seeds bound to a
//! commit block.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::ConsensusError;
use crate::quorum::{select_quorum, selection_seed, synthetic_seed};
use crate::reputation::meets_minimum;

use super::{ChainState, RecentBlock};

impl ChainState {
    /// The hash of a recent block (the last `max(max_commit_age_blocks, 2 * finality_depth)
    /// + 1` blocks are kept).
    pub fn recent_block_hash(&self, height: u64) -> Option<&str> {
        self.recent_block(height).map(|b| b.hash.as_str())
    }

    pub(crate) fn recent_block(&self, height: u64) -> Option<&RecentBlock> {
        let first = self.recent.front()?.height;
        let i = usize::try_from(height.checked_sub(first)?).ok()?;
        self.recent.get(i).map(|b| &**b)
    }

    /// The evaluators eligible for quorums seeded at recent block `height`.
    ///
    /// Rule: peers that generated a block or cast a vote agreeing with its quorum, with a
    /// reputation (decayed to that block's time) of at least `min_reputation_micro`, in
    /// ascending id order. Bootstrap for a young chain: while fewer than
    /// `quorum_min_evaluators` peers qualify, every peer that contributed on chain
    /// (generated a block, had an optimae accepted, or cast an agreeing vote; a peer seen
    /// only voting against its quorum is not one) is eligible; with no peer other than the optimizer, the quorum
    /// falls back to the solo rule ([`crate::quorum::select_quorum`]).
    pub fn eligible_evaluators(&self, height: u64) -> Option<&[String]> {
        self.recent_block(height).map(|b| b.eligible.as_slice())
    }

    fn compute_eligible(&self) -> Vec<String> {
        let qualified: Vec<String> = self
            .active_evaluators
            .iter()
            .filter(|p| meets_minimum(self.reputation(p), &self.params))
            .cloned()
            .collect();
        if qualified.len() < self.params.quorum_min_evaluators as usize {
            self.peers_seen.iter().cloned().collect()
        } else {
            qualified
        }
    }

    pub(crate) fn recent_window(&self) -> usize {
        let w = self
            .params
            .max_commit_age_blocks
            .max(2 * self.params.finality_depth)
            .saturating_add(1);
        usize::try_from(w).unwrap_or(usize::MAX)
    }

    /// Records the tip, carrying `commitments`, in the recent window (after the tip's
    /// fields are updated).
    pub(crate) fn push_recent(
        &mut self,
        commitments: BTreeMap<(String, String), crate::commitment::OnChainCommitment>,
        attesters: Vec<(String, u64)>,
    ) {
        let eligible = self.compute_eligible();
        self.recent.push_back(Arc::new(RecentBlock {
            height: self.height,
            hash: self.tip_hash.clone(),
            eligible,
            commitments,
            attesters,
            weights: None,
        }));
        if crate::finality::is_checkpoint(self.height, self.params.finality_depth) {
            let w =
                crate::finality::weights_at(&self.recent, self.height, self.params.finality_depth);
            if let Some(b) = self.recent.back_mut() {
                Arc::make_mut(b).weights = Some(w);
            }
        }
        while self.recent.len() > self.recent_window() {
            self.recent.pop_front();
        }
    }

    /// The hash of the block at `commit_height`, if it is a valid commit height for a
    /// transaction included in the next block: one of the last `max_commit_age_blocks`
    /// blocks up to and including the tip.
    pub fn seed_block_hash(&self, commit_height: u64) -> Result<&str, ConsensusError> {
        let next = self.height + 1;
        let max_age = self.params.max_commit_age_blocks;
        let out_of_window = ConsensusError::CommitHeightOutOfWindow {
            commit_height,
            height: next,
            max_age,
        };
        if commit_height >= next || next - commit_height > max_age {
            return Err(out_of_window);
        }
        self.recent_block_hash(commit_height).ok_or(out_of_window)
    }

    /// The quorum that must verify an optimae of `domain_id` committed at `commit_height`
    /// (for inclusion in the next block).
    pub fn quorum_for(
        &self,
        domain_id: &str,
        optimizer_id: &str,
        commit_height: u64,
    ) -> Result<Vec<String>, ConsensusError> {
        self.quorum_for_at(domain_id, optimizer_id, commit_height, self.tip_time_micros)
    }

    /// How long without a block (chain time) makes the chain *stalled*: ten target block
    /// times.
    pub fn stall_micros(&self) -> i64 {
        (self.params.target_block_time_secs * 10.0 * 1e6) as i64
    }

    /// Whether a block timestamped `at_micros` follows a stall of the chain: no block that
    /// reached the threshold for [`ChainState::stall_micros`] (commitment blocks, which
    /// anyone may mint, do not count).
    pub fn is_stalled(&self, at_micros: i64) -> bool {
        at_micros.saturating_sub(self.work_time_micros) >= self.stall_micros()
    }

    /// The quorum for an optimae of `domain_id` committed at `commit_height` and included in
    /// a block timestamped `at_micros` (selection: [`crate::quorum`]).
    ///
    /// Liveness rule: after a stall ([`ChainState::is_stalled`]) the quorum is drawn from
    /// every peer that contributed on chain (see [`ChainState::eligible_evaluators`]), not
    /// only the evaluators above the minimum reputation, with a seed that changes with every
    /// whole stall period ([`crate::quorum::stalled_selection_seed`]), so that a few dead
    /// evaluators cannot halt the chain for good. The stall is measured with the including
    /// block's timestamp, which validators bound by their clock, so a generator cannot fake
    /// it without waiting it out.
    pub fn quorum_for_at(
        &self,
        domain_id: &str,
        optimizer_id: &str,
        commit_height: u64,
        at_micros: i64,
    ) -> Result<Vec<String>, ConsensusError> {
        let seed_block = self.seed_block_hash(commit_height)?;
        let seed = selection_seed(seed_block, domain_id);
        if self.is_stalled(at_micros) {
            let periods =
                at_micros.saturating_sub(self.work_time_micros) / self.stall_micros().max(1);
            let seed = crate::quorum::stalled_selection_seed(&seed, periods);
            let everyone: Vec<&String> = self.peers_seen.iter().collect();
            return Ok(select_quorum(
                &seed,
                optimizer_id,
                &everyone,
                self.params.quorum_min_evaluators,
            ));
        }
        let eligible = self.eligible_evaluators(commit_height).unwrap_or(&[]);
        Ok(select_quorum(
            &seed,
            optimizer_id,
            eligible,
            self.params.quorum_min_evaluators,
        ))
    }

    /// Whether the chain is still *young* for an optimae committed at `commit_height`: a
    /// network chain (`quorum_min_evaluators > 0`) on which fewer than
    /// `quorum_min_evaluators` evaluators other than the optimizer are eligible.
    ///
    /// Bootstrap rule: on a young chain the quorum is whoever is eligible (the optimizer
    /// itself when nobody else is), and signed votes of any other evaluator are admitted as
    /// well (at most `quorum_min_evaluators` of them), with the same seed and seal rules.
    /// They decide nothing unless the quorum is the optimizer alone
    /// ([`crate::quorum::counted_votes`]): they are judged against the quorum's median, and
    /// an agreeing voter appears on chain, earns reputation, becomes eligible, and from
    /// then on quorums are drawn from other nodes only.
    pub fn is_young(&self, optimizer_id: &str, commit_height: u64) -> bool {
        let k = self.params.quorum_min_evaluators as usize;
        if k == 0 {
            return false;
        }
        let others = self
            .eligible_evaluators(commit_height)
            .unwrap_or(&[])
            .iter()
            .filter(|e| *e != optimizer_id)
            .count();
        others < k
    }

    /// The synthetic-data seed `evaluator_id` must use for an optimae committed at
    /// `commit_height`.
    pub fn synthetic_seed_for(
        &self,
        commitment_hash: &str,
        domain_id: &str,
        evaluator_id: &str,
        commit_height: u64,
    ) -> Result<u64, ConsensusError> {
        let seed_block = self.seed_block_hash(commit_height)?;
        Ok(synthetic_seed(
            commitment_hash,
            domain_id,
            evaluator_id,
            seed_block,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::ChainParams;
    use crate::reputation::Reputation;
    use doin_primitives::models::GENESIS_HASH;

    #[test]
    fn a_stalled_chain_draws_quorums_from_every_peer_seen() {
        let mut params = ChainParams::solo_default();
        params.quorum_min_evaluators = 1;
        params.target_block_time_secs = 10.0;
        let mut s = ChainState::new(params);
        s.tip_time_micros = 1_000_000_000;
        s.work_time_micros = s.tip_time_micros;
        s.peers_seen = ["a", "dead", "c"].iter().map(|p| p.to_string()).collect();
        // Only "dead" is eligible by reputation at the tip.
        if let Some(r) = s.recent.back_mut() {
            Arc::make_mut(r).eligible = vec!["dead".to_owned()];
        }
        let normal = s
            .quorum_for_at("d", "a", 0, s.tip_time_micros + 1)
            .expect("quorum");
        assert_eq!(normal, vec!["dead".to_owned()]);
        let stalled_at = s.tip_time_micros + s.stall_micros();
        assert!(s.is_stalled(stalled_at) && !s.is_stalled(stalled_at - 1));
        let mut picked = std::collections::BTreeSet::new();
        for i in 0..40 {
            let q = s
                .quorum_for_at(&format!("domain-{i}"), "a", 0, stalled_at)
                .expect("quorum");
            assert_eq!(q.len(), 1);
            assert_ne!(q[0], "a", "never the optimizer itself");
            picked.insert(q[0].clone());
        }
        assert!(
            picked.contains("c"),
            "live peers can be drawn after a stall: {picked:?}"
        );
        // Commitment blocks since (they move the tip, not the work) do not end the stall.
        s.tip_time_micros = stalled_at - 1;
        assert!(s.is_stalled(stalled_at));
    }

    #[test]
    fn commit_height_window() {
        let s = ChainState::new(ChainParams::solo_default());
        assert_eq!(s.seed_block_hash(0), Ok(GENESIS_HASH));
        assert!(matches!(
            s.seed_block_hash(1),
            Err(ConsensusError::CommitHeightOutOfWindow { .. })
        ));
    }

    #[test]
    fn solo_quorum_is_the_optimizer() {
        let s = ChainState::new(ChainParams::solo_default());
        assert_eq!(s.quorum_for("d", "me", 0), Ok(vec!["me".to_owned()]));
    }

    #[test]
    fn eligibility_bootstrap_then_reputation() {
        let mut p = ChainParams::solo_default();
        p.quorum_min_evaluators = 2;
        let mut s = ChainState::new(p);
        s.peers_seen
            .extend(["a".to_owned(), "b".to_owned(), "c".to_owned()]);
        s.active_evaluators.insert("a".into());
        // Fewer than 2 qualify: everyone seen is eligible.
        assert_eq!(s.compute_eligible(), ["a", "b", "c"]);
        for p in ["a", "b"] {
            s.active_evaluators.insert(p.into());
            s.reputations.insert(
                p.into(),
                Reputation {
                    score: 2_000_000,
                    last_update_micros: 0,
                },
            );
        }
        assert_eq!(s.compute_eligible(), ["a", "b"]);
    }
}
