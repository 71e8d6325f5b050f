//! Issue 17: the `p2p_scale` bench's 64-node network (four optimizers, 1 s target blocks)
//! split for good on a loaded machine, its branches finalized separately.

use doin_sim::{SimConfig, Simulation};

/// Regression: on a loaded network ([`SimConfig::loaded_network`], seed 0, 64 nodes) each
/// of the four optimizers minted a branch of its own from genesis, verifying its optimae
/// alone (a young chain's quorums fall back to the solo rule while the optimizer is the
/// only peer its branch has seen), and two of them finalized their own branch's height 6
/// at height 12, about six virtual seconds in, before the other's blocks had reached
/// them: their weights were all their own. A network chain's checkpoint now needs an
/// optimizer and a quorum among its attesters
/// (`doin_consensus::finality::min_attesters`), so the nodes converge on one chain,
/// which finalizes once its peers follow it. Before the fix, 8 to 10 nodes kept node 0's
/// finalized branch and 54 node 2's, conflicting at every checkpoint up to 54; seeds 0–5
/// split three times in six. About 25 s in the test profile.
#[test]
fn a_loaded_64_node_network_finalizes_one_chain() {
    let report = Simulation::new(SimConfig::loaded_network(0, 64))
        .run()
        .unwrap_or_else(|f| {
            panic!(
                "{}\n{}",
                f.config,
                f.violations
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
    assert!(
        report.finality_p50_secs > 0.0,
        "nothing finalized: {report}"
    );
}
