//! A heavier branch longer than one page is adopted while the node keeps minting: the
//! sync engine hands it to the chain service page by page, each page validated before the
//! next is kept, and the pages after the one that makes the branch heavier extend it.

mod hostile_peer;

use std::time::Duration;

use doin_node::chain_params::chain_params;
use doin_node::sync::PAGE;
use doin_node::testnet::TestNet;
use doin_primitives::identity::Identity;
use hostile_peer::{
    fetch_blocks, mint_on, runtime, solo_template, wait_for_block, wait_until, HostilePeer,
};

#[test]
fn a_heavier_branch_longer_than_a_page_is_adopted_while_the_node_mints() {
    runtime().block_on(async {
        // Finality deep enough that the branch may replace what the node mints meanwhile.
        let config = solo_template(200);
        let params = chain_params(&config);
        let net = TestNet::start(1, &config).await.expect("node");
        let node = net.node(0);
        wait_until(Duration::from_secs(30), "a few blocks", || {
            node.chain.view().height >= 4
        })
        .await;
        let view = node.chain.view();
        let ours = fetch_blocks(&node.endpoint(), view.tip_index).await;
        let branch = mint_on(&params, &ours, &Identity::generate(), PAGE as usize + 30, 1);
        let mut served = ours.clone();
        served.extend(branch.iter().cloned());
        let peer = HostilePeer::start(&view.params_hash).await;
        peer.serve(served);
        node.peers.add(&peer.endpoint);
        let last = branch.last().expect("blocks");
        wait_for_block(&node.endpoint(), last, Duration::from_secs(60)).await;
        assert!(
            !node.peers.sync_refusals().contains_key(&peer.endpoint),
            "{:?}",
            node.peers.sync_refusals()
        );
        net.shutdown().await;
    });
}
