//! A libp2p peer that goes away leaves the node's peer set: requests reach connected
//! peers only, so a `/p2p/<id>` endpoint whose last connection closed would only make the
//! sync loop and the evaluator call a peer that is not there. It comes back when a new
//! connection identifies it.

use std::time::{Duration, Instant};

use doin_node::p2p::endpoint_of;
use doin_node::testnet::{minting_template, runtime, TestNet};

async fn until(what: &str, mut pred: impl FnMut() -> bool) {
    let start = Instant::now();
    while !pred() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn a_libp2p_peer_that_goes_away_leaves_the_peer_set_and_returns_with_it() {
    runtime().block_on(async {
        let mut net = TestNet::start(2, &minting_template(0, 0.5))
            .await
            .expect("network");
        let second = endpoint_of(&net.node(1).p2p.as_ref().expect("libp2p").local_peer());
        let first = net.node(0).peers.clone();
        until("the second node joins the first's peer set", || {
            first.endpoints().contains(&second)
        })
        .await;

        net.stop(1).await;
        until("the stopped node leaves the peer set", || {
            !first.endpoints().contains(&second)
        })
        .await;

        // Restarted (same key, same data), it dials the first node again and is back.
        net.restart(1).await.expect("restart");
        until("the restarted node joins the peer set again", || {
            first.endpoints().contains(&second)
        })
        .await;
        for i in 0..2 {
            if let Some(n) = net.nodes[i].take() {
                n.shutdown().await;
            }
        }
    });
}
