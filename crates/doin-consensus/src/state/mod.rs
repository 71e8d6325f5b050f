//! The chain state: a fold of the validated blocks from genesis.
//!
//! Everything here is derived from block contents and header timestamps only, so a node
//! that replays the same blocks reaches an equal state ([`ChainState`] is `PartialEq`).
//! Validation, block building and application live in [`crate::validate`].
//!
//! Files: `mod.rs` holds [`ChainState`] and its accessors; `quorums.rs` the recent window
//! and the quorums drawn from it. Transfers, channels, commitments, rejections and finality
//! add their state's methods in their own modules.

mod quorums;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use imbl::OrdSet;

use doin_primitives::models::Block;

use crate::difficulty::{next_threshold, DifficultyState};
use crate::params::ChainParams;
use crate::reputation::{decayed_to, Reputation};

/// A domain's progress on chain.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DomainProgress {
    /// Best verified performance accepted so far.
    pub best: Option<f64>,
    /// Optimae accepted.
    pub accepted: u64,
}

/// A recent block, kept for commit-height lookups and finality.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RecentBlock {
    pub(crate) height: u64,
    pub(crate) hash: String,
    /// The evaluators eligible for quorums seeded at this block (see
    /// [`ChainState::eligible_evaluators`]).
    pub(crate) eligible: Vec<String>,
    /// The commitments this block carries, by hash and optimizer ([`crate::commitment`]).
    pub(crate) commitments: BTreeMap<(String, String), crate::commitment::OnChainCommitment>,
    /// Who this block shows holding the chain, and up to which height
    /// ([`crate::finality::attesters_of`]).
    pub(crate) attesters: Vec<(String, u64)>,
    /// At a checkpoint height: the attestation weights of the blocks up to it
    /// ([`crate::finality::weights_at`]), the reference its successor's finality is judged by.
    pub(crate) weights: Option<BTreeMap<String, u64>>,
}

/// The consensus state after the chain's tip.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainState {
    pub(crate) params: ChainParams,
    pub(crate) height: u64,
    pub(crate) tip_hash: String,
    pub(crate) tip_time_micros: i64,
    /// Timestamp (µs) of the last block that reached the threshold (genesis's before one).
    pub(crate) work_time_micros: i64,
    pub(crate) difficulty: DifficultyState,
    pub(crate) reputations: BTreeMap<String, Reputation>,
    pub(crate) balances: BTreeMap<String, u64>,
    pub(crate) total_minted: u64,
    /// Last used transfer nonce per sender.
    pub(crate) nonces: BTreeMap<String, u64>,
    /// The base fee of the next block.
    pub(crate) base_fee: u64,
    /// Base units burned by transfer and channel-operation fees.
    pub(crate) total_burned: u64,
    /// Payment channels by id ([`crate::channel`]).
    pub(crate) channels: BTreeMap<String, crate::channel::Channel>,
    /// Last used channel-operation nonce per actor.
    pub(crate) channel_nonces: BTreeMap<String, u64>,
    /// Unsettled channels per sender.
    pub(crate) unsettled_channels: BTreeMap<String, u64>,
    /// Channel totals.
    pub(crate) channel_stats: crate::channel::ChannelStats,
    pub(crate) domains: BTreeMap<String, DomainProgress>,
    pub(crate) cumulative_work: f64,
    pub(crate) finalized_height: u64,
    pub(crate) finalized_hash: String,
    /// The attestation weights recorded at the finalized checkpoint: the participants whose
    /// two thirds must attest the next checkpoint ([`crate::finality`]).
    pub(crate) finality_weights: BTreeMap<String, u64>,
    /// The recent window, each block shared between the states that hold it.
    pub(crate) recent: VecDeque<Arc<RecentBlock>>,
    /// Ids of every optimae on chain. This and the two sets below grow with the chain, so
    /// they are persistent sets ([`imbl::OrdSet`]): a copy of the state (a fork point, a
    /// checkpoint, a branch weighed) shares them instead of copying them.
    pub(crate) optimae_ids: OrdSet<String>,
    /// Ids of every commitment on chain: each lands once, so its `optimae_announced`
    /// transaction id is never repeated (a reference node refuses a repeated id).
    pub(crate) announced: OrdSet<String>,
    /// Every commitment hash an accepted optimae revealed.
    pub(crate) commitments: OrdSet<String>,
    /// Every peer that contributed on chain: generated a block, had an optimae accepted or
    /// cast a vote agreeing with its quorum (never a peer seen only voting against it).
    pub(crate) peers_seen: BTreeSet<String>,
    /// Peers that generated a block or cast an agreeing vote.
    pub(crate) active_evaluators: BTreeSet<String>,
    /// Rejections on chain and the stakes they burned ([`crate::rejection`]).
    pub(crate) rejection_tally: crate::rejection::RejectionTally,
    /// Set only while [`ChainState::apply_stored_block`] runs.
    pub(crate) trust_stored_seals: bool,
    /// Set only while [`ChainState::apply_checked_block`] runs: ids, hashes and
    /// signatures were checked ([`crate::checked::CheckedBlock`]).
    pub(crate) trust_checked_content: bool,
}

