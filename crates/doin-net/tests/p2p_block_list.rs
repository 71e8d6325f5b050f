//! The node's own block list (what a test network's partition uses): a blocked peer's
//! connection closes, it is neither dialed nor accepted while blocked, whatever the ban
//! housekeeping does meanwhile, and once unblocked a dial connects again.

mod p2p_net;

use doin_net::p2p::{P2pError, P2pEvent};
use p2p_net::{accept_all, no_blocks, no_discovery, TestNode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_peer_is_cut_off_until_unblocked() {
    let mut a = TestNode::start(no_discovery(), accept_all(), no_blocks()).await;
    let mut b = TestNode::start(no_discovery(), accept_all(), no_blocks()).await;
    a.handle.dial(b.dial_addr()).await.expect("dial");
    a.identified_all(&[&b]).await;
    b.identified_all(&[&a]).await;

    a.handle.block_peer(b.peer()).await.expect("block");
    let gone = b.peer();
    a.next(|e| matches!(e, P2pEvent::PeerDisconnected { peer } if *peer == gone).then_some(()))
        .await;
    let me = a.peer();
    b.next(|e| matches!(e, P2pEvent::PeerDisconnected { peer } if *peer == me).then_some(()))
        .await;
    // Neither way through: our dial is refused before it starts, theirs never connects.
    assert!(matches!(
        a.handle.dial(b.dial_addr()).await,
        Err(P2pError::Address(_))
    ));
    b.handle.dial(a.dial_addr()).await.expect("b may try");
    let refused = a.peer();
    b.next(|e| match e {
        P2pEvent::DialFailed { peer: Some(p), .. } if *p == refused => Some(()),
        P2pEvent::PeerDisconnected { peer } if *peer == refused => Some(()),
        _ => None,
    })
    .await;
    assert!(a.handle.peers().await.is_empty());

    a.handle.unblock_peer(b.peer()).await.expect("unblock");
    a.handle.dial(b.dial_addr()).await.expect("dial again");
    a.identified_all(&[&b]).await;
    assert_eq!(a.handle.peers().await.len(), 1);
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}
