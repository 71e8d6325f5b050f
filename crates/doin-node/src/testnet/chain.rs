//! Chains to test on: a network config that keeps minting, and a long valid chain written
//! straight to a store.

use crate::config::NodeConfig;

/// A network chain that keeps minting for the length of a test: quorums of `quorum` other
/// nodes, 1 s blocks, a threshold of 0.001, evaluators polling every second, and the
/// built-in quadratic domain of 100 parameters without a target, one optimizer round every
/// `round_interval` seconds.
///
/// Once the best loss is under 1, increments are absolute, so a chain can mint only
/// `|best| / threshold` more blocks: a domain that converges stops the chain for good. The
/// evolution strategy gains about `0.3 / n_params` in log loss per trial at best; with 100
/// parameters, nodes need minutes to go from a random start (a loss near 10^4) to the
/// threshold, whatever the machine's speed, while blocks keep coming.
pub fn minting_template(quorum: u32, round_interval: f64) -> NodeConfig {
    let mut c = NodeConfig::embedded_default();
    c.quorum_min_evaluators = quorum;
    c.target_block_time = 1.0;
    c.initial_threshold = 0.001;
    c.eval_poll_interval = 1.0;
    for d in &mut c.domains {
        d.target_performance = None;
        d.optimization_config.insert(
            "round_interval_seconds".into(),
            serde_json::json!(round_interval),
        );
        d.optimization_config
            .insert("n_params".into(), serde_json::json!(100));
    }
    c
}

/// Writes a valid chain of `n` blocks to `chain.db` at `path`: a commitment block, then
/// blocks that each hold one accepted optimae of `domain` (performance improving by one
/// each block), verified by a sealed vote of the generator, and the commitment of the next
/// block's optimae; one block every `target_block_time`. Returns the generator's peer id.
/// For benchmarks and tests that need a long chain fast.
pub fn build_chain(
    path: &std::path::Path,
    params: &doin_consensus::ChainParams,
    domain: &str,
    n: u64,
) -> anyhow::Result<String> {
    use doin_consensus::accepted::{AcceptedOptimae, Experiment, Reveal};
    use doin_consensus::commitment::OptimaeCommitment;
    use doin_consensus::{ChainState, QuorumVote};
    use doin_primitives::identity::Identity;
    use doin_primitives::value::{Map, Value};
    use doin_primitives::Timestamp;

    let me = Identity::generate();
    let mut state = ChainState::new(params.clone());
    let mut store = doin_store::ChainStore::open(path)?;
    let step = (params.target_block_time_secs * 1e6) as i64;
    let t0 = Timestamp::now_utc().unix_micros() - step * (n as i64 + 1);
    // Step `k` reveals `{"x": [k]}` under nonce `k`.
    let reveal_of = |k: u64, commit_height: u64, timestamp: Timestamp| {
        let mut parameters = Map::new();
        parameters.insert("x".into(), Value::Array(vec![Value::Float(k as f64)]));
        Reveal {
            domain_id: domain.into(),
            parameters,
            nonce: format!("{k:032x}"),
            reported_performance: k as f64,
            commit_height,
            timestamp,
        }
    };
    let commitment_of = |k: u64, ts: Timestamp| {
        let hash = reveal_of(k, 0, ts).commitment_hash();
        OptimaeCommitment::sealed(&me, domain, &hash, ts)
    };
    let mut batch = Vec::new();
    for i in 1..=n {
        let ts = Timestamp::from_unix_micros(t0 + (i as i64) * step);
        let mut txs = Vec::new();
        if i > 1 {
            let k = i - 1;
            let reveal = reveal_of(k, state.height(), ts);
            let commitment = reveal.commitment_hash();
            let seed =
                state.synthetic_seed_for(&commitment, domain, me.peer_id(), state.height())?;
            let vote = QuorumVote {
                optimae_id: reveal.optimae_id(me.peer_id()),
                domain_id: domain.into(),
                evaluator_id: me.peer_id().to_string(),
                verified_performance: k as f64,
                synthetic_seed: seed,
                synthetic_data_hash: String::new(),
                timestamp: ts,
                seal: None,
            }
            .sealed(&me);
            let votes = vec![vote];
            let scoring = state.score_optimae(&reveal, me.peer_id(), &votes)?;
            txs.push(AcceptedOptimae::build(
                &me,
                &reveal,
                &scoring,
                &votes,
                &Experiment::default(),
            ));
        }
        let next = [commitment_of(i, ts)];
        let block =
            state.build_block_with_commitments(&me, txs, Vec::new(), Vec::new(), &next, ts)?;
        state.apply_block(&block)?;
        batch.push(block);
        if batch.len() == 50 {
            store.append_batch(&batch)?;
            batch.clear();
        }
    }
    store.append_batch(&batch)?;
    Ok(me.peer_id().to_string())
}
