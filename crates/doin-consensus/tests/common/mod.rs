//! A simulated optimizer improving a quadratic objective, shared by tests and the bench.
//!
//! Commitments go on chain before reveals: a chain opens with a *commitment block*
//! ([`commit_block`], at [`COMMIT_SECS`]) carrying step 1's commitment, and every optimae
//! block of step `k` carries the commitment of step `k + 1` ([`step_commitment`]), so a
//! reveal committed at the tip ([`reveal`]) finds its commitment there. Step `k` is thus at
//! height `k + 1`, with the timestamps the chain had before commitments.
#![allow(dead_code, unreachable_pub)]

use doin_consensus::accepted::{AcceptedOptimae, Experiment, Reveal};
use doin_consensus::commitment::OptimaeCommitment;
use doin_consensus::rejection::{OptimaeClaim, RejectedOptimae};
use doin_consensus::{ChainParams, ChainState, DomainParams, QuorumVote};
use doin_primitives::hash::sha256_hex;
use doin_primitives::identity::Identity;
use doin_primitives::map;
use doin_primitives::models::{Block, Transaction};
use doin_primitives::timestamp::Timestamp;
use doin_primitives::value::{Map, Value};

pub const DOMAIN: &str = "quadratic";
pub const START_SECS: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
pub const BLOCK_SECS: i64 = 10;

/// A solo chain: one higher-is-better domain with bounded parameters, a small threshold.
pub fn solo_params() -> ChainParams {
    let mut p = ChainParams::solo_default();
    p.initial_threshold = 1e-3;
    p.domains = vec![DomainParams::new(DOMAIN, true).with_bound("x", -10.0, 10.0)];
    p
}

pub fn identity(byte: u8) -> Identity {
    Identity::from_scalar_bytes(&[byte; 32]).expect("valid scalar")
}

/// Parameters of step `k`: they approach the optimum (1, -2).
pub fn parameters(k: u64) -> Map {
    let d = 0.9975f64.powi(k as i32);
    map! { "x" => vec![Value::Float(1.0 + d), Value::Float(-2.0 + d)], "lr" => 0.01 }
}

/// The objective (higher is better): `-1e6 * ((x0 - 1)^2 + (x1 + 2)^2)`.
pub fn performance(params: &Map) -> f64 {
    let x: Vec<f64> = params["x"]
        .as_array()
        .expect("x is a list")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect();
    -1e6 * ((x[0] - 1.0).powi(2) + (x[1] + 2.0).powi(2))
}

/// What an evaluator measures on its seeded synthetic data: the objective, off by up to
/// 0.1 % depending on the seed.
pub fn evaluate(params: &Map, seed: u64) -> f64 {
    performance(params) * (1.0 + (seed % 1000) as f64 * 1e-6)
}

pub fn time(secs_after_start: i64) -> Timestamp {
    Timestamp::from_unix_secs(START_SECS + secs_after_start)
}

/// When the commitment block opening a chain is minted (seconds after the start): before
/// step 1's block, and more than one target block time after genesis.
pub const COMMIT_SECS: i64 = 0;

/// The nonce of step `k`.
pub fn nonce(k: u64) -> String {
    format!("{k:032x}")
}

/// The sealed commitment `optimizer` puts on chain before revealing `r` (dated one block
/// time and 5 s before the reveal: step `k` commits at `(k - 1) * BLOCK_SECS`).
pub fn commitment(optimizer: &Identity, r: &Reveal) -> OptimaeCommitment {
    let at = Timestamp::from_unix_micros(r.timestamp.unix_micros() - (BLOCK_SECS + 5) * 1_000_000);
    OptimaeCommitment::sealed(optimizer, &r.domain_id, &r.commitment_hash(), at)
}

/// The reference commitment of step `k` ([`parameters`] and [`nonce`] of `k`).
pub fn step_commitment_hash(k: u64) -> String {
    doin_consensus::reference::compute_commitment(&parameters(k), &nonce(k))
}

