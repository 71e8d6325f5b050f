//! The bootstrap rule under attack on a live two-node network chain with quorums of two (a
//! young chain for good: each node has one other peer to verify it). Optimizers offer open
//! verification tasks any evaluator may take; an attacker takes them under fresh keys
//! (peers below the minimum reputation) and votes a figure far from the truth. The votes
//! are admitted and recorded as divergent, but they do not decide: the honest optimae is
//! accepted on the quorum member's figure, the attacker's keys earn neither pay nor
//! reputation nor a seat on quorums, and the nodes keep minting.

mod adversary;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use adversary::*;
use doin_consensus::accepted::AcceptedOptimae;
use doin_node::testnet::describe;
use doin_primitives::identity::Identity;

#[test]
fn extra_votes_of_fresh_keys_do_not_decide() {
    runtime().block_on(async {
        let arena = Arena::start(2, 2, 2).await;
        let http = Http::new();
        let sybils = [Identity::generate(), Identity::generate()];
        let sybil_ids: BTreeSet<String> = sybils.iter().map(|s| s.peer_id().to_string()).collect();
        let endpoints: Vec<String> = (0..2).map(|i| arena.endpoint(i)).collect();
        let mut seen = BTreeSet::new();
        let mut voted = 0;
        let start = Instant::now();
        // The attacker votes on open tasks until an optimae carrying its votes lands on
        // chain: with two optimizers proposing early and often, many optimae are overtaken
        // before their block (not an improvement any more) and never land, whoever voted.
        let (optimae, state) = loop {
            let (state, blocks) = arena.chain_of(0);
            let hit = blocks
                .iter()
                .flat_map(|b| &b.transactions)
                .filter_map(|tx| AcceptedOptimae::from_tx(tx).ok())
                .find(|a| a.votes.iter().any(|v| sybil_ids.contains(&v.evaluator_id)));
            if let Some(hit) = hit {
                break (hit, state);
            }
            assert!(
                start.elapsed() < Duration::from_secs(90),
                "no optimae with the attacker's votes on chain after {voted} votes: {:?}",
                arena
                    .net
                    .views()
                    .iter()
                    .map(|v| describe(v))
                    .collect::<Vec<_>>()
            );
            let (at, task) = http.next_task(&endpoints, &mut seen, false).await;
            // Only optimae whose quorum is the other node: before anyone but the optimizer
            // is eligible at the commit block, the optimizer verifies itself and every vote
            // counts (the bootstrap rule), and optimizers propose early and often.
            let commit_height = blocks
                .iter()
                .find(|b| b.hash == task.seed_block_hash)
                .map_or(0, |b| b.header.index as u64);
            let others_eligible = state
                .eligible_evaluators(commit_height)
                .is_some_and(|e| e.iter().any(|p| *p != task.requester_id));
            if !others_eligible {
                continue;
            }
            let reported = task.reported_performance.expect("a report");
            for sybil in &sybils {
                let (status, _) = http.claim(&at, &task.id, sybil.peer_id()).await;
                if status != 200 {
                    continue;
                }
                // Ten times the loss the optimizer reported: far outside the tolerance.
                let lie = vote(
                    sybil,
                    sybil.peer_id(),
                    &task_subject(&task),
                    reported * 10.0,
                );
                let (status, body) = http.complete(&at, &task.id, sybil.peer_id(), &lie).await;
                assert_eq!(status, 200, "a valid vote is admitted: {body}");
                voted += 1;
                break;
            }
        };
        // Accepted on the member's figure, the attacker's votes recorded as divergent and
        // unpaid.
        let member = optimae
            .votes
            .iter()
            .find(|v| !sybil_ids.contains(&v.evaluator_id))
            .expect("the quorum member's vote");
        assert_eq!(
            optimae.verified_performance.to_bits(),
            member.verified_performance.to_bits(),
            "the member's figure decides"
        );
        for s in &sybil_ids {
            assert_eq!(state.balance(s), 0);
            assert_eq!(state.reputation(s), 0);
            // Not drawn into quorums either (they would never vote, and stall the chain).
            let eligible = state.eligible_evaluators(state.height()).expect("tip");
            assert!(!eligible.contains(s), "{s} is eligible: {eligible:?}");
        }
        arena.keeps_minting(2).await;
        arena.net.shutdown().await;
    });
}
