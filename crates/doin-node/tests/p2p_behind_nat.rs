//! A node reachable only through a relay joins, syncs and has its optimae verified.
//!
//! Four doin nodes on libp2p only: a relay (`relay_server`, relaying the domain without
//! optimizing or evaluating it), two optimizer-evaluators, and, once they have a chain,
//! an optimizer-evaluator behind NAT ("hidden"). With quorums of two, the hidden node's
//! optimae are accepted only once both other evaluators have re-measured them, which
//! they do by calling its task queue over libp2p.
//!
//! How NAT is emulated: the hidden node opens no listening socket at all. Its only
//! `listen_addrs` entry is a circuit through the relay
//! (`<relay address>/p2p/<relay id>/p2p-circuit`), so the only address it announces is
//! the circuit. Like a node behind NAT it may dial out (such connections leave from
//! ephemeral ports where nothing listens; dcutr may upgrade a relayed connection that
//! way), but nobody can dial it: the test checks that every address at which another node
//! sees it is either a circuit through the relay or refuses a direct dial from a fresh
//! swarm. Finally a fifth node, given nothing but the hidden node's circuit address,
//! joins the network through it and syncs: the circuit carries a whole doin node's
//! traffic.

use std::time::Duration;

use doin_consensus::accepted::AcceptedOptimae;
use doin_net::p2p::P2pHandle;
use doin_node::api::BlockSource;
use doin_node::chain_service::ReaderPool;
use doin_node::config::NodeConfig;
use doin_node::node::{start_with_plugins, RunningNode};
use doin_node::testnet::{describe, minting_template, runtime};
use doin_plugins::PluginRegistry;
use futures_util::StreamExt;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{dummy, SwarmEvent};
use libp2p::{identity::Keypair, Multiaddr, PeerId, SwarmBuilder};

fn config(
    dir: &std::path::Path,
    name: &str,
    listen: Vec<String>,
    bootstrap: Vec<String>,
) -> NodeConfig {
    let mut c = minting_template(2, 0.5);
    c.network_protocol = "gossipsub".into();
    c.host = "127.0.0.1".into();
    c.port = 0;
    c.data_dir = dir.join(name);
    c.listen_addrs = Some(listen);
    c.bootstrap_peers = bootstrap;
    c
}

async fn start(c: NodeConfig) -> RunningNode {
    start_with_plugins(c, PluginRegistry::with_builtins())
        .await
        .expect("node starts")
}

fn p2p(n: &RunningNode) -> &P2pHandle {
    n.p2p.as_ref().expect("libp2p")
}

/// Waits (every 100 ms, at most `secs`) until `pred` holds.
async fn until(secs: u64, what: impl Fn() -> String, mut pred: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !pred() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out: {}",
            what()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The optimizers of accepted optimae in `n`'s chain (in `data_dir`) that were re-measured by at least
/// two other evaluators.
fn verified_optimizers(n: &RunningNode, data_dir: &std::path::Path) -> Vec<String> {
    let height = n.chain.view().height;
    let blocks = ReaderPool::new(&data_dir.join("chain.db"))
        .blocks(1, height - 1)
        .expect("the store reads");
    let mut out = Vec::new();
    for b in &blocks {
        for tx in b.check_layout().expect("layout").accepted {
            let a = AcceptedOptimae::from_tx(tx).expect("accepted optimae");
            let others = a
                .votes
                .iter()
                .filter(|v| v.evaluator_id != a.optimizer_id)
                .count();
            if others >= 2 {
                out.push(a.optimizer_id.clone());
            }
        }
    }
    out
}

/// Whether a fresh swarm's direct dial to `addr` (with `/p2p/<peer>`) connects.
async fn dials_directly(addr: &Multiaddr, peer: PeerId) -> bool {
    let mut swarm = SwarmBuilder::with_existing_identity(Keypair::generate_ecdsa())
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default(),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .expect("tcp")
        .with_quic()
        .with_behaviour(|_| dummy::Behaviour)
        .expect("behaviour")
        .build();
    let target = addr.clone().with_p2p(peer).unwrap_or_else(|a| a);
    if swarm.dial(target).is_err() {
        return false;
    }
    let outcome = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::ConnectionEstablished { .. } => return true,
                SwarmEvent::OutgoingConnectionError { .. } => return false,
                _ => {}
            }
        }
    })
    .await;
    outcome.unwrap_or(false)
}

