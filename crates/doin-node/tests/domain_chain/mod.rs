//! Reading a domain network's chain the way a syncing node does, shared by the domain
//! network tests (`wine_network`, `mlp_network`): a node's blocks from its store, the
//! accepted optimae they carry, every block validated and applied in order, and the
//! tally of a lying evaluator's votes against the honest ones.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use doin_consensus::accepted::AcceptedOptimae;
use doin_consensus::quorum::{counted_votes, decide_counted};
use doin_consensus::ChainState;
use doin_node::chain_params::chain_params;
use doin_node::config::NodeConfig;
use doin_node::testnet::TestNet;
use doin_primitives::models::Block;

/// Node `i`'s blocks, read from its store.
pub(crate) fn blocks(net: &TestNet, i: usize) -> Vec<Block> {
    let reader = doin_store::ChainReader::open(&net.data_dir(i).join("chain.db")).expect("store");
    let height = reader.height().expect("height");
    (1..=height)
        .filter_map(|h| reader.block(h).expect("block"))
        .collect()
}

/// The accepted optimae of `blocks`, in chain order.
pub(crate) fn optimae(blocks: &[Block]) -> Vec<AcceptedOptimae> {
    blocks
        .iter()
        .flat_map(|b| b.check_layout().expect("layout").accepted)
        .map(|tx| AcceptedOptimae::from_tx(tx).expect("accepted optimae"))
        .collect()
}

/// Every block validated and applied in order, as a node that syncs the chain does.
pub(crate) fn replay(template: &NodeConfig, blocks: &[Block]) -> ChainState {
    let mut state = ChainState::new(chain_params(template));
    for b in blocks {
        state
            .apply_block(b)
            .unwrap_or_else(|e| panic!("block {}: {e}", b.header.index));
    }
    state
}

/// Each accepted optimae of `blocks` with the size of the quorum of other nodes the
/// consensus drew for it: `quorum` evaluators other than its optimizer, or all those
/// eligible when a young chain has fewer (every peer seen on chain is eligible until
/// `quorum` of them qualify; with none, the optimizer verifies alone). Read by replaying
/// the chain and asking the state before each block who was eligible at the optimae's
/// commit height.
pub(crate) fn optimae_with_quorums(
    template: &NodeConfig,
    blocks: &[Block],
    quorum: usize,
) -> Vec<(AcceptedOptimae, usize)> {
    let mut state = ChainState::new(chain_params(template));
    let mut out = Vec::new();
    for b in blocks {
        for a in optimae(std::slice::from_ref(b)) {
            let others = state
                .eligible_evaluators(a.commit_height)
                .map_or(quorum, |eligible| {
                    eligible.iter().filter(|e| **e != a.optimizer_id).count()
                });
            out.push((a, others.min(quorum)));
        }
        state
            .apply_block(b)
            .unwrap_or_else(|e| panic!("block {}: {e}", b.header.index));
    }
    out
}

/// The accepted optimae of `blocks`, in chain order, each with its quorum's members as the
/// chain drew them (at its commit height, for the block that carries it).
fn optimae_with_quorum_members(
    template: &NodeConfig,
    blocks: &[Block],
) -> Vec<(AcceptedOptimae, Vec<String>)> {
    let mut state = ChainState::new(chain_params(template));
    let mut out = Vec::new();
    for b in blocks {
        for a in optimae(std::slice::from_ref(b)) {
            let quorum = state
                .quorum_for_at(
                    &a.domain_id,
                    &a.optimizer_id,
                    a.commit_height,
                    b.header.timestamp.unix_micros(),
                )
                .unwrap_or_else(|e| panic!("block {}: no quorum: {e}", b.header.index));
            out.push((a, quorum));
        }
        state
            .apply_block(b)
            .unwrap_or_else(|e| panic!("block {}: {e}", b.header.index));
    }
    out
}

/// Node 0's chain once `done` holds for it; fails after `deadline`, printing the verified
/// performances the chain holds by then.
pub(crate) fn wait_for_chain(
    net: &TestNet,
    deadline: Duration,
    done: impl Fn(&[Block]) -> bool,
) -> Vec<Block> {
    let started = Instant::now();
    loop {
        let chain = blocks(net, 0);
        if done(&chain) {
            return chain;
        }
        let verified: Vec<f64> = optimae(&chain)
            .iter()
            .map(|a| a.verified_performance)
            .collect();
        assert!(
            started.elapsed() < deadline,
            "not there after {deadline:?}: {} blocks, verified {verified:?}",
            chain.len()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Checks, on `chain` replayed from `template`, that every vote of `liar` disagreed with
/// its quorum's decision (at `tolerance`) while every other vote agreed, that the liar
/// ends with reputation 0 and balance 0, and that at least two honest evaluators earned
/// both. Returns how many votes the liar cast.
pub(crate) fn assert_liar_outvoted(
    template: &NodeConfig,
    chain: &[Block],
    liar: &str,
    tolerance: f64,
) -> usize {
    let state = replay(template, chain);
    let mut honest_votes: BTreeMap<String, usize> = BTreeMap::new();
    let mut liar_votes = 0;
    for (a, quorum) in optimae_with_quorum_members(template, chain) {
        let perfs: Vec<f64> = a.votes.iter().map(|v| v.verified_performance).collect();
        // Decided as the chain decides: by the quorum's votes (open votes of a young chain
        // are judged against their median, but do not decide it).
        let voters: Vec<&str> = a.votes.iter().map(|v| v.evaluator_id.as_str()).collect();
        let counted = counted_votes(&quorum, &a.optimizer_id, &voters);
        let decision =
            decide_counted(&perfs, &counted, a.reported_performance, tolerance).expect("votes");
        for (v, agreed) in a.votes.iter().zip(&decision.agreements) {
            if v.evaluator_id == liar {
                assert!(!agreed, "the liar's vote {} agreed", v.verified_performance);
                liar_votes += 1;
            } else {
                assert!(agreed, "an honest vote diverged: {perfs:?}");
                *honest_votes.entry(v.evaluator_id.clone()).or_default() += 1;
            }
        }
    }
    eprintln!(
        "height {}: {liar_votes} liar votes, liar reputation {}, honest {:?}",
        chain.len(),
        state.reputation(liar),
        honest_votes
            .keys()
            .map(|e| state.reputation(e))
            .collect::<Vec<_>>()
    );
    assert!(liar_votes >= 1);
    assert_eq!(
        state.reputation(liar),
        0,
        "each divergent vote costs 2 points"
    );
    assert_eq!(state.balance(liar), 0, "no reward for divergent votes");
    assert!(honest_votes.len() >= 2);
    for evaluator in honest_votes.keys() {
        assert!(state.reputation(evaluator) > 0 && state.balance(evaluator) > 0);
    }
    liar_votes
}
