//! An evaluator its quorum names answers a task it cannot pull: three nodes on libp2p in a
//! line — an optimizer, a relay, an evaluator — with the optimizer and the evaluator never
//! connected to each other. The evaluator takes the task from its gossiped announcement
//! (`task_created` carries the whole task) and gossips its vote back through the relay,
//! where the optimizer collects it from its rejection pool. Without that path the
//! evaluator could only pull tasks from the queues of the peers it is connected to, and
//! the optimizer's quorum, drawn from the whole chain, would never vote.

use std::time::Duration;

use doin_node::config::NodeConfig;
use doin_node::testnet::{minting_template, runtime, TestNet};
use doin_plugins::PluginRegistry;

const OPTIMIZER: usize = 0;
const RELAY: usize = 1;
const EVALUATOR: usize = 2;

/// Quorums of one other node.
fn template() -> NodeConfig {
    minting_template(1, 0.5)
}

/// An accepted optimae as the test sees it: its block's index, its commit height, and
/// whether the evaluator voted on it.
type Seen = (i64, u64, bool);

/// The accepted optimae of `optimizer` on node `i`'s chain, seen for `evaluator`.
fn optimae_of(net: &TestNet, i: usize, optimizer: &str, evaluator: &str) -> Vec<Seen> {
    net.accepted_optimae(i)
        .into_iter()
        .filter(|(_, _, a)| a.optimizer_id == optimizer)
        .map(|(index, _, a)| {
            let voted = a.votes.iter().any(|v| v.evaluator_id == evaluator);
            (index, a.commit_height, voted)
        })
        .collect()
}

/// The block where `evaluator`'s first vote on `optimizer`'s optimae is (a young chain's
/// open slot, taken from its announcement), and the optimae committed after it.
fn after_first_vote(optimae: &[Seen]) -> Option<(i64, Vec<Seen>)> {
    let first = optimae.iter().find(|o| o.2)?.0;
    let first_height = u64::try_from(first).ok()?;
    let later = optimae
        .iter()
        .filter(|o| o.1 > first_height)
        .copied()
        .collect();
    Some((first, later))
}

#[test]
fn an_evaluator_not_connected_to_the_optimizer_votes_through_gossip() {
    let rt = runtime();
    rt.block_on(async {
        let net = TestNet::start_custom(3, &template(), |i, c| {
            for d in &mut c.domains {
                d.optimize = i == OPTIMIZER;
                d.evaluate = i == EVALUATOR;
            }
            PluginRegistry::with_builtins()
        })
        .await
        .expect("network");
        // The optimizer and the evaluator hear each other only through the relay.
        net.partition(&[&[OPTIMIZER], &[EVALUATOR]])
            .await
            .expect("sever the optimizer from the evaluator");
        let ids = net.identities();
        let (optimizer, evaluator) = (ids[OPTIMIZER].peer_id(), ids[EVALUATOR].peer_id());
        // Its first vote fills an open slot and makes it eligible; from then on it is the
        // quorum (the optimizer is not), so each later optimae needs its vote.
        net.wait_for(
            Duration::from_secs(240),
            "two optimae of the optimizer committed after the evaluator's first vote",
            |_| {
                let optimae = optimae_of(&net, OPTIMIZER, optimizer, evaluator);
                after_first_vote(&optimae).is_some_and(|(_, later)| later.len() >= 2)
            },
        )
        .await
        .expect("the evaluator's votes reached the optimizer");
        let optimae = optimae_of(&net, OPTIMIZER, optimizer, evaluator);
        let (first, later) = after_first_vote(&optimae).expect("found");
        assert!(
            later.iter().all(|o| o.2),
            "every optimae committed after block {first} has the evaluator's vote: {later:?}"
        );
        let last = later.last().expect("two").0;
        net.wait_for_common_block(
            last,
            Duration::from_secs(120),
            "the voted blocks on every node",
        )
        .await
        .expect("every node accepts them");
        let p2p = |i: usize| net.node(i).p2p.as_ref().expect("libp2p");
        let evaluator_peer = p2p(EVALUATOR).local_peer();
        assert!(
            !p2p(OPTIMIZER)
                .peers()
                .await
                .iter()
                .any(|p| p.peer == evaluator_peer),
            "the optimizer and the evaluator stayed apart"
        );
        eprintln!(
            "first vote in block {first}, then {} optimae voted through relay {:.8}",
            later.len(),
            ids[RELAY].peer_id()
        );
        net.shutdown().await;
    });
}