/// `optimizer`'s commitment to step `k` ([`parameters`] and [`nonce`] of `k`), made before
/// the block it goes in.
pub fn step_commitment(optimizer: &Identity, k: u64) -> OptimaeCommitment {
    let r = Reveal {
        domain_id: DOMAIN.into(),
        reported_performance: 0.0,
        parameters: parameters(k),
        nonce: nonce(k),
        commit_height: 0,
        timestamp: time(k as i64 * BLOCK_SECS + 5),
    };
    commitment(optimizer, &r)
}

/// A commitment block (no transactions) by `generator` carrying `commitments`, at `at`.
pub fn commit_block(
    state: &ChainState,
    generator: &Identity,
    commitments: &[OptimaeCommitment],
    at: Timestamp,
) -> Block {
    state
        .build_block_with_commitments(
            generator,
            Vec::new(),
            Vec::new(),
            Vec::new(),
            commitments,
            at,
        )
        .expect("commitment block builds")
}

/// Opens a chain: applies the commitment block by `generator` carrying `commitments`
/// (step 1's, usually) at [`COMMIT_SECS`], and returns it.
pub fn open_chain(
    state: &mut ChainState,
    generator: &Identity,
    commitments: &[OptimaeCommitment],
) -> Block {
    let b = commit_block(state, generator, commitments, time(COMMIT_SECS));
    state.apply_block(&b).expect("commitment block validates");
    b
}

/// The block by `generator` with `txs`, carrying `next` (the commitments of later steps).
pub fn block_committing(
    state: &ChainState,
    generator: &Identity,
    txs: Vec<Transaction>,
    next: &[OptimaeCommitment],
    at: Timestamp,
) -> Block {
    state
        .build_block_with_commitments(generator, txs, Vec::new(), Vec::new(), next, at)
        .expect("block builds")
}

/// The reveal of step `k` committed at the tip (which carries its commitment when the
/// parameters are [`parameters`]`(k)`: see [`step_commitment`]).
pub fn reveal(state: &ChainState, params: Map, k: u64) -> Reveal {
    Reveal {
        domain_id: DOMAIN.into(),
        reported_performance: performance(&params),
        parameters: params,
        nonce: nonce(k),
        commit_height: state.height(),
        timestamp: time(k as i64 * BLOCK_SECS + 5),
    }
}

/// Sealed votes of `evaluators` on the reveal.
pub fn votes(
    state: &ChainState,
    optimizer: &Identity,
    r: &Reveal,
    evaluators: &[&Identity],
) -> Vec<QuorumVote> {
    let commitment = r.commitment_hash();
    evaluators
        .iter()
        .map(|e| {
            let seed = state
                .synthetic_seed_for(&commitment, DOMAIN, e.peer_id(), r.commit_height)
                .expect("commit height in window");
            QuorumVote {
                optimae_id: r.optimae_id(optimizer.peer_id()),
                domain_id: DOMAIN.into(),
                evaluator_id: e.peer_id().into(),
                verified_performance: evaluate(&r.parameters, seed),
                synthetic_seed: seed,
                synthetic_data_hash: sha256_hex(seed.to_string()),
                timestamp: r.timestamp,
                seal: None,
            }
            .sealed(e)
        })
        .collect()
}

pub fn experiment(k: u64) -> Experiment {
    Experiment {
        experiment_id: "exp-1".into(),
        round_number: k as i64,
        time_to_this_result_seconds: k as f64 * 10.0,
        optimization_config_hash: sha256_hex("config"),
        data_hash: sha256_hex("data"),
        champion_metrics: doin_primitives::map! { "round" => k as i64 },
    }
}

/// The accepted-optimae transaction of a reveal verified by `evaluators`.
pub fn accepted_tx(
    state: &ChainState,
    optimizer: &Identity,
    r: &Reveal,
    evaluators: &[&Identity],
) -> Transaction {
    let v = votes(state, optimizer, r, evaluators);
    let scoring = state
        .score_optimae(r, optimizer.peer_id(), &v)
        .expect("accepted");
    AcceptedOptimae::build(optimizer, r, &scoring, &v, &experiment(r.commit_height))
}

