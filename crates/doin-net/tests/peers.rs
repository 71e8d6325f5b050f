//! Peer table: persistence, back-off, bans, bounds, loopback.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use doin_net::peers::{
    backoff_secs, placeholder_id, valid_endpoint, PeerSource, PeerTable, Upsert,
    DROP_AFTER_FAILURES, MAX_PEERS,
};

#[test]
fn persists_atomically_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("peers.json");
    let mut t = PeerTable::load(&path).unwrap();
    assert!(t.is_empty());
    assert_eq!(
        t.upsert("aa", "127.0.0.1:8470", PeerSource::Inbound, 100),
        Upsert::Added
    );
    assert_eq!(
        t.upsert("bb", "10.0.0.2:8471", PeerSource::Pex, 100),
        Upsert::Added
    );
    t.record_failure("bb", 100);
    t.ban("aa", 5_000);
    t.save().unwrap();
    assert!(!dir.path().join("peers.json.tmp").exists());
    let back = PeerTable::load(&path).unwrap();
    assert_eq!(back.len(), 2);
    assert_eq!(back.get("aa"), t.get("aa"));
    assert_eq!(back.get("bb"), t.get("bb"));
    assert!(back.is_banned("aa", 4_999));
    assert_eq!(back.get("aa").map(|e| e.source), Some(PeerSource::Inbound));
}

#[test]
fn corrupt_file_is_a_typed_error_and_bad_rows_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("peers.json");
    std::fs::write(&path, "not json").unwrap();
    let err = PeerTable::load(&path).unwrap_err();
    assert!(err.to_string().contains("delete it"), "{err}");
    std::fs::write(
        &path,
        r#"{"peers":[{"peer_id":"ok","endpoint":"h:1"},{"peer_id":"x","endpoint":"nope"},7]}"#,
    )
    .unwrap();
    let t = PeerTable::load(&path).unwrap();
    assert_eq!(t.len(), 1);
    assert!(t.get("ok").is_some());
}

#[test]
fn failures_back_off_exponentially_capped_and_drop() {
    assert_eq!(backoff_secs(1), 2);
    assert_eq!(backoff_secs(3), 8);
    assert_eq!(backoff_secs(8), 256);
    assert_eq!(backoff_secs(9), 300);
    assert_eq!(backoff_secs(200), 300);
    let mut t = PeerTable::in_memory();
    t.upsert("p", "127.0.0.1:9000", PeerSource::Pex, 0);
    t.upsert("boot", "127.0.0.1:9001", PeerSource::Bootstrap, 0);
    assert_eq!(t.record_failure("p", 1000), Some(1002));
    assert_eq!(t.record_failure("p", 1000), Some(1004));
    assert!(!t.is_dialable("p", 1003));
    assert!(t.is_dialable("p", 1004));
    t.record_success("p", 1005);
    assert!(t.is_dialable("p", 1005));
    assert_eq!(t.get("p").map(|e| e.failures), Some(0));
    for _ in 0..DROP_AFTER_FAILURES {
        t.record_failure("p", 2000);
        t.record_failure("boot", 2000);
    }
    assert!(t.get("p").is_none(), "dead pex peer forgotten");
    assert!(t.get("boot").is_some(), "bootstrap peers are kept");
}

#[test]
fn bans_expire() {
    let mut t = PeerTable::in_memory();
    t.upsert("p", "127.0.0.1:9000", PeerSource::Inbound, 0);
    t.ban("p", 600);
    assert!(t.is_banned("p", 599) && !t.is_dialable("p", 599));
    assert!(!t.is_banned("p", 600) && t.is_dialable("p", 600));
    assert!(t.dialable(599).is_empty());
}

#[test]
fn placeholders_take_the_real_id_and_loopback_is_a_peer() {
    let mut t = PeerTable::in_memory();
    let ph = placeholder_id("127.0.0.1:8470");
    t.upsert(&ph, "127.0.0.1:8470", PeerSource::Bootstrap, 0);
    assert_eq!(
        t.upsert("real", "127.0.0.1:8470", PeerSource::Pex, 5),
        Upsert::Replaced(ph)
    );
    assert_eq!(t.len(), 1);
    assert_eq!(t.get("real").map(|e| e.source), Some(PeerSource::Bootstrap));
    assert!(valid_endpoint("127.0.0.1:1") && valid_endpoint("[::1]:8470"));
    for bad in ["", "host", "host:0", ":80", "h:99999", "a/b:1"] {
        assert!(!valid_endpoint(bad), "{bad}");
        assert_eq!(t.upsert("z", bad, PeerSource::Pex, 0), Upsert::BadEndpoint);
    }
}

#[test]
fn bounded_evicting_the_worst() {
    let mut t = PeerTable::in_memory();
    for i in 0..MAX_PEERS {
        t.upsert(
            &format!("p{i}"),
            &format!("10.0.{}.{}:8470", i / 250, i % 250),
            PeerSource::Pex,
            0,
        );
    }
    t.record_failure("p7", 0);
    assert_eq!(
        t.upsert("new", "10.9.9.9:8470", PeerSource::Inbound, 1),
        Upsert::Added
    );
    assert_eq!(t.len(), MAX_PEERS);
    assert!(t.get("p7").is_none());
}

#[test]
fn a_full_table_never_evicts_a_connected_peer() {
    // The oldest entry, and the only one a flood of new ids would push out, holds a slot.
    let mut t = PeerTable::in_memory();
    t.upsert("connected", "10.0.0.1:8470", PeerSource::Inbound, 0);
    for i in 1..MAX_PEERS {
        t.upsert(
            &format!("p{i}"),
            &format!("10.1.{}.{}:8470", i / 250, i % 250),
            PeerSource::Inbound,
            5,
        );
    }
    let keep = |id: &str| id == "connected";
    for i in 0..3 * MAX_PEERS {
        let id = format!("flood{i}");
        let ep = format!("10.2.{}.{}:8470", i / 250, i % 250 + 1);
        assert_eq!(
            t.upsert_keeping(&id, &ep, PeerSource::Inbound, 6, keep),
            Upsert::Added
        );
    }
    assert_eq!(t.len(), MAX_PEERS);
    assert!(t.get("connected").is_some());
    // Without it, the oldest goes first.
    t.upsert("last", "10.3.0.1:8470", PeerSource::Inbound, 7);
    assert!(t.get("connected").is_none());
}

#[test]
fn stand_in_ids_are_told_from_peer_ids() {
    use doin_net::peers::is_placeholder;
    // Ours, and the reference's: its unresolved `host:port` rows, `bootstrap-…`, `lan-…`.
    assert!(is_placeholder(
        &placeholder_id("10.0.0.2:8470"),
        "10.0.0.2:8470"
    ));
    assert!(is_placeholder("10.0.0.2:8470", "10.0.0.2:8470"));
    assert!(is_placeholder("lan-10.0.0.2-8470", "10.0.0.2:8470"));
    assert!(!is_placeholder(
        "4896790c96ec8583146e81258a39e092db299bf2",
        "10.0.0.2:8470"
    ));
}
