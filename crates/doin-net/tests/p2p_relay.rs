//! NAT traversal on loopback: a node that listens only through a relay (a third node
//! serving circuits) is reached, identified and asked for its chain through the circuit.

mod p2p_net;

use doin_net::p2p::{P2pConfig, P2pEvent};
use libp2p::multiaddr::Protocol;
use p2p_net::{accept_all, no_blocks, TestNode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_behind_a_relay_is_reached_through_its_circuit() {
    let relay = TestNode::start(
        P2pConfig {
            relay_server: true,
            discovery: false,
            ..P2pConfig::loopback()
        },
        accept_all(),
        no_blocks(),
    )
    .await;
    // A relay serves circuits only at an address it knows is reachable.
    relay
        .handle
        .add_external_address(relay.addr.clone().expect("listening"))
        .await
        .expect("external");
    // Hidden listens on no address of its own: only on a circuit through the relay.
    let mut hidden = TestNode::start(
        P2pConfig {
            listen_addrs: Vec::new(),
            discovery: false,
            ..P2pConfig::loopback()
        },
        accept_all(),
        no_blocks(),
    )
    .await;
    let circuit = relay.dial_addr().with(Protocol::P2pCircuit);
    hidden.handle.listen(circuit.clone()).await.expect("listen");
    hidden
        .next(|e| match e {
            P2pEvent::Listening(a) if a.iter().any(|p| p == Protocol::P2pCircuit) => Some(()),
            _ => None,
        })
        .await;

    let mut outside = TestNode::start(
        P2pConfig {
            discovery: false,
            ..P2pConfig::loopback()
        },
        accept_all(),
        no_blocks(),
    )
    .await;
    let through = circuit.with_p2p(hidden.peer()).expect("p2p");
    outside.handle.dial(through).await.expect("dial");
    let address = outside
        .next(|e| match e {
            P2pEvent::PeerConnected { peer, address } if *peer == hidden.peer() => {
                Some(address.clone())
            }
            _ => None,
        })
        .await;
    assert!(
        address.iter().any(|p| p == Protocol::P2pCircuit),
        "relayed: {address}"
    );
    outside.identified_all(&[&hidden]).await;
    let status = outside
        .handle
        .chain_status(hidden.peer())
        .await
        .expect("status through the relay");
    assert_eq!(status, br#"{"height":0}"#);
    for n in [&relay, &hidden, &outside] {
        n.handle.shutdown().await;
    }
}