/// Step `k` of a solo chain: the node optimizes, verifies itself and mints, carrying its
/// commitment to step `k + 1`.
pub fn solo_block(state: &ChainState, node: &Identity, k: u64) -> Block {
    let r = reveal(state, parameters(k), k);
    let tx = accepted_tx(state, node, &r, &[node]);
    step_block(state, node, node, tx, k)
}

/// The block of step `k` minted by `generator`: `optimizer`'s accepted transaction `tx`,
/// and its commitment to step `k + 1`.
pub fn step_block(
    state: &ChainState,
    generator: &Identity,
    optimizer: &Identity,
    tx: Transaction,
    k: u64,
) -> Block {
    block_committing(
        state,
        generator,
        vec![tx],
        &[step_commitment(optimizer, k + 1)],
        time(k as i64 * BLOCK_SECS + 9),
    )
}

/// A solo chain of `n` steps: the final state (height `n + 1`) and the blocks, the first
/// of which is the commitment block carrying step 1's commitment.
pub fn solo_chain(node: &Identity, n: u64) -> (ChainState, Vec<Block>) {
    let mut state = ChainState::new(solo_params());
    let mut blocks = vec![open_chain(&mut state, node, &[step_commitment(node, 1)])];
    for k in 1..=n {
        let b = solo_block(&state, node, k);
        state.apply_block(&b).expect("block validates");
        blocks.push(b);
    }
    (state, blocks)
}

/// A chain where `a` optimizes (opening it with its commitment block) and `b`, `c`, `d`
/// generate the bootstrap blocks, then verify two more optimae as its quorum of three (as
/// in `reputation_penalties.rs`). Each block carries `a`'s commitment to the next step;
/// the tip also carries step `k + 2`'s, the step the tests' inflated claims reveal.
/// Returns the state, the last step and the blocks (after genesis).
pub fn quorum_chain(a: &Identity, others: [&Identity; 3]) -> (ChainState, u64, Vec<Block>) {
    let mut p = solo_params();
    p.quorum_min_evaluators = 3;
    let mut state = ChainState::new(p);
    let mut blocks = vec![open_chain(&mut state, a, &[step_commitment(a, 1)])];
    let mut k = 0;
    let generators = [a, others[0], others[1], others[2], others[0], others[0]];
    for (i, generator) in generators.into_iter().enumerate() {
        k += 1;
        let r = reveal(&state, parameters(k), k);
        let quorum = state
            .quorum_for(DOMAIN, a.peer_id(), r.commit_height)
            .expect("quorum");
        let young = state.is_young(a.peer_id(), r.commit_height);
        let voters: Vec<&Identity> = [a, others[0], others[1], others[2]]
            .into_iter()
            .filter(|i| {
                quorum.iter().any(|q| q == i.peer_id()) || (young && i.peer_id() != a.peer_id())
            })
            .collect();
        let tx = accepted_tx(&state, a, &r, &voters);
        let mut next = vec![step_commitment(a, k + 1)];
        if i + 1 == generators.len() {
            next.push(step_commitment(a, k + 2));
        }
        let block = block_committing(
            &state,
            generator,
            vec![tx],
            &next,
            time(k as i64 * BLOCK_SECS + 9),
        );
        state.apply_block(&block).expect("valid");
        blocks.push(block);
    }
    (state, k, blocks)
}

/// `a`'s claim on step `k` reporting twice as good as it is, and its quorum's honest votes.
pub fn inflated_claim(
    state: &ChainState,
    a: &Identity,
    q: &[&Identity],
    k: u64,
) -> RejectedOptimae {
    let honest = reveal(state, parameters(k), k);
    // Higher is better and performances are negative: half the loss is twice as good.
    let r = Reveal {
        reported_performance: honest.reported_performance * 0.5,
        ..honest
    };
    let stake = doin_consensus::rejection::claim_stake(state.base_fee());
    RejectedOptimae {
        claim: OptimaeClaim::sealed(a, &r, stake),
        votes: votes(state, a, &r, q),
    }
}
