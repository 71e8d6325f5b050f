//! The Python reference's consensus functions, reproduced exactly.
//!
//! These functions compute what the reference computes, bit for bit and character for
//! character, **bugs included**, so that the reference's test vectors
//! (`testdata/reference/test-vectors.json`) pin compatibility: a change here that breaks a
//! vector breaks interoperability with reference nodes. Each function documents the
//! reference behaviour it keeps, for example the `0.67` quorum fraction that rejects two
//! agreeing votes out of three ([`quorum`]) and the effective 9.75 % / 61.75 % / 28.5 %
//! reward split instead of the advertised 5 / 65 / 30 ([`rewards`]).
//!
//! DOIN's own consensus rules fix these defects and live elsewhere in this crate; they use
//! this module only where the protocol must agree with the reference (ids, seeds,
//! selection order) or to show, in tests, how they differ from it.
//!
//! Everything here is a pure function: no clock (times are arguments), no I/O, no state
//! beyond the values passed in.
//!
//! * [`chain_validation`] — the checks a syncing reference node makes of each block.
//! * [`seeds`] — `derive_seed` and the deterministic seed policy.
//! * [`quorum`] — evaluator selection and the quorum decision.
//! * [`rewards`] — the halving schedule and the coinbase split.
//! * [`incentives`] — the verification reward fraction.
//! * [`difficulty`] — the difficulty controller as a state transition.
//! * [`poo_threshold`] — the proof-of-optimization per-block threshold rule.
//! * [`commitment`] — commit–reveal commitments.
//! * [`sync`] — the reference node's block sync: its models, its append rule, and what its
//!   derived state reads (how a reference node follows a DOIN chain).
//! * [`python`] — the Python formatting and `min`/`max` semantics the above depend on.

pub mod chain_validation;
pub mod commitment;
pub mod difficulty;
pub mod incentives;
pub mod poo_threshold;
pub mod python;
pub mod quorum;
pub mod rewards;
pub mod seeds;
pub mod sync;

pub use chain_validation::{verify_reference_chain, ReferenceBlockFault, ReferenceChainError};
pub use commitment::{commitment_preimage, compute_commitment, verify_commitment};
pub use difficulty::{on_new_block, DifficultyState};
pub use incentives::{
    compute_effective_reward, compute_reward_fraction, evaluate_verification_incentive,
    IncentiveConfig, VerificationIncentive,
};
pub use poo_threshold::{adjust_threshold, adjust_threshold_at};
pub use quorum::{evaluate_quorum, quorum_seed, select_evaluators, QuorumOutcome, Vote};
pub use rewards::{
    compute_block_reward, compute_total_supply_at, distribute_block_reward, ContributorRole,
    ContributorWork,
};
pub use seeds::{derive_seed, verify_seed, SeedPolicy, SeedRejection};
