//! Quorum selection and minimum reputation under attack on a live three-node network chain
//! (quorums of one other node): every node draws the same quorum from chain data and every
//! optimae on chain was verified by exactly it; claims from outside a quorum are refused; in
//! blocks, votes of the optimizer itself, of a peer never seen on chain (below the minimum
//! reputation), of an eligible node outside the quorum, and a member's vote counted twice
//! are refused; a claim made in a member's name does not lock the member out, and a
//! completion it did not seal is refused. The nodes keep minting.

mod adversary;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use adversary::*;
use doin_consensus::accepted::AcceptedOptimae;
use doin_consensus::reputation::meets_minimum;
use doin_consensus::{ChainState, QuorumVote};
use doin_primitives::identity::Identity;

const K: u32 = 1;

/// Every optimae on node `i`'s chain past the bootstrap was verified by exactly the quorum
/// the chain data gives; returns how many were checked.
fn votes_come_from_the_drawn_quorum(arena: &Arena, i: usize) -> usize {
    let (_, blocks) = arena.chain_of(i);
    let mut state = ChainState::new(arena.params.clone());
    let mut checked = 0;
    for block in &blocks {
        let at = block.header.timestamp.unix_micros();
        for tx in block.check_layout().expect("layout").accepted {
            let a = AcceptedOptimae::from_tx(tx).expect("accepted optimae");
            if state.is_young(&a.optimizer_id, a.commit_height) {
                continue;
            }
            let quorum = state
                .quorum_for_at(DOMAIN, &a.optimizer_id, a.commit_height, at)
                .expect("quorum");
            let voters: BTreeSet<&str> = a.votes.iter().map(|v| v.evaluator_id.as_str()).collect();
            let drawn: BTreeSet<&str> = quorum.iter().map(String::as_str).collect();
            assert_eq!(voters, drawn, "block {}", block.header.index);
            assert_eq!(quorum.len(), K as usize);
            assert!(!drawn.contains(a.optimizer_id.as_str()));
            let eligible = state.eligible_evaluators(a.commit_height).expect("recent");
            assert!(quorum.iter().all(|q| eligible.contains(q)));
            checked += 1;
        }
        state.apply_block(block).expect("valid");
    }
    checked
}

