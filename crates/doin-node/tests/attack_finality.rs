//! Measure 5, finality checkpoints, against a real node: a hostile peer serves a valid,
//! longer and far heavier branch that forks below the node's finalized height; the node
//! refuses it (the refusal reason is read back), keeps minting on its own chain, and still
//! adopts a heavier valid branch that keeps its finalized block.

mod hostile_peer;

use std::time::Duration;

use doin_consensus::ChainState;
use doin_node::chain_params::chain_params;
use doin_node::chain_service::ImportError;
use doin_node::sync::SyncError;
use doin_node::testnet::TestNet;
use doin_primitives::identity::Identity;
use hostile_peer::{
    fetch_blocks, holds_block_within, mint_on, runtime, solo_template, wait_for_height, wait_until,
    HostilePeer,
};

const DEPTH: u32 = 4;

#[test]
fn a_heavier_branch_below_the_finalized_block_is_refused() {
    runtime().block_on(async {
        let config = solo_template(DEPTH);
        let params = chain_params(&config);
        let net = TestNet::start(1, &config).await.expect("node");
        let node = net.node(0);
        wait_until(Duration::from_secs(30), "a finalized block above 4", || {
            node.chain.view().finalized_height >= 4
        })
        .await;
        let view = node.chain.view();
        let finalized = view.finalized_height;
        let ours = fetch_blocks(&node.endpoint(), view.tip_index).await;

        // A valid branch from just below the finalized block: longer and far heavier.
        let fork_point = usize::try_from(finalized - 1).expect("height");
        let forger = Identity::generate();
        let branch = mint_on(&params, &ours[..fork_point], &forger, ours.len() + 20, 1);
        let mut theirs = ours[..fork_point].to_vec();
        theirs.extend(branch.iter().cloned());
        let their_state = ChainState::replay(params.clone(), &theirs).expect("valid branch");
        let our_state = ChainState::replay(params.clone(), &ours).expect("valid chain");
        // Heavier in work and length; fork choice ranks finality first, so the branch
        // (whose forger holds no attestation weight) could not finalize past ours anyway.
        assert!(
            their_state.cumulative_work() > our_state.cumulative_work()
                && their_state.height() > our_state.height(),
            "the attack branch must be the heavier one"
        );

        let hostile = HostilePeer::start(&view.params_hash).await;
        hostile.serve(theirs);
        node.peers.add(&hostile.endpoint);
        wait_until(Duration::from_secs(20), "the branch to be refused", || {
            node.peers.sync_refusals().contains_key(&hostile.endpoint)
        })
        .await;
        let refusal = node.peers.sync_refusals()[&hostile.endpoint].clone();
        assert!(
            matches!(
                refusal.last,
                SyncError::Import(ImportError::BelowFinality { .. })
                    | SyncError::ForksBelowFinality { .. }
            ),
            "refused for another reason: {:?}",
            refusal.last
        );

        // Honest work goes on, on our own chain: the finalized block is still ours.
        let at_refusal = node.chain.view().height;
        wait_for_height(
            node,
            at_refusal + 2,
            Duration::from_secs(20),
            "the node to mint on",
        )
        .await;
        let now = fetch_blocks(&node.endpoint(), finalized).await;
        assert_eq!(now[..], ours[..now.len()], "finalized blocks were reverted");
        let forged: std::collections::BTreeSet<_> = branch.iter().map(|b| &b.hash).collect();
        assert!(!forged.contains(&node.chain.view().tip_hash));
        let status: serde_json::Value = reqwest::get(format!("http://{}/status", node.endpoint()))
            .await
            .expect("status")
            .json()
            .await
            .expect("json");
        let reason = status["security"]["sync_refusals"][&hostile.endpoint]["last_error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            reason.contains("finalized height"),
            "/status says {reason:?}"
        );

        // Control: a heavier valid branch that keeps the finalized block is adopted, so
        // the refusal above was finality's doing, not the branch's.
        // The node keeps minting meanwhile: a branch from its tip is only above its
        // finalized block until it mints DEPTH more, so a try that came too late (refused
        // for finality, as it should be) is made again from the new tip.
        let mut adopted = false;
        for _ in 0..5 {
            let view = node.chain.view();
            let ours = fetch_blocks(&node.endpoint(), view.tip_index).await;
            let keep = usize::try_from(view.tip_index).expect("height");
            let branch = mint_on(&params, &ours[..keep], &forger, 30, 1);
            let mut theirs = ours[..keep].to_vec();
            theirs.extend(branch.iter().cloned());
            let fair = HostilePeer::start(&view.params_hash).await;
            fair.serve(theirs);
            node.peers.add(&fair.endpoint);
            let last = branch.last().expect("blocks");
            if holds_block_within(&node.endpoint(), last, Duration::from_secs(10)).await {
                adopted = true;
                break;
            }
            node.peers.block(&fair.endpoint);
        }
        assert!(
            adopted,
            "a heavier branch above the finalized block is adopted"
        );
        net.shutdown().await;
    });
}