impl ChainState {
    /// The state at genesis ([`Block::genesis`]).
    pub fn new(params: ChainParams) -> Self {
        let genesis = Block::genesis();
        let mut state = ChainState {
            difficulty: DifficultyState::genesis(&params),
            domains: params
                .domains
                .iter()
                .map(|d| (d.domain_id.clone(), DomainProgress::default()))
                .collect(),
            params,
            height: 0,
            tip_hash: genesis.hash.clone(),
            tip_time_micros: genesis.header.timestamp.unix_micros(),
            work_time_micros: genesis.header.timestamp.unix_micros(),
            reputations: BTreeMap::new(),
            balances: BTreeMap::new(),
            total_minted: 0,
            nonces: BTreeMap::new(),
            base_fee: crate::fee_market::MIN_BASE_FEE,
            total_burned: 0,
            channels: BTreeMap::new(),
            channel_nonces: BTreeMap::new(),
            unsettled_channels: BTreeMap::new(),
            channel_stats: crate::channel::ChannelStats::default(),
            cumulative_work: 0.0,
            finalized_height: 0,
            finalized_hash: genesis.hash.clone(),
            finality_weights: BTreeMap::new(),
            recent: VecDeque::new(),
            optimae_ids: OrdSet::new(),
            announced: OrdSet::new(),
            commitments: OrdSet::new(),
            peers_seen: BTreeSet::new(),
            active_evaluators: BTreeSet::new(),
            rejection_tally: Default::default(),
            trust_stored_seals: false,
            trust_checked_content: false,
        };
        state.push_recent(BTreeMap::new(), Vec::new());
        state
    }

    /// Whether this is a solo (development) chain: quorums of one, the optimizer verifying
    /// its own optimae on independently seeded synthetic data.
    pub fn is_solo(&self) -> bool {
        self.params.quorum_min_evaluators == 0
    }

    /// Every domain's progress on chain.
    pub fn domains(&self) -> &BTreeMap<String, DomainProgress> {
        &self.domains
    }

    /// Peers with a reputation entry.
    pub fn reputation_count(&self) -> usize {
        self.reputations.len()
    }

    /// Optimae accepted on chain (one transaction each).
    pub fn optimae_count(&self) -> usize {
        self.optimae_ids.len()
    }

    /// The chain's parameters.
    pub fn params(&self) -> &ChainParams {
        &self.params
    }

    /// The tip's height.
    pub fn height(&self) -> u64 {
        self.height
    }

    /// The tip's hash.
    pub fn tip_hash(&self) -> &str {
        &self.tip_hash
    }

    /// The tip's timestamp, µs since the Unix epoch.
    pub fn tip_time_micros(&self) -> i64 {
        self.tip_time_micros
    }

    /// The difficulty rule's state.
    pub fn difficulty(&self) -> &DifficultyState {
        &self.difficulty
    }

    /// The threshold the next block's header must carry.
    pub fn next_threshold(&self) -> f64 {
        next_threshold(&self.difficulty)
    }

    /// A peer's reputation in micro-points, decayed to the tip's timestamp.
    pub fn reputation(&self, peer_id: &str) -> u64 {
        self.reputations.get(peer_id).map_or(0, |r| {
            decayed_to(
                r,
                self.tip_time_micros,
                self.params.reputation_half_life_secs,
            )
            .score
        })
    }

