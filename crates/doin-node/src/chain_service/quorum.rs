//! Commitments and quorums: where an optimizer's bound commitment landed on chain, and the
//! evaluators the block carrying it draws, all computed from chain data
//! ([`doin_consensus::commitment`]).

use doin_consensus::ChainState;

use super::service::Service;

/// The evaluators an optimae must be verified by, and the chain data they derive from.
#[derive(Debug, Clone)]
pub struct QuorumPlan {
    /// The height of the block that carries the optimae's commitment.
    pub commit_height: u64,
    /// The hash of that block (quorum selection and synthetic seeds derive from it).
    pub seed_block_hash: String,
    /// The selected evaluators.
    pub quorum: Vec<String>,
    /// Whether the chain is young for this optimae: other evaluators' votes count too
    /// (see `ChainState::is_young`), so the optimizer also offers open tasks.
    pub young: bool,
    /// How many extra (open) votes a young chain counts.
    pub extra_votes: usize,
}

/// Where a commitment is on chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedAt {
    /// The height of the block that carries it.
    pub height: u64,
    /// That block's hash.
    pub block_hash: String,
    /// Who committed it.
    pub optimizer_id: String,
    /// Its domain.
    pub domain_id: String,
}

/// The quorum an optimae of `optimizer_id` whose commitment the block at `commit_height`
/// of `state` carries must be verified by, drawn at `now_micros` (the chain service's, and
/// the simulator's, quorum plan).
pub fn plan_quorum(
    state: &ChainState,
    domain_id: &str,
    optimizer_id: &str,
    commit_height: u64,
    now_micros: i64,
) -> Result<QuorumPlan, String> {
    if state.params().domain(domain_id).is_none() {
        return Err(format!("domain {domain_id} is not a domain of this chain"));
    }
    let seed_block_hash = state
        .seed_block_hash(commit_height)
        .map_err(|e| e.to_string())?
        .to_owned();
    let quorum = state
        .quorum_for_at(domain_id, optimizer_id, commit_height, now_micros)
        .map_err(|e| e.to_string())?;
    let young = state.is_young(optimizer_id, commit_height);
    Ok(QuorumPlan {
        commit_height,
        seed_block_hash,
        quorum,
        young,
        extra_votes: if young {
            state.params().quorum_min_evaluators as usize
        } else {
            0
        },
    })
}

/// Where `optimizer_id`'s bound commitment `bound` is among the recent blocks of `state`.
pub fn committed_at(state: &ChainState, bound: &str, optimizer_id: &str) -> Option<CommittedAt> {
    state
        .bound_committed_at(bound, optimizer_id)
        .and_then(|(height, c)| {
            Some(CommittedAt {
                height,
                block_hash: state.recent_block_hash(height)?.to_owned(),
                optimizer_id: c.optimizer_id.clone(),
                domain_id: c.domain_id.clone(),
            })
        })
}

impl Service {
    /// The quorum an optimae whose commitment the block at `commit_height` carries must be
    /// verified by ([`plan_quorum`] at the service's clock).
    pub(super) fn plan(
        &self,
        domain_id: &str,
        optimizer_id: &str,
        commit_height: u64,
    ) -> Result<QuorumPlan, String> {
        let now = self.clock.now_micros();
        plan_quorum(&self.state, domain_id, optimizer_id, commit_height, now)
    }

    /// Where `optimizer_id`'s bound commitment `bound` is among the recent blocks.
    pub(super) fn committed_at(&self, bound: &str, optimizer_id: &str) -> Option<CommittedAt> {
        committed_at(&self.state, bound, optimizer_id)
    }
}
