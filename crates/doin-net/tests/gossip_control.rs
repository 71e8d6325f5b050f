//! GRAFT / PRUNE / IHAVE / IWANT / SUBSCRIBE / fanout behaviour of one router.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::time::{Duration, Instant};

use common::{announcement, commit};
use doin_net::cache::message_id;
use doin_net::{Action, Control, GossipConfig, GossipRouter, IHave, Router, Verdict};

fn sub(topics: &[&str]) -> Control {
    Control {
        subscribe: topics.iter().map(|t| t.to_string()).collect(),
        ..Control::default()
    }
}

fn controls_to<'a>(actions: &'a [Action], peer: &str) -> Vec<&'a Control> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendControl { peer: p, control } if p == peer => Some(control),
            _ => None,
        })
        .collect()
}

fn sends(actions: &[Action]) -> Vec<String> {
    let mut v: Vec<String> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { peer, .. } => Some(peer.clone()),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

/// A router subscribed to `blocks` with peers `p0..pn` that all subscribe to `blocks`.
fn router_with_peers(n: usize, t0: Instant) -> GossipRouter {
    let mut r = GossipRouter::with_seed("me", GossipConfig::default(), 7);
    r.subscribe("blocks", t0);
    for i in 0..n {
        let p = format!("p{i}");
        let out = r.add_peer(&p, t0);
        assert_eq!(
            controls_to(&out, &p)[0].subscribe,
            vec!["blocks".to_owned()]
        );
        r.handle_control(&p, sub(&["blocks"]), t0);
    }
    r
}

#[test]
fn subscribe_grafts_only_peers_of_that_topic() {
    let t0 = Instant::now();
    let mut r = GossipRouter::with_seed("me", GossipConfig::default(), 1);
    r.subscribe("blocks", t0);
    r.add_peer("a", t0);
    r.add_peer("b", t0);
    let out = r.handle_control("a", sub(&["blocks"]), t0);
    assert_eq!(controls_to(&out, "a")[0].graft, vec!["blocks".to_owned()]);
    let out = r.handle_control("b", sub(&["optimae/other"]), t0);
    assert!(out.is_empty());
    assert_eq!(r.mesh_peers("blocks"), vec!["a".to_owned()]);
    r.heartbeat(t0);
    assert_eq!(r.mesh_peers("blocks"), vec!["a".to_owned()]);
    // Unsubscribe removes the peer from the mesh.
    let unsub = Control {
        unsubscribe: vec!["blocks".into()],
        ..Control::default()
    };
    r.handle_control("a", unsub, t0);
    assert!(r.mesh_peers("blocks").is_empty());
}

#[test]
fn graft_on_a_topic_we_do_not_serve_is_pruned() {
    let t0 = Instant::now();
    let mut r = router_with_peers(1, t0);
    let graft = Control {
        graft: vec!["optimae/x".into()],
        ..Control::default()
    };
    let out = r.handle_control("p0", graft, t0);
    assert_eq!(
        controls_to(&out, "p0")[0].prune,
        vec!["optimae/x".to_owned()]
    );
    assert!(r.mesh_peers("optimae/x").is_empty());
}

#[test]
fn prune_sets_a_backoff_that_refuses_early_grafts() {
    let t0 = Instant::now();
    let mut r = router_with_peers(2, t0);
    assert!(r.mesh_peers("blocks").contains(&"p0".to_owned()));
    let prune = Control {
        prune: vec!["blocks".into()],
        ..Control::default()
    };
    r.handle_control("p0", prune, t0);
    assert!(!r.mesh_peers("blocks").contains(&"p0".to_owned()));
    // Our heartbeat must not graft it back during the backoff (mesh 1 < D_low).
    let out = r.heartbeat(t0 + Duration::from_secs(1));
    assert!(controls_to(&out, "p0").iter().all(|c| c.graft.is_empty()));
    // Its early GRAFT is refused and penalized.
    let graft = Control {
        graft: vec!["blocks".into()],
        ..Control::default()
    };
    let before = r.peer_score("p0").unwrap_or_default();
    let out = r.handle_control("p0", graft.clone(), t0 + Duration::from_secs(2));
    assert_eq!(controls_to(&out, "p0")[0].prune, vec!["blocks".to_owned()]);
    assert!(r.peer_score("p0").unwrap_or_default() < before);
    // After the backoff (re-armed by the refusal) the GRAFT is accepted.
    r.heartbeat(t0 + Duration::from_secs(63));
    let late = t0 + Duration::from_secs(63);
    // The penalty decays only slowly; reset it with good deliveries first.
    for i in 0..3 {
        r.handle_message("p0", announcement("origin", 100 + i), late);
    }
    let out = r.handle_control("p0", graft, late);
    assert!(controls_to(&out, "p0").is_empty(), "{out:?}");
    assert!(r.mesh_peers("blocks").contains(&"p0".to_owned()));
}

#[test]
fn heartbeat_grafts_below_d_low_and_prunes_above_d_high_by_score() {
    let t0 = Instant::now();
    let mut r = router_with_peers(20, t0);
    assert_eq!(
        r.mesh_peers("blocks").len(),
        6,
        "grafted on subscribe up to D"
    );
    // Everyone grafts us: the mesh grows past D_high.
    let graft = Control {
        graft: vec!["blocks".into()],
        ..Control::default()
    };
    for i in 0..20 {
        r.handle_control(&format!("p{i}"), graft.clone(), t0);
    }
    assert_eq!(r.mesh_peers("blocks").len(), 20);
    // p0..p5 delivered first messages: they score best and must be kept.
    for i in 0..6 {
        r.handle_message(&format!("p{i}"), announcement("origin", i), t0);
    }
    let out = r.heartbeat(t0 + Duration::from_secs(1));
    let mut mesh = r.mesh_peers("blocks");
    mesh.sort();
    let want: Vec<String> = (0..6).map(|i| format!("p{i}")).collect();
    assert_eq!(mesh, want);
    let pruned = (6..20)
        .filter(|i| !controls_to(&out, &format!("p{i}")).is_empty())
        .count();
    assert_eq!(pruned, 14);
    // Drop peers below D_low: the next heartbeat grafts back up to D from non-backoff peers.
    for i in 0..3 {
        r.remove_peer(&format!("p{i}"));
    }
    // The pruned peers are in backoff; add fresh ones.
    for i in 20..30 {
        let p = format!("p{i}");
        r.add_peer(&p, t0);
        r.handle_control(
            &p,
            Control {
                subscribe: vec!["blocks".into()],
                ..Control::default()
            },
            t0,
        );
    }
    r.heartbeat(t0 + Duration::from_secs(2));
    assert!(r.mesh_peers("blocks").len() >= 4);
}

#[test]
fn heartbeat_gossips_ihave_to_non_mesh_peers_and_answers_iwant() {
    let t0 = Instant::now();
    let mut r = router_with_peers(10, t0);
    let m = announcement("origin", 1);
    let id = message_id(&m);
    let out = r.handle_message("p0", m.clone(), t0);
    assert!(out.contains(&Action::Deliver(m.clone())));
    let out = r.heartbeat(t0 + Duration::from_secs(1));
    let mesh = r.mesh_peers("blocks");
    let ihave_targets: Vec<String> = (0..10)
        .map(|i| format!("p{i}"))
        .filter(|p| controls_to(&out, p).iter().any(|c| !c.ihave.is_empty()))
        .collect();
    assert!(!ihave_targets.is_empty());
    for p in &ihave_targets {
        assert!(!mesh.contains(p), "IHAVE went to mesh peer {p}");
        let c = controls_to(&out, p)[0];
        assert_eq!(c.ihave[0].ids, vec![id.clone()]);
    }
    // IWANT is answered from the cache, a bounded number of times.
    let iwant = Control {
        iwant: vec![id.clone(), "unknown".into()],
        ..Control::default()
    };
    for _ in 0..3 {
        let out = r.handle_control("p9", iwant.clone(), t0);
        assert_eq!(
            out,
            vec![Action::Send {
                peer: "p9".into(),
                message: m.clone()
            }]
        );
    }
    assert!(r.handle_control("p9", iwant, t0).is_empty());
}

#[test]
fn ihave_asks_only_for_unseen_ids() {
    let t0 = Instant::now();
    let mut r = router_with_peers(2, t0);
    let seen = announcement("origin", 1);
    r.handle_message("p0", seen.clone(), t0);
    let ihave = Control {
        ihave: vec![
            IHave {
                topic: "blocks".into(),
                ids: vec![message_id(&seen), "new-id".into()],
            },
            IHave {
                topic: "optimae/unserved".into(),
                ids: vec!["other".into()],
            },
        ],
        ..Control::default()
    };
    let out = r.handle_control("p1", ihave.clone(), t0);
    assert_eq!(controls_to(&out, "p1")[0].iwant, vec!["new-id".to_owned()]);
    // At most `max_ihave_per_heartbeat` IHAVEs per peer per heartbeat are honoured.
    for _ in 0..20 {
        r.handle_control("p1", ihave.clone(), t0);
    }
    assert!(r.handle_control("p1", ihave.clone(), t0).is_empty());
    r.heartbeat(t0 + Duration::from_secs(1));
    assert!(!r.handle_control("p1", ihave, t0).is_empty());
}

#[test]
fn messages_go_to_the_mesh_except_sender_and_origin_and_dedupe() {
    let t0 = Instant::now();
    let mut r = router_with_peers(4, t0);
    let m = announcement("p1", 1);
    let out = r.handle_message("p0", m.clone(), t0);
    assert_eq!(sends(&out), vec!["p2".to_owned(), "p3".to_owned()]);
    assert!(out.contains(&Action::Deliver(m.clone())));
    assert!(r.handle_message("p2", m.clone(), t0).is_empty());
    // A forwarder rewriting the transport keys does not change the id.
    let mut hop = m.clone();
    hop.payload.insert("_forwarder_id".into(), "p3".into());
    hop.payload.insert("_sender_port".into(), 9000i64.into());
    assert!(r.handle_message("p3", hop, t0).is_empty());
    // A topic we do not serve is neither delivered nor relayed.
    assert!(r
        .handle_message("p0", commit("p1", "unserved", 1), t0)
        .is_empty());
}

#[test]
fn fanout_for_unsubscribed_topics_expires_after_ttl() {
    let t0 = Instant::now();
    let mut r = GossipRouter::with_seed("me", GossipConfig::default(), 3);
    for i in 0..10 {
        let p = format!("p{i}");
        r.add_peer(&p, t0);
        let topics: &[&str] = if i < 8 { &["optimae/q"] } else { &["blocks"] };
        r.handle_control(&p, sub(topics), t0);
    }
    let out = r.publish("optimae/q", commit("me", "q", 1), t0);
    let targets = sends(&out);
    assert_eq!(targets.len(), 6);
    assert!(targets.iter().all(|p| p != "p8" && p != "p9"));
    let mut fanout = r.fanout_peers("optimae/q");
    fanout.sort();
    assert_eq!(fanout, targets);
    // The same fanout is reused while it lives.
    let out = r.publish(
        "optimae/q",
        commit("me", "q", 2),
        t0 + Duration::from_secs(30),
    );
    assert_eq!(sends(&out), targets);
    r.heartbeat(t0 + Duration::from_secs(89));
    assert_eq!(r.fanout_peers("optimae/q").len(), 6);
    r.heartbeat(t0 + Duration::from_secs(91));
    assert!(r.fanout_peers("optimae/q").is_empty());
}

#[test]
fn bad_verdicts_get_a_peer_pruned() {
    let t0 = Instant::now();
    let mut r = router_with_peers(6, t0);
    assert!(r.mesh_peers("blocks").contains(&"p0".to_owned()));
    r.report("p0", Verdict::InvalidSignature);
    let out = r.heartbeat(t0 + Duration::from_secs(1));
    assert!(!r.mesh_peers("blocks").contains(&"p0".to_owned()));
    assert_eq!(controls_to(&out, "p0")[0].prune, vec!["blocks".to_owned()]);
    // Its GRAFT is refused while its score is negative.
    let graft = Control {
        graft: vec!["blocks".into()],
        ..Control::default()
    };
    let out = r.handle_control("p0", graft, t0 + Duration::from_secs(120));
    assert_eq!(controls_to(&out, "p0")[0].prune, vec!["blocks".to_owned()]);
}

#[test]
fn a_reference_peer_that_never_subscribes_hears_our_blocks_when_reference_peers_are_on() {
    // A reference node discards control frames and never sends SUBSCRIBE.
    let t0 = Instant::now();
    for reference_peers in [false, true] {
        let config = GossipConfig {
            reference_peers,
            ..GossipConfig::default()
        };
        let mut r = GossipRouter::with_seed("me", config, 3);
        r.subscribe("blocks", t0);
        r.subscribe("discovery", t0);
        r.subscribe("optimae/q", t0);
        let out = r.add_peer("reference", t0);
        let published = r.publish("blocks", announcement("me", 5), t0);
        if reference_peers {
            // Meshed for `blocks` and `discovery` at once, told so with one GRAFT.
            assert_eq!(r.mesh_peers("blocks"), vec!["reference".to_owned()]);
            assert_eq!(
                controls_to(&out, "reference")[0].graft,
                vec!["blocks".to_owned(), "discovery".to_owned()]
            );
            assert_eq!(sends(&published), vec!["reference".to_owned()]);
            // Domain topics still need the peer's own SUBSCRIBE.
            assert!(!r.peer_subscribes("reference", "optimae/q"));
            let commit = r.publish("optimae/q", commit("me", "q", 1), t0);
            assert!(sends(&commit).is_empty());
        } else {
            assert!(r.mesh_peers("blocks").is_empty());
            assert!(sends(&published).is_empty());
        }
    }
}
