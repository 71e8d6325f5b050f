//! Per-evaluator synthetic-data seeds under attack on a live three-node network chain
//! (quorums of two other nodes): every vote on chain declares its own evaluator's seed,
//! derived from the optimae's commitment and the block at its commit height, so no two
//! evaluators of an optimae share data; a quorum member's vote declaring another seed does
//! not complete its task, and a block whose votes declare seeds of another block or of
//! another evaluator is refused by every node. The nodes keep minting.

mod adversary;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use adversary::*;
use doin_consensus::accepted::AcceptedOptimae;
use doin_consensus::{ChainState, ConsensusError, QuorumVote};

#[test]
fn votes_with_another_seed_are_refused() {
    runtime().block_on(async {
        let arena = Arena::start(3, 2, 4).await;
        let attacker = Attacker::new();
        let http = Http::new();

        // On chain: each vote's seed is its evaluator's, from the commitment and the block
        // at the commit height.
        let (_, blocks) = arena.settled_chain().await;
        let mut replay = ChainState::new(arena.params.clone());
        let mut with_quorum = 0;
        for block in &blocks {
            for tx in block.check_layout().expect("layout").accepted {
                let a = AcceptedOptimae::from_tx(tx).expect("accepted optimae");
                for v in &a.votes {
                    let expected = replay
                        .synthetic_seed_for(
                            &a.commitment_hash,
                            DOMAIN,
                            &v.evaluator_id,
                            a.commit_height,
                        )
                        .expect("window");
                    assert_eq!(v.synthetic_seed, expected, "block {}", block.header.index);
                }
                let seeds: BTreeSet<u64> = a.votes.iter().map(|v| v.synthetic_seed).collect();
                assert_eq!(seeds.len(), a.votes.len(), "one seed per evaluator");
                with_quorum += usize::from(a.votes.len() == 2);
            }
            replay.apply_block(block).expect("valid");
        }
        assert!(with_quorum >= 1);

        // Over HTTP: a member (the attacker holds its key) completes its task with a vote
        // declaring the seed of another block, then the seed of another evaluator.
        let endpoints: Vec<String> = (0..3).map(|i| arena.endpoint(i)).collect();
        let start = Instant::now();
        let mut seen = BTreeSet::new();
        let mut refused = 0;
        while refused < 2 {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no task to attack"
            );
            let (at, task) = http.next_quorum_task(&endpoints, &mut seen).await;
            let member = task.quorum[0].clone();
            let key = arena.key_of(arena.index_of(&member));
            let (status, _) = http.claim(&at, &task.id, &member).await;
            if status != 200 {
                continue;
            }
            let other_block = "0".repeat(64);
            let mut s = task_subject(&task);
            let forged = if refused == 0 {
                s.seed_block_hash = &other_block;
                vote(&key, &member, &s, -1.0)
            } else {
                let other = vote(&key, attacker.peer_id(), &s, -1.0);
                QuorumVote {
                    evaluator_id: member.clone(),
                    seal: None,
                    ..other
                }
                .sealed(&key)
            };
            let (status, body) = http.complete(&at, &task.id, &member, &forged).await;
            if body.to_string().contains("not found or not claimed") {
                continue; // the member completed in between
            }
            assert_eq!(status, 409, "{body}");
            assert!(body.to_string().contains("declares seed"), "{body}");
            refused += 1;
        }

        // In a block: the attacker's optimae verified by its quorum (whose keys it holds),
        // the votes declaring seeds of the tip rather than of the commit block.
        let (_, honest) = last_optimae(&blocks);
        let mine = attacker.commit(&honest, honest.parameters.clone(), 0);
        // Its commitment on chain first, in a block below the attacker's parent.
        let (mut mine, state, _) = arena.committed(&attacker, mine).await;
        let commit_height = mine.commit_height;
        assert!(commit_height < state.height());
        let quorum = state
            .quorum_for(DOMAIN, attacker.peer_id(), commit_height)
            .expect("quorum");
        let commit_block = state
            .recent_block_hash(commit_height)
            .expect("recent")
            .to_owned();
        let votes_from = |mine: &AcceptedOptimae, seed_block: &str| -> Vec<QuorumVote> {
            quorum
                .iter()
                .map(|q| {
                    let key = arena.key_of(arena.index_of(q));
                    vote(
                        &key,
                        q,
                        &subject(mine, seed_block),
                        honest.verified_performance,
                    )
                })
                .collect()
        };
        mine.votes = votes_from(&mine, state.tip_hash());
        arena
            .refused_everywhere(
                "votes seeded from another block",
                // Dated a second after its parent, so the quorum drawn above is the one
                // validation draws (a block after a stall draws from everyone).
                attacker.forge_block_at(
                    &state,
                    vec![attacker.seal(&mine)],
                    state.tip_time_micros() + 1_000_000,
                ),
                "declares seed",
            )
            .await;
        // The same votes with the commit block's seeds pass the seed rule.
        mine.votes = votes_from(&mine, &commit_block);
        let verdict = state.check_accepted_tx(&attacker.seal(&mine));
        assert!(
            !matches!(
                verdict.as_ref().map_err(ConsensusError::root),
                Err(ConsensusError::WrongVoteSeed { .. })
            ),
            "{verdict:?}"
        );

        arena.keeps_minting(2).await;
        arena.net.shutdown().await;
    });
}