    /// Every peer's reputation in micro-points, decayed to the tip's timestamp.
    ///
    /// Rule: reputation is a function of the chain alone (events in blocks, decay by header
    /// timestamps up to the tip), never of a node's clock or uptime, so every node holding
    /// the same chain, and the same node after a restart, reports the same table.
    pub fn reputations(&self) -> BTreeMap<String, u64> {
        self.reputations
            .keys()
            .map(|p| (p.clone(), self.reputation(p)))
            .collect()
    }

    /// A peer's balance in base units.
    pub fn balance(&self, peer_id: &str) -> u64 {
        self.balances.get(peer_id).copied().unwrap_or(0)
    }

    /// All balances.
    pub fn balances(&self) -> &BTreeMap<String, u64> {
        &self.balances
    }

    /// Base units minted by coinbases so far (fees excluded).
    pub fn total_minted(&self) -> u64 {
        self.total_minted
    }

    /// A peer's last used transfer nonce (0 before its first transfer).
    pub fn nonce(&self, peer_id: &str) -> u64 {
        self.nonces.get(peer_id).copied().unwrap_or(0)
    }

    /// A peer's account: balance and last used nonce.
    pub fn account(&self, peer_id: &str) -> crate::transfer::Account {
        crate::transfer::Account {
            balance: self.balance(peer_id),
            nonce: self.nonce(peer_id),
        }
    }

    /// The base fee every transfer of the next block must pay at least
    /// ([`crate::fee_market::next_base_fee`]).
    pub fn base_fee(&self) -> u64 {
        self.base_fee
    }

    /// Base units burned so far (base fees of transfers and channel operations, stakes of
    /// rejected claims); the balances plus [`ChainState::total_locked`] always sum to
    /// [`ChainState::total_minted`] minus this.
    pub fn total_burned(&self) -> u64 {
        self.total_burned
    }

    /// A domain's progress, if the chain has the domain.
    pub fn domain(&self, domain_id: &str) -> Option<&DomainProgress> {
        self.domains.get(domain_id)
    }

    /// Sum of the validated effective increments of all blocks (fork-choice weight).
    pub fn cumulative_work(&self) -> f64 {
        self.cumulative_work
    }

    /// The finalized height.
    pub fn finalized_height(&self) -> u64 {
        self.finalized_height
    }

    /// The finalized block's hash.
    pub fn finalized_hash(&self) -> &str {
        &self.finalized_hash
    }

    /// Whether a reorganisation branching off at `fork_point` keeps the finalized block
    /// ([`crate::finality::reorg_allowed`]).
    pub fn reorg_allowed(&self, fork_point: u64) -> bool {
        crate::finality::reorg_allowed(fork_point, self.finalized_height)
    }

    /// Whether an optimae id is already on chain.
    pub fn has_optimae(&self, optimae_id: &str) -> bool {
        self.optimae_ids.contains(optimae_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::models::GENESIS_HASH;

    #[test]
    fn reputations_decay_with_chain_time_only() {
        let mut s = ChainState::new(ChainParams::solo_default());
        let half_life = s.params.reputation_half_life_secs as i64 * 1_000_000;
        s.reputations.insert(
            "p".into(),
            Reputation {
                score: 8_000_000,
                last_update_micros: 0,
            },
        );
        s.tip_time_micros = 0;
        assert_eq!(
            s.reputations(),
            BTreeMap::from([("p".to_owned(), 8_000_000)])
        );
        s.tip_time_micros = half_life;
        assert_eq!(
            s.reputations(),
            BTreeMap::from([("p".to_owned(), 4_000_000)])
        );
        assert_eq!(s.reputations()["p"], s.reputation("p"));
    }

    #[test]
    fn genesis_state() {
        let s = ChainState::new(ChainParams::solo_default());
        assert_eq!(s.height(), 0);
        assert_eq!(s.tip_hash(), GENESIS_HASH);
        assert_eq!(s.next_threshold(), 0.5);
        assert_eq!(s.finalized_hash(), GENESIS_HASH);
        assert_eq!(s.recent_block_hash(0), Some(GENESIS_HASH));
        assert_eq!(s.domain("quadratic"), Some(&DomainProgress::default()));
    }
}