#[test]
fn quorums_are_drawn_from_chain_data_and_outsiders_do_not_count() {
    runtime().block_on(async {
        let arena = Arena::start(3, K, 4).await;
        let attacker = Attacker::new();
        let http = Http::new();
        let (state, blocks) = arena.settled_chain().await;

        // Every node's chain: each optimae verified by exactly the drawn quorum.
        for i in 0..3 {
            assert!(votes_come_from_the_drawn_quorum(&arena, i) >= 1, "node {i}");
        }
        // Every node draws the same quorum for any optimizer from its copy of the chain.
        let chains: Vec<_> = (0..3).map(|i| arena.chain_of(i).1).collect();
        let common = (0..chains.iter().map(Vec::len).min().unwrap_or(0))
            .take_while(|&h| chains.iter().all(|c| c[h].hash == chains[0][h].hash))
            .count();
        assert!(common >= blocks.len(), "the nodes share {common} blocks");
        let states: Vec<ChainState> = chains.iter().map(|c| arena.state_at(c, common)).collect();
        for optimizer in [attacker.peer_id(), &arena.net.node(0).peer_id] {
            let drawn: BTreeSet<Vec<String>> = states
                .iter()
                .map(|s| {
                    s.quorum_for(DOMAIN, optimizer, common as u64)
                        .expect("quorum")
                })
                .collect();
            assert_eq!(drawn.len(), 1, "one quorum: {drawn:?}");
        }
        // Minimum reputation: the eligible evaluators all reach it (past the bootstrap), and
        // a peer never seen on chain is not among them.
        let eligible = state.eligible_evaluators(state.height()).expect("tip");
        let qualified = eligible
            .iter()
            .filter(|e| meets_minimum(state.reputation(e), &arena.params))
            .count();
        assert!(qualified == eligible.len() || qualified < K as usize);
        assert!(!eligible.iter().any(|e| e == attacker.peer_id()));

        // Over HTTP, on the nodes' own tasks: a claim from outside the quorum is refused.
        let endpoints: Vec<String> = (0..3).map(|i| arena.endpoint(i)).collect();
        let mut seen = BTreeSet::new();
        let start = Instant::now();
        loop {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no task to claim"
            );
            let (at, task) = http.next_quorum_task(&endpoints, &mut seen).await;
            let (status, body) = http.claim(&at, &task.id, attacker.peer_id()).await;
            if body.to_string().contains("not found") {
                continue; // the member was faster
            }
            assert_eq!(status, 409, "{body}");
            assert!(
                body.to_string().contains("is not in this task's quorum"),
                "{body}"
            );
            break;
        }

        // In blocks: the attacker's own optimae with votes that must not count.
        let (_, honest) = last_optimae(&blocks);
        let mine = attacker.commit(&honest, honest.parameters.clone(), 0);
        // Its commitment on chain first: the block that carries it draws the quorum.
        let (mut mine, state, _) = arena.committed(&attacker, mine).await;
        let quorum = state
            .quorum_for(DOMAIN, attacker.peer_id(), mine.commit_height)
            .expect("quorum");
        let member = quorum[0].clone();
        let member_key = arena.key_of(arena.index_of(&member));
        let outsider_node = (0..3)
            .map(|i| arena.net.node(i).peer_id.clone())
            .find(|p| *p != member)
            .expect("a node outside the quorum");
        let outsider_key = arena.key_of(arena.index_of(&outsider_node));
        let seed_block = state
            .recent_block_hash(mine.commit_height)
            .expect("commit block")
            .to_owned();
        let perf = honest.verified_performance;
        let sybil = Identity::generate();
        let s = subject(&mine, &seed_block);
        let cases = [
            (
                "the optimizer's own vote",
                vec![vote(&attacker.id, attacker.peer_id(), &s, perf)],
                format!("vote from {}, who is not in the quorum", attacker.peer_id()),
            ),
            (
                "a vote of a peer below the minimum reputation",
                vec![
                    vote(&member_key, &member, &s, perf),
                    vote(&sybil, sybil.peer_id(), &s, perf),
                ],
                format!("vote from {}, who is not in the quorum", sybil.peer_id()),
            ),
            (
                "a vote of an eligible node outside the quorum",
                vec![
                    vote(&member_key, &member, &s, perf),
                    vote(&outsider_key, &outsider_node, &s, perf),
                ],
                format!("vote from {outsider_node}, who is not in the quorum"),
            ),
            (
                "a member's vote counted twice",
                vec![
                    vote(&member_key, &member, &s, perf),
                    vote(&member_key, &member, &s, perf),
                ],
                format!("duplicate vote from {member}"),
            ),
        ];
        for (what, votes, reason) in cases {
            mine.votes = votes;
            arena
                .refused_everywhere(
                    what,
                    attacker.forge_block_at(
                        &state,
                        vec![attacker.seal(&mine)],
                        // A second after its parent: the quorum drawn above is validation's.
                        state.tip_time_micros() + 1_000_000,
                    ),
                    &reason,
                )
                .await;
        }

        // A task served to the honest member, claimed first in the member's name by someone
        // else: that claim's completion without the member's seal is refused, and the member
        // still pulls, evaluates and completes the task with its own vote.
        let server = TaskServer::start().await;
        let task = verification_task(&mine, &attacker.id, &seed_block, &quorum);
        let done = server.queue.push(task.clone()).expect("queued");
        let (status, _) = http.claim(&server.endpoint, &task.id, &member).await;
        assert_eq!(status, 200, "an unsigned claim in the member's name");
        let forged = vote(&attacker.id, &member, &task_subject(&task), perf);
        let (status, body) = http
            .complete(&server.endpoint, &task.id, &member, &forged)
            .await;
        assert_eq!(status, 409, "{body}");
        assert!(
            body.to_string().contains("vote refused: vote seal of"),
            "{body}"
        );
        arena
            .net
            .node(arena.index_of(&member))
            .peers
            .add(&server.endpoint);
        let completion = tokio::time::timeout(Duration::from_secs(20), done)
            .await
            .expect("the member completes its task")
            .expect("completed");
        let v = QuorumVote::from_value(completion.vote.as_ref().expect("a vote")).expect("vote");
        assert_eq!(v.evaluator_id, member);
        v.check_for(&member, &task_subject(&task))
            .expect("the member's own vote");

        arena.keeps_minting(2).await;
        drop(server);
        arena.net.shutdown().await;
    });
}
