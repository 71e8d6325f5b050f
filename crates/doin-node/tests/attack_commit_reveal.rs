//! Commit–reveal under attack on a live three-node network chain (quorums of one other
//! node): a reveal replayed under another node's id, a copied commitment (after and before
//! the honest optimae is on chain), a reveal that does not match its commitment, reveals
//! without a prior commitment on chain, and a reveal naming another commit block than the
//! one that carries its commitment (the seed an optimizer could grind) are each refused by
//! every node with the rule they break; the nodes keep minting, and the honest optimizer
//! keeps its optimae and its credit.

mod adversary;

use adversary::*;
use doin_consensus::accepted::AcceptedOptimae;

#[test]
fn copied_replayed_unmatched_and_uncommitted_reveals_earn_nothing() {
    runtime().block_on(async {
        let arena = Arena::start(3, 1, 4).await;
        let attacker = Attacker::new();
        let (state, blocks) = arena.settled_chain().await;
        let (h, honest) = last_optimae(&blocks);
        let forge = |state, optimae: &AcceptedOptimae| {
            attacker.forge_block(state, vec![attacker.seal(optimae)])
        };

        // A reveal replayed as is under the attacker's id, in the optimizer's own form
        // (sealed by the attacker; a carried claim seal would name the honest optimizer):
        // its optimae id names the honest optimizer.
        let replayed = AcceptedOptimae {
            optimizer_id: attacker.peer_id().to_string(),
            claim_seal: None,
            ..honest.clone()
        };
        arena
            .refused_everywhere(
                "a reveal replayed under another id",
                forge(&state, &replayed),
                "does not match its content",
            )
            .await;

        // The same reveal made the attacker's (its own optimae id): the commitment is
        // already used on chain.
        arena
            .refused_everywhere(
                "a copied commitment",
                forge(&state, &attacker.own(&honest)),
                "was already used on chain",
            )
            .await;

        // Copied before the honest optimae is on chain, in a block competing with the
        // honest one at its height: the chain says who committed it.
        let before = arena.state_at(&blocks, h - 1);
        arena
            .refused_everywhere(
                "a commitment copied ahead of the honest block",
                forge(&before, &attacker.own(&honest)),
                &format!(
                    "is not on chain at height {} under this optimizer",
                    honest.commit_height
                ),
            )
            .await;

        // A reveal whose parameters and nonce do not hash to its commitment.
        let mut unmatched = attacker.commit(&honest, honest.parameters.clone(), state.height());
        unmatched.nonce = "0".repeat(32);
        arena
            .refused_everywhere(
                "a reveal that does not match its commitment",
                forge(&state, &unmatched),
                "does not match the revealed parameters and nonce",
            )
            .await;

        // Reveals without a prior commitment: one whose commitment never went on chain, one
        // committed at the height being made (no block before the reveal to seed it from),
        // and one carrying no commitment at all.
        let never = attacker.commit(&honest, honest.parameters.clone(), state.height());
        arena
            .refused_everywhere(
                "a reveal whose commitment is not on chain",
                forge(&state, &never),
                "is not on chain at height",
            )
            .await;
        let uncommitted = attacker.commit(&honest, honest.parameters.clone(), state.height() + 1);
        arena
            .refused_everywhere(
                "a reveal committed at the height it is revealed in",
                forge(&state, &uncommitted),
                "is not within 20 blocks before height",
            )
            .await;
        let mut tx =
            attacker.seal(&attacker.commit(&honest, honest.parameters.clone(), state.height()));
        tx.payload.shift_remove("commitment_hash");
        tx.id = tx.compute_id();
        tx.seal = Some(
            attacker
                .id
                .seal(doin_primitives::seal::SealKind::Transaction, &tx.id),
        );
        arena
            .refused_everywhere(
                "a reveal without a commitment",
                attacker.forge_block(&state, vec![tx]),
                "malformed accepted-optimae payload",
            )
            .await;
        // A commitment the attacker did put on chain, revealed naming the block before its
        // commit block: a block whose hash it knew when it committed, so it could have
        // ground its nonce for that block's quorum and seeds.
        let mine = attacker.commit(&honest, honest.parameters.clone(), 0);
        let (mut landed, tip, _) = arena.committed(&attacker, mine).await;
        let at = landed.commit_height;
        landed.commit_height = at - 1;
        arena
            .refused_everywhere(
                "a reveal naming the block before its commit block",
                forge(&tip, &landed),
                &format!("is not on chain at height {}", at - 1),
            )
            .await;

        // Honest work goes on; the honest optimizer keeps its optimae and its pay.
        arena.keeps_minting(2).await;
        for i in 0..arena.net.nodes.len() {
            let (state, blocks) = arena.chain_of(i);
            let credited: Vec<String> = blocks
                .iter()
                .flat_map(|b| &b.transactions)
                .filter_map(|tx| AcceptedOptimae::from_tx(tx).ok())
                .filter(|a| a.commitment_hash == honest.commitment_hash)
                .map(|a| a.optimizer_id)
                .collect();
            assert_eq!(
                credited,
                std::slice::from_ref(&honest.optimizer_id),
                "node {i}"
            );
            assert!(state.balance(&honest.optimizer_id) > 0);
            assert_eq!(state.balance(attacker.peer_id()), 0, "node {i}");
            assert_eq!(state.reputation(attacker.peer_id()), 0, "node {i}");
            assert!(blocks
                .iter()
                .all(|b| b.header.generator_id != attacker.peer_id()));
        }
        arena.net.shutdown().await;
    });
}
