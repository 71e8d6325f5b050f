//! Commitments on chain, through whole blocks built and validated by `ChainState`: a
//! reveal needs its commitment carried, by the block it names, under its optimizer and
//! domain; a commitment is sealed, carried once and used once; a commitment block (no
//! optimae, at least one commitment, one target block time after its parent) pays no
//! block reward, adds no work and leaves the difficulty; chains with commitment blocks
//! replay; quorum and synthetic-data seeds follow the commit block's hash.

//!
//! Files, by the rule they pin: `reveals.rs`, `carried.rs`, `commitment_blocks.rs`,
//! `seeds.rs`; the helpers below are theirs.

#[path = "../common/mod.rs"]
mod common;

mod carried;
mod commitment_blocks;
mod reveals;
mod seeds;

use common::*;
use doin_consensus::commitment::OptimaeCommitment;
use doin_consensus::{ChainState, ConsensusError, Reveal};
use doin_primitives::identity::Identity;
use doin_primitives::models::{Block, TransactionType};
use doin_primitives::seal::SealKind;
use doin_primitives::timestamp::Timestamp;

/// A reveal's transaction verified by its optimizer alone, with numbers that need not
/// score (for reveals refused before their scoring is checked).
fn accepted_tx_unscored(
    state: &ChainState,
    optimizer: &Identity,
    r: &Reveal,
) -> doin_primitives::models::Transaction {
    let v = votes(state, optimizer, r, &[optimizer]);
    let scoring = doin_consensus::Scoring {
        verified_performance: r.reported_performance,
        increment: 1.0,
        effective_increment: 1.0,
        reward_fraction: 1.0,
        ..Default::default()
    };
    doin_consensus::AcceptedOptimae::build(optimizer, r, &scoring, &v, &experiment(r.commit_height))
}

/// Recomputes the merkle root, the hash and the generator's seal after a forger edited
/// the block (as a forging generator can).
fn reseal(mut b: Block, generator: &Identity) -> Block {
    b.header.merkle_root = b.compute_merkle_root();
    b.hash = b.header.compute_hash();
    b.seal = Some(generator.seal(SealKind::Block, &b.hash));
    b
}

/// `b` carrying `commitments` (as `optimae_announced` transactions) instead of its own,
/// resealed.
fn carrying(b: &Block, generator: &Identity, commitments: &[OptimaeCommitment]) -> Block {
    let mut b = b.clone();
    let at = b.layout().expect("layout").accepted.len();
    b.transactions
        .retain(|tx| tx.tx_type != TransactionType::OptimaeAnnounced);
    b.transactions
        .splice(at..at, commitments.iter().map(OptimaeCommitment::to_tx));
    reseal(b, generator)
}

/// The rule a block's commitment breaks, with its index.
fn in_commitment(e: &ConsensusError) -> (usize, &ConsensusError) {
    match e {
        ConsensusError::InCommitment { index, source } => (*index, &**source),
        other => panic!("expected a refused commitment, got {other:?}"),
    }
}

/// Asserts `err` refuses the block's first commitment for its seal.
fn refused_for_its_seal(err: &ConsensusError) {
    assert!(
        matches!(
            in_commitment(err),
            (0, ConsensusError::BadCommitmentSeal(_))
        ),
        "{err}"
    );
}

/// The root reason `state` refuses `b`.
fn refused(state: &ChainState, b: &Block) -> ConsensusError {
    state
        .validate_block(b)
        .expect_err("the block must be refused")
        .root()
        .clone()
}

/// The tip's time plus `secs`.
fn after_tip(state: &ChainState, secs: f64) -> Timestamp {
    Timestamp::from_unix_micros(state.tip_time_micros() + (secs * 1e6) as i64)
}

/// Step `k`'s reveal with another nonce: a commitment nobody put on chain.
fn uncommitted(state: &ChainState, k: u64) -> Reveal {
    Reveal {
        nonce: "f".repeat(32),
        ..reveal(state, parameters(k), k)
    }
}