#[test]
fn a_node_reachable_only_through_a_relay_joins_syncs_and_has_its_optimae_verified() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        // The relay needs an address it knows is reachable before it serves circuits.
        let port = doin_node::testnet::ports::free_port();
        let relay_listen = format!("/ip4/127.0.0.1/tcp/{port}");
        let mut rc = config(dir.path(), "relay", vec![relay_listen.clone()], Vec::new());
        rc.relay_server = true;
        rc.external_addrs = vec![relay_listen.clone()];
        for d in &mut rc.domains {
            d.optimize = false;
            d.evaluate = false;
        }
        let relay = start(rc).await;
        let relay_addr = format!("{relay_listen}/p2p/{}", p2p(&relay).local_peer());

        let tcp0 = || vec!["/ip4/127.0.0.1/tcp/0".to_owned()];
        let a = start(config(dir.path(), "a", tcp0(), vec![relay_addr.clone()])).await;
        let b = start(config(dir.path(), "b", tcp0(), vec![relay_addr.clone()])).await;
        until(
            240,
            || {
                format!(
                    "a chain before the hidden node joins: {}",
                    describe(&a.chain.view())
                )
            },
            || a.chain.view().height >= 4,
        )
        .await;

        let circuit = format!("{relay_addr}/p2p-circuit");
        let hidden = start(config(
            dir.path(),
            "hidden",
            vec![circuit.clone()],
            vec![relay_addr.clone()],
        ))
        .await;
        let hidden_peer = p2p(&hidden).local_peer();
        let joined_at = a.chain.view().height;

        // It syncs the chain it found.
        until(
            120,
            || format!("the hidden node syncs: {}", describe(&hidden.chain.view())),
            || hidden.chain.view().height >= joined_at,
        )
        .await;

        // Its optimae are verified by both other evaluators, in the chain every node holds.
        let hidden_id = hidden.peer_id.clone();
        let nodes = [&relay, &a, &b, &hidden];
        until(
            300,
            || {
                let views: Vec<String> = nodes.iter().map(|n| describe(&n.chain.view())).collect();
                format!("the hidden node's optimae verified, on one chain: {views:?}")
            },
            || {
                let tip = hidden.chain.view().tip_hash.clone();
                nodes.iter().all(|n| n.chain.view().tip_hash == tip)
                    && verified_optimizers(&a, &dir.path().join("a")).contains(&hidden_id)
            },
        )
        .await;

        // Nothing of its own to dial: it listens on the circuit only.
        let listening = p2p(&hidden).listen_addrs().await;
        assert!(
            !listening.is_empty(),
            "the hidden node listens on its circuit"
        );
        assert!(
            listening
                .iter()
                .all(|a| a.iter().any(|p| p == Protocol::P2pCircuit)),
            "the hidden node listens on an address of its own: {listening:?}"
        );
        // A node given only the hidden node's circuit address joins through it and syncs.
        let mut cc = config(
            dir.path(),
            "c",
            tcp0(),
            vec![format!("{circuit}/p2p/{hidden_peer}")],
        );
        for d in &mut cc.domains {
            d.optimize = false;
            d.evaluate = false;
        }
        let c = start(cc).await;
        let height = hidden.chain.view().height;
        until(
            120,
            || {
                format!(
                    "a node joins through the circuit: {}",
                    describe(&c.chain.view())
                )
            },
            || c.chain.view().height >= height,
        )
        .await;
        let rows = p2p(&c).peers().await;
        let through = rows
            .iter()
            .find(|r| r.peer == hidden_peer)
            .map(|r| r.address.clone());
        assert!(
            through.is_some_and(|a| a.iter().any(|p| p == Protocol::P2pCircuit)),
            "the node given the circuit did not reach the hidden node through it: {rows:?}"
        );

        // Every address the others know it at is the relay's circuit, or refuses a
        // direct dial.
        for n in [&relay, &a, &b, &c] {
            let rows = p2p(n).peers().await;
            let row = rows.iter().find(|r| r.peer == hidden_peer);
            let Some(row) = row else { continue };
            if row.address.iter().any(|p| p == Protocol::P2pCircuit) {
                assert!(
                    row.address.to_string().starts_with(&relay_addr),
                    "a circuit through another relay: {}",
                    row.address
                );
            } else {
                assert!(
                    !dials_directly(&row.address, hidden_peer).await,
                    "the hidden node was dialed directly at {}",
                    row.address
                );
            }
        }
        for n in [c, hidden, b, a, relay] {
            n.shutdown().await;
        }
    });
}
