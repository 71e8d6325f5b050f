//! The fleet view over real nodes: two solo nodes mint two different chains, so the fleet
//! reports that they disagree; a node agrees with itself; an endpoint nobody listens on is
//! reported offline; endpoints that are not `host:port` are ignored; a node the operator
//! did not list (in `fleet_nodes`) and that is no peer is not fetched; a redirect is not
//! followed.

mod common;

use std::time::Duration;

use common::{free_port, NodeProcess};

#[test]
fn fleet_compares_tips_across_nodes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (port_a, port_b, offline_port) = (free_port(), free_port(), free_port());
    let offline = format!("127.0.0.1:{offline_port}");
    // A host that answers every request with a redirect to node b.
    let redirector = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let redirecting = format!(
        "127.0.0.1:{}",
        redirector.local_addr().expect("addr").port()
    );
    std::thread::spawn(move || {
        for stream in redirector.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut buf);
            let answer = format!(
                "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{port_b}/chain/status\r\n\
                 Content-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = std::io::Write::write_all(&mut stream, answer.as_bytes());
        }
    });
    let mut config: serde_json::Value =
        serde_json::from_str(include_str!("../src/default_config.json")).expect("defaults");
    config["fleet_nodes"] = serde_json::json!([
        format!("127.0.0.1:{port_b}"),
        offline.clone(),
        redirecting.clone()
    ]);
    std::fs::create_dir_all(dir.path().join("a")).expect("dir");
    let config_a = dir.path().join("a").join("config.json");
    std::fs::write(&config_a, config.to_string()).expect("config");
    let config_arg = config_a.display().to_string();
    let mut a = NodeProcess::start(&dir.path().join("a"), port_a, &["--config", &config_arg]);
    let mut b = NodeProcess::start(&dir.path().join("b"), port_b, &[]);
    for n in [&mut a, &mut b] {
        // Block 1 is a commitment block; an optimae follows in a later block.
        n.wait_status(Duration::from_secs(60), "a minted optimae", |s| {
            s["chain_height"].as_i64().unwrap_or(0) >= 3
                && s["domains"]["quadratic"]["chain_best_performance"].is_number()
        });
    }
    let ep = |n: &NodeProcess| format!("127.0.0.1:{}", n.port);

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
    // b does not list a: a is neither a peer of b nor in its fleet_nodes.
    let refused = b
        .get(&format!("/dashboard/fleet/data?nodes={}", ep(&a)))
        .expect("fleet data");
    assert_eq!(refused["online"], 0, "{refused}");
    let error = refused["members"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("fleet_nodes"), "{refused}");
    // A listed node that redirects is reported, not followed to b.
    let redirected = a
        .get(&format!("/dashboard/fleet/data?nodes={redirecting}"))
        .expect("fleet data");
    assert_eq!(redirected["online"], 0, "{redirected}");
    let error = redirected["members"][0]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(error.contains("302"), "{redirected}");
    // The page itself is served.
    let page = a.get_text("/dashboard/fleet").expect("fleet page");
    assert!(page.contains("/dashboard/fleet/data"));
}
