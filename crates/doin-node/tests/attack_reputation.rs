//! An optimizer that inflates its report, against a live three-node network chain (quorums
//! of one other node): the attacker serves a verification task of its own, the honest
//! evaluator its quorum names pulls it, measures the parameters on its own seeded data and
//! signs what it measured; the attacker's block claiming the inflated figure is refused by
//! every node (the quorum rejects it), the attacker earns nothing, and the nodes keep
//! minting.

mod adversary;

use std::time::Duration;

use adversary::*;
use doin_consensus::QuorumVote;

#[test]
fn an_inflated_report_is_rejected_by_the_honest_quorum() {
    runtime().block_on(async {
        let arena = Arena::start(3, 1, 4).await;
        let attacker = Attacker::new();
        let server = TaskServer::start().await;
        let (_, blocks) = arena.settled_chain().await;
        let (_, honest) = last_optimae(&blocks);
        let mine = attacker.commit(&honest, honest.parameters.clone(), 0);
        // Its commitment on chain first: the block that carries it draws the quorum.
        let (mut mine, state, _) = arena.committed(&attacker, mine).await;
        let commit_height = mine.commit_height;
        // Higher is better and performances are negative: half the loss is twice as good.
        mine.reported_performance = honest.verified_performance * 0.5;
        let quorum = state
            .quorum_for(DOMAIN, attacker.peer_id(), commit_height)
            .expect("quorum");
        let member = quorum[0].clone();
        let seed_block = state
            .recent_block_hash(commit_height)
            .expect("commit block");
        let task = verification_task(&mine, &attacker.id, seed_block, &quorum);
        let done = server.queue.push(task).expect("queued");
        arena
            .net
            .node(arena.index_of(&member))
            .peers
            .add(&server.endpoint);
        let completion = tokio::time::timeout(Duration::from_secs(20), done)
            .await
            .expect("the honest evaluator verifies the attacker's optimae")
            .expect("completed");
        let honest_vote =
            QuorumVote::from_value(completion.vote.as_ref().expect("a vote")).expect("vote");
        assert_eq!(honest_vote.evaluator_id, member);
        let measured = honest_vote.verified_performance;
        assert!(
            (measured - mine.reported_performance).abs() > 0.1 * measured.abs(),
            "the evaluator measured {measured}, not the claim {}",
            mine.reported_performance
        );

        mine.votes = vec![honest_vote];
        mine.verified_performance = measured;
        arena
            .refused_everywhere(
                "an inflated report",
                attacker.forge_block_at(
                    &state,
                    vec![attacker.seal(&mine)],
                    // A second after its parent: the quorum drawn above is validation's.
                    state.tip_time_micros() + 1_000_000,
                ),
                "quorum rejects: 1 of 1 votes agree, report divergence",
            )
            .await;

        arena.keeps_minting(2).await;
        for i in 0..arena.net.nodes.len() {
            let (state, _) = arena.chain_of(i);
            assert_eq!(state.balance(attacker.peer_id()), 0, "node {i}");
            assert_eq!(state.reputation(attacker.peer_id()), 0, "node {i}");
        }
        drop(server);
        arena.net.shutdown().await;
    });
}
