//! Block sync over request-response: status and pages served by a node's answer, and the
//! bounds enforced on both sides (a page over 50 blocks or 8 MiB is refused, a request
//! for more than 50 blocks is refused); a request to a peer that is gone fails at once,
//! without dialing it.

mod p2p_net;

use std::sync::Arc;

use doin_net::p2p::codec::{SyncCodec, SYNC_PROTOCOL};
use doin_net::p2p::{
    P2pConfig, RequestError, SyncRequest, SyncResponse, MAX_PAGE_BLOCKS, MAX_PAGE_BYTES,
};
use futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, tcp, yamux, Multiaddr, Swarm, SwarmBuilder};
use p2p_net::{accept_all, Server, TestNode};

/// Serves blocks `{"index": i}` for any range, and pads block 7 to 9 MiB (a page holding
/// it is over the limit, which the serving node must refuse to send).
fn chain_server() -> Server {
    Arc::new(|req| match *req {
        SyncRequest::Status => SyncResponse::Status(br#"{"height":100}"#.to_vec()),
        SyncRequest::Blocks { from, to } => SyncResponse::Blocks(
            (from..=to)
                .map(|i| {
                    let mut b = format!("{{\"index\":{i}}}").into_bytes();
                    if i == 7 {
                        b.resize(9 << 20, b' ');
                    }
                    b
                })
                .collect(),
        ),
    })
}

/// A bare libp2p peer speaking only the sync protocol, with none of a node's checks.
fn raw_peer() -> Swarm<request_response::Behaviour<SyncCodec>> {
    SwarmBuilder::with_existing_identity(Keypair::generate_ecdsa())
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .expect("tcp")
        .with_behaviour(|_| {
            request_response::Behaviour::with_codec(
                SyncCodec,
                [(SYNC_PROTOCOL, ProtocolSupport::Full)],
                request_response::Config::default(),
            )
        })
        .expect("behaviour")
        .build()
}

async fn listen(swarm: &mut Swarm<request_response::Behaviour<SyncCodec>>) -> Multiaddr {
    swarm
        .listen_on("/ip4/127.0.0.1/tcp/0".parse().expect("addr"))
        .expect("listen");
    loop {
        if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
            return address.with_p2p(*swarm.local_peer_id()).expect("p2p");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_pages_are_served_within_bounds() {
    let server = TestNode::start(P2pConfig::loopback(), accept_all(), chain_server()).await;
    let mut client = TestNode::start(P2pConfig::loopback(), accept_all(), chain_server()).await;
    client.handle.dial(server.dial_addr()).await.expect("dial");
    client.identified_all(&[&server]).await;
    let peer = server.peer();

    let status = client.handle.chain_status(peer).await.expect("status");
    assert_eq!(status, br#"{"height":100}"#);

    let page = client
        .handle
        .page(peer, 10, 59, MAX_PAGE_BYTES)
        .await
        .expect("page");
    assert_eq!(page.blocks.len(), MAX_PAGE_BLOCKS);
    assert_eq!(page.blocks[0], br#"{"index":10}"#);
    assert_eq!(page.blocks[49], br#"{"index":59}"#);

    // More than 50 blocks is never asked.
    assert_eq!(
        client.handle.page(peer, 0, 50, MAX_PAGE_BYTES).await,
        Err(RequestError::OutOfBounds)
    );
    // The caller's own byte limit.
    assert_eq!(
        client.handle.page(peer, 10, 59, 100).await,
        Err(RequestError::TooLarge { limit: 100 })
    );
    // A page over 8 MiB is not sent: the server's handle refuses the answer.
    match client.handle.page(peer, 0, 9, MAX_PAGE_BYTES).await {
        Err(RequestError::Refused(reason)) => assert!(reason.contains("8388608"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    client.handle.shutdown().await;
    server.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_page_from_a_peer_is_refused_at_its_header() {
    let mut evil = raw_peer();
    let evil_addr = listen(&mut evil).await;
    let evil_peer = *evil.local_peer_id();
    // Answers every request with 50 blocks of 200 KiB: 10 MiB.
    tokio::spawn(async move {
        loop {
            if let SwarmEvent::Behaviour(request_response::Event::Message {
                message: request_response::Message::Request { channel, .. },
                ..
            }) = evil.select_next_some().await
            {
                let page = vec![vec![b' '; 200 << 10]; 50];
                let _ = evil
                    .behaviour_mut()
                    .send_response(channel, SyncResponse::Blocks(page));
            }
        }
    });
    let mut client = TestNode::start(P2pConfig::loopback(), accept_all(), chain_server()).await;
    client.handle.dial(evil_addr).await.expect("dial");
    // Requests go to connected peers only.
    client
        .next(|e| match e {
            doin_net::p2p::P2pEvent::PeerConnected { peer, .. } if *peer == evil_peer => Some(()),
            _ => None,
        })
        .await;
    assert_eq!(
        client.handle.page(evil_peer, 0, 49, MAX_PAGE_BYTES).await,
        Err(RequestError::TooLarge {
            limit: MAX_PAGE_BYTES
        })
    );
    client.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_for_more_than_a_page_is_refused_by_the_node() {
    let node = TestNode::start(P2pConfig::loopback(), accept_all(), chain_server()).await;
    let mut asker = raw_peer();
    asker.dial(node.dial_addr()).expect("dial");
    let mut sent = None;
    let exchange = async {
        loop {
            match asker.select_next_some().await {
                SwarmEvent::ConnectionEstablished { peer_id, .. } if sent.is_none() => {
                    let id = asker
                        .behaviour_mut()
                        .send_request(&peer_id, SyncRequest::Blocks { from: 0, to: 99 });
                    sent = Some(id);
                }
                SwarmEvent::Behaviour(request_response::Event::Message {
                    message:
                        request_response::Message::Response {
                            request_id,
                            response,
                        },
                    ..
                }) if Some(request_id) == sent => {
                    assert_eq!(
                        response,
                        SyncResponse::Refused("a page holds 1 to 50 blocks".into())
                    );
                    break;
                }
                SwarmEvent::Behaviour(request_response::Event::OutboundFailure {
                    error, ..
                }) => {
                    panic!("request failed: {error}")
                }
                _ => {}
            }
        }
    };
    tokio::time::timeout(p2p_net::WAIT, exchange)
        .await
        .expect("answer within the time limit");
    node.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_to_a_peer_that_is_gone_fails_at_once() {
    let mut asker = TestNode::start(P2pConfig::loopback(), accept_all(), chain_server()).await;
    let server = TestNode::start(P2pConfig::loopback(), accept_all(), chain_server()).await;
    server.handle.dial(asker.dial_addr()).await.expect("dial");
    asker.identified_all(&[&server]).await;
    assert!(asker.handle.chain_status(server.peer()).await.is_ok());

    server.handle.shutdown().await;
    let gone = server.peer();
    asker
        .next(|e| match e {
            doin_net::p2p::P2pEvent::PeerDisconnected { peer } if *peer == gone => Some(()),
            _ => None,
        })
        .await;
    // Refused before anything is sent (a request never dials): not after the timeout.
    let r = asker.handle.chain_status(gone).await;
    assert!(matches!(r, Err(RequestError::NotConnected)), "{r:?}");
    let call = doin_net::p2p::TaskCall::Pending {
        domain: "quadratic".into(),
    };
    let r = asker.handle.task_call(gone, call).await;
    assert!(matches!(r, Err(RequestError::NotConnected)), "{r:?}");
    asker.handle.shutdown().await;
}
