//! In-process libp2p nodes on loopback for the p2p tests: each node's events are consumed
//! by a driver task that validates gossip with the test's rule, answers sync requests with
//! the test's server, and passes every event on, so a test waits on exact events.
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use doin_net::p2p::{
    GossipKind, GossipMessage, P2pConfig, P2pEvent, P2pHandle, P2pNode, SyncRequest, SyncResponse,
    TaskAnswer, TaskCall,
};
use doin_net::scoring::Verdict;
use doin_primitives::identity::Identity;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::mpsc;

/// How long any one expected event may take (generous: two cores, shared).
pub const WAIT: Duration = Duration::from_secs(60);

/// The test's verdict on a gossip message.
pub type Validator = Arc<dyn Fn(&GossipMessage) -> Verdict + Send + Sync>;
/// The test's answer to a sync request.
pub type Server = Arc<dyn Fn(&SyncRequest) -> SyncResponse + Send + Sync>;

/// The test's answer to an evaluator's task call.
pub type TaskServer = Arc<dyn Fn(&TaskCall) -> TaskAnswer + Send + Sync>;

/// Refuses every task call.
pub fn no_tasks() -> TaskServer {
    Arc::new(|_| TaskAnswer::Refused("no tasks here".into()))
}

/// A loopback node that talks only to the peers it is told to (a fixed topology).
pub fn no_discovery() -> P2pConfig {
    P2pConfig {
        discovery: false,
        ..P2pConfig::loopback()
    }
}

/// Accepts everything.
pub fn accept_all() -> Validator {
    Arc::new(|_| Verdict::Valid)
}

/// Serves a status of height 0 and refuses pages.
pub fn no_blocks() -> Server {
    Arc::new(|req| match req {
        SyncRequest::Status => SyncResponse::Status(br#"{"height":0}"#.to_vec()),
        SyncRequest::Blocks { .. } => SyncResponse::Refused("no blocks".into()),
    })
}

/// A node under test.
pub struct TestNode {
    pub handle: P2pHandle,
    pub identity: Identity,
    pub events: mpsc::Receiver<P2pEvent>,
    /// Events a wait skipped, kept in order for the next waits.
    pub backlog: VecDeque<P2pEvent>,
    pub addr: Option<Multiaddr>,
}

/// Most skipped events kept.
const BACKLOG: usize = 10_000;

impl TestNode {
    /// Starts a node and, if it listens, waits for its first listen address.
    pub async fn start(config: P2pConfig, validator: Validator, server: Server) -> TestNode {
        Self::start_with_tasks(config, validator, server, no_tasks()).await
    }

    /// [`TestNode::start`] with a task server.
    pub async fn start_with_tasks(
        config: P2pConfig,
        validator: Validator,
        server: Server,
        tasks: TaskServer,
    ) -> TestNode {
        let identity = Identity::generate();
        let listens = !config.listen_addrs.is_empty();
        let node = P2pNode::start(&identity, config).expect("node starts");
        let (tx, rx) = mpsc::channel(4096);
        let handle = node.handle.clone();
        tokio::spawn(drive(
            node.events,
            handle.clone(),
            (validator, server, tasks),
            tx,
        ));
        let mut t = TestNode {
            handle,
            identity,
            events: rx,
            backlog: VecDeque::new(),
            addr: None,
        };
        if listens {
            let a = t
                .next(|e| match e {
                    P2pEvent::Listening(a) => Some(a.clone()),
                    _ => None,
                })
                .await;
            t.addr = Some(a);
        }
        t
    }

    /// The node's libp2p peer id.
    pub fn peer(&self) -> PeerId {
        self.handle.local_peer()
    }

    /// Its listen address with `/p2p/<id>`.
    pub fn dial_addr(&self) -> Multiaddr {
        self.addr
            .clone()
            .expect("listening")
            .with_p2p(self.peer())
            .expect("no p2p suffix yet")
    }

    /// Waits for the first event `pick` maps to something, earlier skipped ones first
    /// (the others stay in the backlog, in order).
    pub async fn next<T>(&mut self, mut pick: impl FnMut(&P2pEvent) -> Option<T>) -> T {
        if let Some((i, t)) = self
            .backlog
            .iter()
            .enumerate()
            .find_map(|(i, e)| pick(e).map(|t| (i, t)))
        {
            self.backlog.remove(i);
            return t;
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let ev = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .expect("expected event within the time limit")
                .expect("node running");
            if let Some(t) = pick(&ev) {
                return t;
            }
            if self.backlog.len() == BACKLOG {
                self.backlog.pop_front();
            }
            self.backlog.push_back(ev);
        }
    }

    /// Waits until this node has identified every peer of `peers`.
    pub async fn identified_all(&mut self, peers: &[&TestNode]) {
        let mut missing: Vec<(PeerId, doin_primitives::PeerId)> = peers
            .iter()
            .map(|p| (p.peer(), p.identity.peer_id().clone()))
            .collect();
        while !missing.is_empty() {
            let (peer, doin) = self
                .next(|e| match e {
                    P2pEvent::PeerIdentified { peer, doin_id } => Some((*peer, doin_id.clone())),
                    _ => None,
                })
                .await;
            if let Some(i) = missing.iter().position(|(p, _)| *p == peer) {
                assert_eq!(missing[i].1, doin, "DOIN id proven on the connection");
                missing.remove(i);
            }
        }
    }

    /// Waits until every peer of `peers` subscribed to the topic of `kind` (global kinds).
    pub async fn subscribed_all(&mut self, kind: GossipKind, peers: &[&TestNode]) {
        let mut missing: Vec<PeerId> = peers.iter().map(|p| p.peer()).collect();
        while !missing.is_empty() {
            let peer = self
                .next(|e| match e {
                    P2pEvent::PeerSubscribed { peer, kind: k, .. } if *k == kind => Some(*peer),
                    _ => None,
                })
                .await;
            missing.retain(|p| *p != peer);
        }
    }

    /// Waits for the next gossip message.
    pub async fn gossip(&mut self) -> GossipMessage {
        self.next(|e| match e {
            P2pEvent::Gossip(m) => Some(m.clone()),
            _ => None,
        })
        .await
    }
}

/// Validates gossip, answers sync requests, passes every event on.
async fn drive(
    mut events: mpsc::Receiver<P2pEvent>,
    handle: P2pHandle,
    (validator, server, tasks): (Validator, Server, TaskServer),
    out: mpsc::Sender<P2pEvent>,
) {
    while let Some(ev) = events.recv().await {
        match &ev {
            P2pEvent::Gossip(m) => {
                let _ = handle.report(m, validator(m)).await;
            }
            P2pEvent::SyncRequest { id, request, .. } => {
                if let Err(e) = handle.answer(*id, server(request)).await {
                    let _ = handle
                        .answer(*id, SyncResponse::Refused(e.to_string()))
                        .await;
                }
            }
            P2pEvent::TaskCall(c) => {
                if let Err(e) = handle.answer_task(c.id, tasks(&c.call)).await {
                    let _ = handle
                        .answer_task(c.id, TaskAnswer::Refused(e.to_string()))
                        .await;
                }
            }
            _ => {}
        }
        if out.send(ev).await.is_err() {
            return;
        }
    }
}
