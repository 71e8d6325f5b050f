//! Blocks validated and imported per second from a stored chain: builds a chain of
//! `DOIN_BENCH_BLOCKS` (default 10,000) blocks, each with one accepted optimae verified by
//! a signed vote, stores it in `chain.db`, then times `open_chain`, which replays every
//! block through every rule (ids, merkle root, votes, quorum, increments, threshold,
//! coinbase; signatures were verified when the blocks were stored) as the node does at
//! start-up, and a replay that also verifies every signature, as for blocks from a peer.

use std::time::Instant;

use doin_consensus::accepted::{AcceptedOptimae, Experiment, Reveal};
use doin_consensus::params::{ChainParams, DomainParams};
use doin_consensus::state::ChainState;
use doin_consensus::vote::QuorumVote;
use doin_node::chain_service::open_chain;
use doin_primitives::identity::Identity;
use doin_primitives::value::{Map, Value};
use doin_primitives::Timestamp;
use doin_store::ChainStore;

fn main() {
    let n: u64 = std::env::var("DOIN_BENCH_BLOCKS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("chain.db");
    let mut params = ChainParams::solo_default();
    params.initial_threshold = 1e-6;
    params.target_block_time_secs = 10.0;
    params.domains = vec![DomainParams::new("bench", true)];
    let me = Identity::generate();
    let mut state = ChainState::new(params.clone());
    let mut store = ChainStore::open(&path).expect("store");
    let t0 = 1_700_000_000_000_000i64;
    let build = Instant::now();
    let mut batch = Vec::new();
    for i in 1..=n {
        let perf = i as f64;
        let mut parameters = Map::new();
        parameters.insert("x".into(), Value::Array(vec![Value::Float(perf)]));
        let ts = Timestamp::from_unix_micros(t0 + (i as i64) * 10_000_000);
        let reveal = Reveal {
            domain_id: "bench".into(),
            parameters,
            nonce: format!("{i:032x}"),
            reported_performance: perf,
            commit_height: state.height(),
            timestamp: ts,
        };
        let commitment = reveal.commitment_hash();
        let seed = state
            .synthetic_seed_for(&commitment, "bench", me.peer_id(), state.height())
            .expect("seed");
        let vote = QuorumVote {
            optimae_id: reveal.optimae_id(me.peer_id()),
            domain_id: "bench".into(),
            evaluator_id: me.peer_id().to_owned(),
            verified_performance: perf,
            synthetic_seed: seed,
            synthetic_data_hash: String::new(),
            timestamp: ts,
            seal: None,
        }
        .sealed(&me);
        let votes = vec![vote];
        let scoring = state
            .score_optimae("bench", me.peer_id(), perf, &votes)
            .expect("score");
        let tx = AcceptedOptimae::build(&me, &reveal, &scoring, &votes, &Experiment::default());
        let block = state.build_block(&me, vec![tx], ts).expect("build");
        state.apply_block(&block).expect("apply");
        batch.push(block);
        if batch.len() == 50 {
            store.append_batch(&batch).expect("append");
            batch.clear();
        }
    }
    store.append_batch(&batch).expect("append");
    drop(store);
    eprintln!("built and stored {n} blocks in {:.2?}", build.elapsed());
    let start = Instant::now();
    let opened = open_chain(&path, &params).expect("open");
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(opened.state.height(), n);
    println!(
        "start-up replay of chain.db (every rule; signatures checked when stored): {n} blocks in {secs:.3} s = {:.0} blocks/s",
        n as f64 / secs
    );
    let reader = opened.store.reader().expect("reader");
    let start = Instant::now();
    let mut fresh = ChainState::new(params);
    reader
        .for_each_block(1, |b| -> Result<(), doin_store::StoreError> {
            fresh.apply_block(&b).expect("valid");
            Ok(())
        })
        .expect("stream");
    let secs = start.elapsed().as_secs_f64();
    println!(
        "full validation as for a peer's blocks (3 ECDSA verifications per block): {n} blocks in {secs:.3} s = {:.0} blocks/s",
        n as f64 / secs
    );
}
