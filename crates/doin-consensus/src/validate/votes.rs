//! Quorum votes an optimae carries: each from a member (or, on a young chain, an extra
//! voter that never decides), none twice, about the optimae with its evaluator's seed and
//! sealed, every member present; then the members' 2/3 decision.

use std::collections::BTreeSet;

use doin_primitives::seal::SealKind;

use crate::accepted::AcceptedOptimae;
use crate::error::ConsensusError;
use crate::quorum::{counted_votes, decide_counted, QuorumDecision};
use crate::state::ChainState;
use crate::vote::{QuorumVote, VoteSubject};

impl ChainState {
    /// Checks the votes of an optimae against its quorum and decides it.
    pub(super) fn check_votes(
        &self,
        a: &AcceptedOptimae,
        domain_id: &str,
        at_micros: i64,
    ) -> Result<QuorumDecision, ConsensusError> {
        let quorum = self.quorum_for_at(domain_id, &a.optimizer_id, a.commit_height, at_micros)?;
        let subject = VoteSubject {
            optimae_id: &a.optimae_id,
            domain_id,
            commitment_hash: &a.commitment_hash,
            seed_block_hash: self.seed_block_hash(a.commit_height)?,
        };
        let young = self.is_young(&a.optimizer_id, a.commit_height);
        let max_votes = quorum.len() + self.params.quorum_min_evaluators as usize;
        if a.votes.len() > max_votes {
            return Err(ConsensusError::VoteFromOutsider(format!(
                "{} votes where at most {max_votes} may count",
                a.votes.len()
            )));
        }
        // A young chain also records other evaluators' votes (they never decide).
        let extra_allowed = |evaluator: &str| young && evaluator != a.optimizer_id;
        self.check_vote_list(&a.votes, &quorum, &subject, extra_allowed)?;
        self.decide_votes(&quorum, &a.optimizer_id, a.reported_performance, &a.votes)
    }

    /// Checks the votes an optimae carries (accepted or rejected) against its quorum: each
    /// voter a member or one `extra_allowed` admits, none twice, each vote about `subject`
    /// with its evaluator's seed and sealed by it, and every member present.
    pub(crate) fn check_vote_list(
        &self,
        votes: &[QuorumVote],
        quorum: &[String],
        subject: &VoteSubject<'_>,
        extra_allowed: impl Fn(&str) -> bool,
    ) -> Result<(), ConsensusError> {
        let mut voted: BTreeSet<&str> = BTreeSet::new();
        for v in votes {
            let evaluator = v.evaluator_id.as_str();
            if !quorum.iter().any(|q| q == evaluator) && !extra_allowed(evaluator) {
                return Err(ConsensusError::VoteFromOutsider(evaluator.to_owned()));
            }
            if !voted.insert(evaluator) {
                return Err(ConsensusError::DuplicateVote(evaluator.to_owned()));
            }
            v.check_subject(subject)?;
            self.check_seal(v.seal.as_ref(), SealKind::Vote, &v.id(), evaluator)
                .map_err(|e| ConsensusError::BadVoteSeal {
                    evaluator: evaluator.to_owned(),
                    reason: e.to_string(),
                })?;
        }
        if let Some(missing) = quorum.iter().find(|q| !voted.contains(q.as_str())) {
            return Err(ConsensusError::MissingVote(missing.clone()));
        }
        Ok(())
    }

    /// The quorum's decision on votes already checked against it: the members' votes
    /// decide ([`counted_votes`]); a rejection is [`ConsensusError::QuorumRejected`].
    pub(super) fn decide_votes(
        &self,
        quorum: &[String],
        optimizer_id: &str,
        reported: f64,
        votes: &[QuorumVote],
    ) -> Result<QuorumDecision, ConsensusError> {
        let voters: Vec<&str> = votes.iter().map(|v| v.evaluator_id.as_str()).collect();
        let counted = counted_votes(quorum, optimizer_id, &voters);
        let perfs: Vec<f64> = votes.iter().map(|v| v.verified_performance).collect();
        let decision = decide_counted(&perfs, &counted, reported, self.params.quorum_tolerance)
            .ok_or_else(|| ConsensusError::MissingVote(optimizer_id.to_owned()))?;
        if !decision.accepted {
            return Err(ConsensusError::QuorumRejected {
                agree: decision.agree_count,
                votes: counted.iter().filter(|c| **c).count(),
                report_divergence: decision.report_divergence,
            });
        }
        Ok(decision)
    }
}
