//! An optimizer that inflates its report pays for it on chain, on a live three-node network
//! chain (quorums of one other node). A node's key in the attacker's hands seals a claim
//! reporting twice the performance its parameters reach and serves the verification task;
//! the honest member of its quorum pulls it, measures the truth, and gossips its sealed vote
//! with the claim; the next block any node mints carries the rejection. On every node the
//! cheater then loses more reputation than an honest acceptance earns and a fifth of its
//! stake is burned, the honest evaluator gains, balances still sum to minted minus burned,
//! a task whose requester hides its claim gets no vote, and the nodes keep minting.

mod adversary;

use std::time::{Duration, Instant};

use adversary::*;
use doin_consensus::rejection::{stake_burn, RejectedOptimae};
use doin_consensus::reputation::ReputationEvent;
use doin_consensus::{ChainState, QuorumVote};
use doin_primitives::models::Block;

/// Node `i`'s chain, and the height of the block carrying a rejection of `commitment`.
fn rejection_height(arena: &Arena, i: usize, commitment: &str) -> Option<usize> {
    let (_, blocks) = arena.chain_of(i);
    blocks.iter().position(|b| {
        RejectedOptimae::read_block(b)
            .is_ok_and(|rs| rs.iter().any(|r| r.claim.commitment_hash == commitment))
    })
}

fn points(state: &ChainState, peer: &str) -> f64 {
    state.reputation(peer) as f64 / 1e6
}

/// The reputation `peer` gains in `block` from events other than rejections.
fn other_gain(summary: &doin_consensus::BlockSummary, peer: &str) -> f64 {
    let micro = |e: ReputationEvent| e.delta_micro() as f64 / 1e6;
    let mut gain = 0.0;
    for o in &summary.optimae {
        if o.optimizer_id == peer {
            gain += micro(ReputationEvent::OptimaeAccepted);
        }
        for (voter, agreed) in &o.votes {
            if voter == peer {
                gain += micro(if *agreed {
                    ReputationEvent::VoteAgreed
                } else {
                    ReputationEvent::VoteDivergent
                });
            }
        }
    }
    gain
}

