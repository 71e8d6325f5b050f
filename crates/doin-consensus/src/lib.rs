//! # doin-consensus
//!
//! Proof of Optimization rules as pure functions of chain data: no I/O, no clock, no
//! randomness. Every rule is a small function whose doc states it and whose test pins it;
//! consensus arithmetic uses only `+ - * /` and comparisons (no `ln`, `powf`, `exp`), and
//! money and reputation are integers, so every platform computes identical bits.
//!
//! ## Bird's eye view
//!
//! * [`params`] — [`ChainParams`]: the constants of one network and their hash.
//! * [`difficulty`] — the one threshold rule (EMA nudge + bounded epoch retarget).
//! * [`reputation`] — integer micro-points, chain-time decay, the reputation factor.
//! * [`bounds`] — size, finiteness and `param_bounds` of revealed parameters.
//! * [`increment`] — raw and effective increments of an accepted optimae.
//! * [`quorum`] — quorum selection (ungrindable seed, solo rule) and the 2/3 decision.
//! * [`vote`] — [`QuorumVote`], an evaluator's sealed verification result.
//! * [`accepted`] — [`AcceptedOptimae`], the OPTIMAE_ACCEPTED transaction DOIN blocks carry.
//! * [`carried`] — the optimizer's sealed claim that lets any block generator carry its
//!   verified optimae ([`carried::VerifiedOptimae`], what optimizers gossip).
//! * [`coinbase`] — halving reward and the exact 5/65/30 split in base units, plus tips.
//! * [`fee_market`] — the EIP-1559 base fee (≤ 12.5 % per block), burn, tips, stakes.
//! * [`transfer`] — signed coin transfers: account rules, nonces, per-block checks.
//! * [`commitment`] — commitments on chain: an optimae's commitment lands in a block (its
//!   commit block, which seeds its quorum and data) before its parameters are revealed;
//!   commitment blocks keep a chain live when nothing reaches the threshold.
//! * [`rejection`] — rejection evidence on chain: the optimizer's sealed claim and its
//!   quorum's votes deciding *rejected* (the −3 penalty, divergent voters, stake burns).
//! * [`channel`] — payment channels on chain: open with a deposit, close with the latest
//!   sender-signed update, dispute (the newest update wins), settle after the dispute
//!   period in chain time; the receiver's check of an off-chain update.
//! * [`finality`] — checkpoints, final once deep and attested by two thirds of the
//!   participants' weight (partition-safe), and the reorg limit.
//! * [`anchor`] — external checkpoint anchors: which heights, the state hash, and the rule
//!   refusing a chain that contradicts a published anchor.
//! * [`state`] and [`validate`] — [`ChainState`], the fold of validated blocks: full block
//!   validation, application and building; the bound on a received block's timestamp
//!   against the receiver's clock ([`validate::check_not_in_future`]). [`validate`] keeps
//!   one file per group of rules (header, signatures, accepted optimae, quorum votes,
//!   coinbase) beside applying and building a block; [`state`] keeps the recent window and
//!   the quorums drawn from it apart from the accessors.
//! * [`checked`] — [`CheckedBlock`]: a block's stateless rules (ids, hashes, signatures)
//!   checked once, on any core, before [`ChainState::apply_checked_block`] applies the rest.
//! * [`fork_choice`] — heaviest validated chain, ties to the lower tip hash; the
//!   reorganisation rule ([`fork_choice::judge_reorg`]: finality first, then weight).
//! * [`error`] — [`ConsensusError`], one variant per broken rule.
//! * [`mod@reference`] — the Python reference's consensus functions reproduced exactly, bugs
//!   included, pinned by the reference's test vectors; DOIN's rules reuse them where the
//!   protocol must agree (seeds, commitments, incentives, median, selection order).
//!
//! ## DOIN rules vs the reference
//!
//! | topic | reference | DOIN |
//! |---|---|---|
//! | block validity | structural only, claimed ids trusted | every id, seal, vote and number recomputed ([`validate`]) |
//! | difficulty | two wall-clock rules, ~29x per epoch | one rule from header timestamps, ≤ 4x per epoch |
//! | quorum seed | chain tip + optimizer-chosen optimae id | the block that carries the commitment + domain (nothing the optimizer picks) |
//! | commit–reveal | commitment unchecked on chain, seeds grindable | commitment on chain before the reveal, recomputed, used once; quorum and evaluator seeds bound to its block (≤ 20 blocks old) |
//! | quorum fraction | `0.67` (2 of 3 rejected) | `3 * agree >= 2 * n` over the quorum members' votes (a young chain's extra votes never decide) |
//! | reputation | float, wall-clock decay | integer micro-points, chain-time decay |
//! | reward split | effective 9.75/61.75/28.5, floats, fees twice | exact 5/65/30 in integer base units |
//! | transfers | in memory, negative amounts, fees vanish, float money | on chain, signed, integer units, nonce replay protection |
//! | payment channels | in memory, updates unsigned, fabricated disputes, close skips the dispute period, lifetime cap | on chain, sender-signed updates, newest nonce wins, no close while closing, settle only after the period (header time), cap on unsettled channels |
//! | fee market | uncapped increase, inverted eviction, nothing burned | base fee ±12.5 % per block from fullness, burned; tips to the generator |
//! | increments | static weight, regressions counted | verified improvement × weight × reputation × incentive |
//! | rejections | −3 applied in one node's memory only | sealed claim + quorum votes in an `optimae_rejected` transaction; −3, divergent voters, 20 % of the stake burned |
//! | fork choice | Σ self-declared increments | Σ validated effective increments |
//! | finality | off-by-one reorg check | reorg allowed iff the fork point keeps the finalized block |
//! | external anchors | created in memory, never published or checked | final checkpoints published outside the chain; a contradicting chain is refused |
//!
//! DOIN's additions ride where reference nodes accept them
//! ([`doin_primitives::models::block_layout`]): seals (`public_key`, `signature`) and the
//! accepted-optimae payload in fields the reference ignores; commitments as
//! `optimae_announced` and rejection evidence as `optimae_rejected` transactions (the
//! optimizer as peer, as the reference writes its own); the block's `"transfers"` and
//! `"channel_ops"` keys committed by one `evaluation_served` transaction holding their
//! merkle root; the `"coinbase"` key recomputed by every validator. The block's merkle root
//! is the reference's, over the transaction ids, so a reference node's sync accepts every
//! DOIN block and the hash still covers all of it.

pub mod accepted;
pub mod anchor;
pub mod bounds;
pub mod carried;
pub mod channel;
pub mod checked;
pub mod coinbase;
pub mod commitment;
pub mod difficulty;
pub mod error;
pub mod fee_market;
pub mod finality;
pub mod fork_choice;
pub mod increment;
pub mod params;
pub mod quorum;
pub mod reference;
pub mod rejection;
pub mod reputation;
pub mod state;
pub mod transfer;
pub mod validate;
pub mod vote;

pub use accepted::{AcceptedOptimae, Experiment, Reveal, Scoring};
pub use checked::CheckedBlock;
pub use coinbase::Coinbase;
pub use error::ConsensusError;
pub use params::{ChainParams, DomainParams};
pub use state::ChainState;
pub use validate::BlockSummary;
pub use vote::QuorumVote;
