//! The first node of a network (a quorum configured, no bootstrap peers) has nobody to
//! sync from: it starts optimizing at once instead of waiting for peers, as the reference
//! did for 30 s.

use doin_node::optimizer_loop::PEER_WAIT;
use doin_node::testnet::{minting_template, runtime, TestNet};

#[test]
fn a_node_with_a_quorum_and_no_bootstrap_peers_commits_its_first_optimae_at_once() {
    let rt = runtime();
    let template = minting_template(1, 0.1);
    let domain = template.domains[0].domain_id.clone();
    // One node: TestNet gives it every other node as a bootstrap peer, that is none.
    let net = rt.block_on(TestNet::start(1, &template)).expect("node");
    assert!(
        !net.views()[0].solo,
        "a network chain (quorum of 1), not a solo one"
    );
    let api = net.api().expect("api");
    // Waiting on the event, bounded well under the peer wait it no longer does: a node
    // that still waited could not commit before PEER_WAIT had passed.
    let status = rt
        .block_on(
            api.wait_all("/status", "a committed optimae", PEER_WAIT * 2 / 3, |s| {
                s["domains"][&domain]["optimae_committed"].as_u64() >= Some(1)
            }),
        )
        .expect("the first optimae is committed before any peer wait could end");
    assert!(
        status["domains"][&domain]["round"].as_u64() >= Some(1),
        "{status}"
    );
    rt.block_on(net.shutdown());
}