/// A completion reaches the seal check with its numbers exactly as the evaluator signed
/// them (a lossy JSON float parse would turn an honest vote into a forged-looking one).
#[test]
fn a_vote_completes_with_its_numbers_exactly_as_signed() {
    runtime().block_on(async {
        let server = TaskServer::start().await;
        let evaluator = doin_primitives::identity::Identity::generate();
        let task = doin_node::task_queue::QueuedTask {
            id: "t".into(),
            kind: doin_node::task_queue::TaskKind::OptimaeVerification,
            domain_id: DOMAIN.into(),
            state: doin_node::task_queue::TaskState::Pending,
            requester_id: "optimizer".into(),
            evaluator_id: None,
            parameters: doin_primitives::value::Map::new(),
            optimae_id: "o".into(),
            reported_performance: None,
            created_at: doin_primitives::Timestamp::now_utc(),
            claimed_at: None,
            completed_at: None,
            priority: 0,
            verified_performance: None,
            commitment_hash: "c".into(),
            seed_block_hash: "b".into(),
            quorum: vec![evaluator.peer_id().to_string()],
            claim: None,
        };
        let done = server.queue.push(task.clone()).expect("queued");
        let http = Http::new();
        let (status, _) = http.claim(&server.endpoint, "t", evaluator.peer_id()).await;
        assert_eq!(status, 200);
        // serde_json's default parser reads this as -1547.877464700891.
        let figure = -1547.8774647008913;
        let v = vote(
            &evaluator,
            evaluator.peer_id(),
            &task_subject(&task),
            figure,
        );
        let (status, body) = http
            .complete(&server.endpoint, "t", evaluator.peer_id(), &v)
            .await;
        assert_eq!(status, 200, "{body}");
        let completion = done.await.expect("completed");
        assert_eq!(completion.verified_performance.to_bits(), figure.to_bits());
    });
}

/// An evaluator votes only on an optimae whose commit block its own chain holds (a vote
/// attests the chain up to that block): of two tasks served to a quorum member, the one
/// seeded from the block that carries its commitment is evaluated and completed; the one
/// claiming another block as its commit block is left alone.
#[test]
fn an_evaluator_does_not_vote_on_a_commit_block_its_chain_does_not_hold() {
    runtime().block_on(async {
        let arena = Arena::start(3, 2, 4).await;
        let attacker = Attacker::new();
        let http = Http::new();
        let (_, blocks) = arena.settled_chain().await;
        let (_, honest) = last_optimae(&blocks);
        let landed = |seed: u64| {
            let mut parameters = honest.parameters.clone();
            parameters.insert("seed".into(), seed.into());
            attacker.commit(&honest, parameters, 0)
        };
        let (elsewhere, _, _) = arena.committed(&attacker, landed(1)).await;
        let (held, state, _) = arena.committed(&attacker, landed(2)).await;
        let block_at = |h: u64| state.recent_block_hash(h).expect("recent").to_owned();
        let quorum = state
            .quorum_for(DOMAIN, attacker.peer_id(), held.commit_height)
            .expect("quorum");
        let member = quorum[0].clone();

        // The task naming a block that does not carry its commitment first, then the
        // other: one poll of the member sees both, in that order.
        let server = TaskServer::start().await;
        let mut off_chain = verification_task(
            &elsewhere,
            &attacker.id,
            &block_at(elsewhere.commit_height - 1),
            std::slice::from_ref(&member),
        );
        off_chain.priority = 0;
        let mut on_chain = verification_task(
            &held,
            &attacker.id,
            &block_at(held.commit_height),
            std::slice::from_ref(&member),
        );
        on_chain.priority = 1;
        server.queue.push(off_chain.clone()).expect("queued");
        let done = server.queue.push(on_chain.clone()).expect("queued");
        let listed: Vec<String> = http
            .pending(&server.endpoint)
            .await
            .into_iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(listed, [off_chain.id.clone(), on_chain.id.clone()]);
        arena
            .net
            .node(arena.index_of(&member))
            .peers
            .add(&server.endpoint);
        let completion = tokio::time::timeout(Duration::from_secs(30), done)
            .await
            .expect("the member completes the task seeded from the commit block")
            .expect("completed");
        let v = QuorumVote::from_value(completion.vote.as_ref().expect("a vote")).expect("vote");
        v.check_for(&member, &task_subject(&on_chain))
            .expect("the member's own vote");
        let still: Vec<String> = http
            .pending(&server.endpoint)
            .await
            .into_iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(
            still,
            [off_chain.id],
            "the task seeded from another block is neither claimed nor voted on"
        );
        drop(server);
        arena.net.shutdown().await;
    });
}
