//! The fleet view over real nodes: two solo nodes mint two different chains, so the fleet
//! reports that they disagree; a node agrees with itself; an endpoint nobody listens on is
//! reported offline; endpoints that are not `host:port` are ignored.

mod common;

use std::time::Duration;

use common::{free_port, NodeProcess};

#[test]
fn fleet_compares_tips_across_nodes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = NodeProcess::start(&dir.path().join("a"), free_port(), &[]);
    let mut b = NodeProcess::start(&dir.path().join("b"), free_port(), &[]);
    for n in [&mut a, &mut b] {
        // Block 1 is a commitment block; an optimae follows in a later block.
        n.wait_status(Duration::from_secs(60), "a minted optimae", |s| {
            s["chain_height"].as_i64().unwrap_or(0) >= 3
                && s["domains"]["quadratic"]["chain_best_performance"].is_number()
        });
    }
    let ep = |n: &NodeProcess| format!("127.0.0.1:{}", n.port);
    let offline = format!("127.0.0.1:{}", free_port());

    let alone = a
        .get(&format!(
            "/dashboard/fleet/data?nodes={},{}",
            ep(&a),
            ep(&a)
        ))
        .expect("fleet data");
    assert_eq!(
        alone["members"].as_array().map(Vec::len),
        Some(1),
        "{alone}"
    );
    assert_eq!(alone["all_agree"], true, "{alone}");

    let query = format!(
        "/dashboard/fleet/data?nodes={},{},{offline},file:///etc/passwd",
        ep(&a),
        ep(&b)
    );
    let fleet = a.get(&query).expect("fleet data");
    let members = fleet["members"].as_array().expect("members");
    assert_eq!(members.len(), 3, "{fleet}");
    assert_eq!(fleet["online"], 2, "{fleet}");
    assert_eq!(fleet["all_agree"], false, "two solo chains differ: {fleet}");
    let reference = fleet["reference"].as_str().expect("reference");
    for m in members {
        match m["endpoint"].as_str() {
            Some(e) if e == offline => assert_eq!(m["online"], false, "{m}"),
            Some(e) => {
                assert_eq!(m["online"], true, "{m}");
                assert!(m["height"].as_i64().unwrap_or(0) >= 2, "{m}");
                assert!(m["best"]["quadratic"].is_number(), "{m}");
                assert_eq!(m["agrees"], e == reference, "{m}");
            }
            None => panic!("member without endpoint: {m}"),
        }
    }
    // The page itself is served.
    let page = a.get_text("/dashboard/fleet").expect("fleet page");
    assert!(page.contains("/dashboard/fleet/data"));
}
