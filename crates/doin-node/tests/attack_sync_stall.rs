//! A peer that accepts sync requests and never answers cannot stall a real node's sync:
//! a follower peered with such a peer and with an honest minter keeps up with the minter
//! block after block (each peer syncs in its own task; the hanging one only times out).

mod hostile_peer;

use std::time::Duration;

use doin_node::testnet::TestNet;
use hostile_peer::{runtime, solo_template, wait_for_height, wait_until};

#[test]
fn a_hanging_peer_does_not_stall_sync_with_honest_ones() {
    runtime().block_on(async {
        let config = solo_template(3);
        let mut follower_config = config.clone();
        for d in &mut follower_config.domains {
            d.optimize = false;
            d.evaluate = false;
        }
        let minter = TestNet::start(1, &config).await.expect("minter");
        let follower = TestNet::start(1, &follower_config).await.expect("follower");

        // Accepts connections, reads nothing, answers nothing.
        let hang = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let hang_endpoint = hang.local_addr().expect("addr").to_string();
        let holder = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = hang.accept().await {
                held.push(socket);
            }
        });
        let (m, f) = (minter.node(0), follower.node(0));
        f.peers.add(&hang_endpoint);
        f.peers.add(&m.endpoint());

        for round in 0..3 {
            let target = m.chain.view().height + 2;
            wait_for_height(m, target, Duration::from_secs(20), "the minter to mint").await;
            wait_until(
                Duration::from_secs(5),
                &format!("the follower to reach {target} (round {round})"),
                || f.chain.view().height >= target,
            )
            .await;
        }
        holder.abort();
        follower.shutdown().await;
        minter.shutdown().await;
    });
}