#[test]
fn an_inflated_report_is_rejected_on_chain_and_costs_reputation_and_stake() {
    runtime().block_on(async {
        let arena = Arena::start(3, 1, 4).await;
        // The cheater: a node's key, once it holds enough reputation to lose and its
        // quorum is another node.
        let keys: Vec<_> = (0..3).map(|i| arena.key_of(i)).collect();
        let start = Instant::now();
        let (blocks, cheater) = 'found: loop {
            let (state, blocks) = arena.settled_chain().await;
            for key in &keys {
                let id = key.peer_id();
                if points(&state, id) >= 4.0 && state.balance(id) > 0 {
                    let cheater = Attacker { id: key.clone() };
                    break 'found (blocks, cheater);
                }
            }
            assert!(start.elapsed() < Duration::from_secs(60), "no reputation");
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let (_, honest) = last_optimae(&blocks);
        // Its commitment on chain first: the block that carries it draws the quorum. While
        // too few other evaluators are eligible (a young chain) the optimizer stands in its
        // own quorum; it commits again until another node's quorum is drawn.
        let start = Instant::now();
        let (mut mine, state, quorum) = loop {
            let mine = cheater.commit(&honest, honest.parameters.clone(), 0);
            let (mine, state, _) = arena.committed(&cheater, mine).await;
            let quorum = state
                .quorum_for(DOMAIN, cheater.peer_id(), mine.commit_height)
                .expect("quorum");
            if !quorum.iter().any(|q| q == cheater.peer_id()) {
                break (mine, state, quorum);
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the cheater stayed in its own quorum: {quorum:?}"
            );
        };
        let commit_height = mine.commit_height;
        let member = quorum[0].clone();
        let seed_block = state
            .recent_block_hash(commit_height)
            .expect("commit block")
            .to_owned();

        // Higher is better and performances are negative: half the loss is twice as good.
        mine.reported_performance = honest.verified_performance * 0.5;
        let task = verification_task(&mine, &cheater.id, &seed_block, &quorum);
        // A second optimae whose requester hides its claim: no honest evaluator votes on it.
        let hidden = cheater.commit(&honest, honest.parameters.clone(), commit_height);
        let mut hidden_task = verification_task(&hidden, &cheater.id, &seed_block, &quorum);
        hidden_task.claim = None;
        let server = TaskServer::start().await;
        let mut hidden_done = server.queue.push(hidden_task).expect("queued");
        let done = server.queue.push(task).expect("queued");
        arena
            .net
            .node(arena.index_of(&member))
            .peers
            .add(&server.endpoint);
        let completion = tokio::time::timeout(Duration::from_secs(20), done)
            .await
            .expect("the honest evaluator verifies the claimed optimae")
            .expect("completed");
        let vote = QuorumVote::from_value(completion.vote.as_ref().expect("a vote")).expect("vote");
        assert_eq!(vote.evaluator_id, member);
        assert!(
            (vote.verified_performance - mine.reported_performance).abs()
                > 0.1 * vote.verified_performance.abs(),
            "the evaluator measured {}, not the claim {}",
            vote.verified_performance,
            mine.reported_performance
        );

        // The member gossiped its vote with the claim: every node ends up with the
        // rejection on chain, whoever minted it.
        let start = Instant::now();
        let heights: Vec<usize> = loop {
            let found: Vec<Option<usize>> = (0..3)
                .map(|i| rejection_height(&arena, i, &mine.commitment_hash))
                .collect();
            // Every chain carries it, at one height: until then a node may still be on a
            // rival branch that carries it elsewhere and is about to reorganise.
            if found.iter().all(|h| h.is_some() && *h == found[0]) {
                break found.into_iter().flatten().collect();
            }
            assert!(
                start.elapsed() < Duration::from_secs(40),
                "the rejection did not reach every chain at one height: {found:?}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        };
        assert!(
            hidden_done.try_recv().is_err(),
            "a task without a claim got a vote"
        );

        let (_, blocks) = arena.chain_of(0);
        let h = heights[0];
        let block: &Block = &blocks[h];
        let before = arena.state_at(&blocks, h);
        let mut after = before.clone();
        let summary = after.apply_block(block).expect("valid");
        let rejection = summary
            .rejections
            .iter()
            .find(|r| r.commitment_hash == mine.commitment_hash)
            .expect("the rejection");
        assert_eq!(rejection.votes, vec![(member.clone(), true)]);

        // The cheater loses the −3 beyond whatever else it earned in the block: more than
        // an honest acceptance earns (the honest optimizer of the block before gained that).
        let cheater_id = cheater.peer_id();
        let loss = points(&before, cheater_id) + other_gain(&summary, cheater_id)
            - points(&after, cheater_id);
        // The latest earlier block that accepted an optimae (not every block does).
        let (prev, prev_after, prev_summary) = (1..h)
            .rev()
            .find_map(|k| {
                let prev = arena.state_at(&blocks, k);
                let mut prev_after = prev.clone();
                let summary = prev_after.apply_block(&blocks[k]).expect("valid");
                (!summary.optimae.is_empty()).then_some((prev, prev_after, summary))
            })
            .expect("an accepted optimae before the rejection");
        let honest_optimizer = &prev_summary.optimae[0].optimizer_id;
        let honest_gain = points(&prev_after, honest_optimizer)
            - points(&prev, honest_optimizer)
            - (other_gain(&prev_summary, honest_optimizer) - 1.0);
        assert!(honest_gain > 0.9, "an acceptance earns +1: {honest_gain}");
        assert!(
            loss > 2.9 && loss > honest_gain,
            "the rejection cost {loss} points, an acceptance earns {honest_gain}"
        );
        // The honest evaluator is not penalised: it gains for its agreeing vote.
        assert!(points(&after, &member) > points(&before, &member));

        // A fifth of the stake burned; the supply adds up on every node.
        let paid: u64 = summary
            .coinbase
            .outputs
            .iter()
            .filter(|o| o.recipient == cheater_id)
            .map(|o| o.amount)
            .sum();
        let balance = before.balance(cheater_id) + paid;
        let stake = claim_of(&mine, &cheater.id, doin_consensus::fee_market::MIN_BASE_FEE).stake;
        let burned = stake_burn(stake, before.base_fee(), balance);
        assert!(
            burned > 0 && burned == stake / 5,
            "burned {burned} of {stake}"
        );
        assert_eq!(after.balance(cheater_id), balance - burned);
        assert_eq!(
            after.total_burned(),
            before.total_burned() + summary.transfers.burned + burned
        );
        for i in 0..3 {
            let (state, _) = arena.chain_of(i);
            assert!(state.has_commitment(&mine.commitment_hash), "node {i}");
            assert_eq!(state.rejection_tally().rejected, 1, "node {i}");
            assert_eq!(
                state.balances().values().sum::<u64>() + state.total_locked(),
                state.total_minted() - state.total_burned(),
                "node {i}"
            );
        }

        // /fees shows the claims in flight of the honest optimizers and their stakes.
        let http = reqwest::Client::new();
        let start = Instant::now();
        loop {
            let mut shown = false;
            for i in 0..3 {
                let url = format!("http://{}/fees", arena.endpoint(i));
                let fees: serde_json::Value = http
                    .get(url)
                    .send()
                    .await
                    .expect("answers")
                    .json()
                    .await
                    .expect("json");
                assert!(fees["total_burned_units"].as_u64().expect("burned") >= burned);
                let n = fees["staked_optimae"].as_u64().expect("count");
                let total = fees["total_staked_units"].as_u64().expect("total");
                shown |= n > 0 && total >= n * stake;
            }
            if shown {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "/fees never showed a stake"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // A reference node follows the chain and counts the rejection against the cheater
        // (its reputation −3), as DOIN does.
        let reference = arena
            .net
            .api()
            .expect("HTTP client")
            .follow_as_reference(0)
            .await
            .expect("a reference node follows");
        let derived = reference.derived();
        assert_eq!(
            derived.rejected.get(cheater.id.peer_id().as_str()),
            Some(&1),
            "{derived:?}"
        );
        assert_eq!(derived.rejected.len(), 1);

        arena.keeps_minting(2).await;
        drop(server);
        arena.net.shutdown().await;
    });
}
