//! The config's loading, defaults and validation against the reference's own configs.

use super::*;

fn reference_config(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/reference/configs")
        .join(name)
}

#[test]
fn reference_example_configs_load_unchanged() {
    for name in [
        "quadratic_single_node.json",
        "quadratic_node_a.json",
        "quadratic_node_b.json",
    ] {
        let loaded = NodeConfig::load(&reference_config(name)).unwrap();
        let c = loaded.config;
        assert_eq!(c.domains.len(), 1, "{name}");
        let d = &c.domains[0];
        assert_eq!(d.domain_id, "quadratic");
        assert_eq!(d.optimization_plugin, "simple_quadratic");
        assert_eq!(d.target_performance, Some(-100.0));
        assert_eq!(d.param_bounds.get("x"), Some(&(-20.0, 20.0)));
        assert_eq!(c.target_block_time, 60.0);
        assert_eq!(c.network_protocol, "flooding");
        assert!(
            loaded.ignored_keys.is_empty(),
            "{name}: {:?}",
            loaded.ignored_keys
        );
    }
}

#[test]
fn embedded_default_is_a_solo_quadratic_chain() {
    let loaded = NodeConfig::from_json(include_str!("../default_config.json"), "embedded").unwrap();
    assert!(loaded.ignored_keys.is_empty(), "{:?}", loaded.ignored_keys);
    let c = loaded.config;
    assert_eq!(c.port, 8470);
    assert_eq!(c.quorum_min_evaluators, 0);
    assert_eq!(c.storage_backend, "sqlite");
    assert_eq!(c.domains.len(), 1);
    assert!(c.domains[0].optimize && c.domains[0].evaluate);
}

#[test]
fn unknown_keys_are_reported_not_fatal() {
    let loaded = NodeConfig::from_json(
        r#"{"$doc": "x", "port": 9000, "domains": [{"domain_id": "d", "colour": 1}]}"#,
        "t",
    )
    .unwrap();
    assert_eq!(loaded.config.port, 9000);
    assert_eq!(
        loaded.ignored_keys,
        vec!["$doc".to_owned(), "domains.0.colour".to_owned()]
    );
}

#[test]
fn wrong_types_name_the_key() {
    let err = NodeConfig::from_json(
        r#"{"domains": [{"domain_id": "d", "target_performance": "high"}]}"#,
        "t",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("domains[0].target_performance"), "{err}");
    let err = NodeConfig::from_json(r#"{"port": "eighty"}"#, "t")
        .unwrap_err()
        .to_string();
    assert!(err.contains("port"), "{err}");
    let err = NodeConfig::from_json(r#"{"port": 70000}"#, "t")
        .unwrap_err()
        .to_string();
    assert!(err.contains("port"), "{err}");
    let err = NodeConfig::from_json(
        r#"{"domains": [{"domain_id": "d", "resource_limits": {"max_gpus": 1}}]}"#,
        "t",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("resource_limits"), "{err}");
    let err = NodeConfig::from_json(r#"{"target_block_time": -1}"#, "t")
        .unwrap_err()
        .to_string();
    assert!(err.contains("target_block_time"), "{err}");
    let err = NodeConfig::from_json("{\"port\": 1", "t")
        .unwrap_err()
        .to_string();
    assert!(err.contains("EOF"), "{err}");
}

#[test]
fn anchor_sink_keys_are_checked() {
    let c = NodeConfig::from_json(
        r#"{"data_dir": "d", "external_anchor_interval": 5, "anchor_file": "anchors.jsonl",
                "anchor_url": "http://127.0.0.1:9/anchors", "anchor_postgres_table": "a_1"}"#,
        "t",
    )
    .unwrap()
    .config;
    assert_eq!(c.external_anchor_interval, 5);
    assert_eq!(c.anchor_file_path(), Some(PathBuf::from("d/anchors.jsonl")));
    assert_eq!(NodeConfig::default().anchor_file_path(), None);
    for (bad, key) in [
        (
            r#"{"anchor_postgres_table": "x; DROP TABLE y"}"#,
            "anchor_postgres_table",
        ),
        (
            r#"{"anchor_postgres_table": "1x"}"#,
            "anchor_postgres_table",
        ),
        (r#"{"anchor_url": "ftp://h/x"}"#, "anchor_url"),
    ] {
        let err = NodeConfig::from_json(bad, "t").unwrap_err().to_string();
        assert!(err.contains(key), "{err}");
    }
}

#[test]
fn peers_are_host_port_or_multiaddrs_with_their_peer_id() {
    let id = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
    assert_eq!(
        parse_peer_addr("127.0.0.1:8470"),
        Ok(PeerAddr::Http("127.0.0.1:8470".into()))
    );
    assert_eq!(
        parse_peer_addr("http://node.example:8470/"),
        Ok(PeerAddr::Http("node.example:8470".into()))
    );
    let addr = format!("/ip4/10.0.0.2/udp/8470/quic-v1/p2p/{id}");
    match parse_peer_addr(&addr) {
        Ok(PeerAddr::P2p { addr: a, peer }) => {
            assert_eq!(a.to_string(), addr);
            assert_eq!(peer.to_string(), id);
        }
        other => panic!("{other:?}"),
    }
    let no_id = parse_peer_addr("/ip4/10.0.0.2/tcp/8471").unwrap_err();
    assert!(no_id.contains("/p2p/<peer id>"), "{no_id}");
    assert!(parse_peer_addr("/ip4/10.0.0.2/tcp/x").is_err());
    assert!(parse_peer_addr("node.example")
        .unwrap_err()
        .contains("host:port"));
    assert!(parse_peer_addr("node.example:0").is_err());
    assert!(parse_peer_addr("node.example:70000").is_err());

    let mut c = NodeConfig::embedded_default();
    c.bootstrap_peers = vec!["a:1".into(), addr.clone()];
    c.validate().expect("both forms are valid");
    assert_eq!(c.http_bootstrap(), vec!["a:1".to_owned()]);
    assert_eq!(c.p2p_bootstrap().len(), 1);
    c.bootstrap_peers.push("/dns4/x/tcp/1".into());
    let err = c.validate().unwrap_err();
    assert!(err.starts_with("bootstrap_peers[2]:"), "{err}");
}

#[test]
fn a_node_behind_nat_listens_on_a_relays_circuit_and_a_relay_declares_its_address() {
    let relay = libp2p::PeerId::random();
    let mut c = NodeConfig::embedded_default();
    c.listen_addrs = Some(vec![format!(
        "/ip4/203.0.113.7/tcp/8471/p2p/{relay}/p2p-circuit"
    )]);
    c.validate().expect("a circuit listen address");
    for bad in [
        "/ip4/203.0.113.7/tcp/8471/p2p-circuit".to_owned(),
        format!("/p2p/{relay}/p2p-circuit"),
        format!("/dns4/relay/tcp/8471/p2p/{relay}/p2p-circuit"),
    ] {
        c.listen_addrs = Some(vec![bad.clone()]);
        let err = c.validate().unwrap_err();
        assert!(err.contains("p2p-circuit"), "{bad}: {err}");
    }
    c.listen_addrs = None;
    c.relay_server = true;
    c.external_addrs = vec!["/ip4/203.0.113.7/tcp/8471".into()];
    c.validate().expect("a relay");
    assert_eq!(
        crate::p2p::p2p_config(&c, Vec::new()).external_addrs.len(),
        1
    );
    assert!(crate::p2p::p2p_config(&c, Vec::new()).relay_server);
    c.external_addrs = vec!["203.0.113.7:8471".into()];
    let err = c.validate().unwrap_err();
    assert!(err.starts_with("external_addrs[0]:"), "{err}");
}

#[test]
fn listen_addrs_default_to_quic_on_the_http_port_number_and_are_checked() {
    let mut c = NodeConfig::embedded_default();
    c.host = "0.0.0.0".into();
    c.port = 8470;
    let addrs = c.p2p_listen_addrs().unwrap().unwrap();
    let shown: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
    assert_eq!(shown, vec!["/ip4/0.0.0.0/udp/8470/quic-v1"]);
    c.host = "::1".into();
    assert_eq!(
        c.p2p_listen_addrs().unwrap().unwrap()[0].to_string(),
        "/ip6/::1/udp/8470/quic-v1"
    );
    c.listen_addrs = Some(vec![]);
    assert_eq!(c.p2p_listen_addrs(), Ok(None));
    c.listen_addrs = Some(vec![
        "/ip4/127.0.0.1/tcp/0".into(),
        "/ip4/0.0.0.0/udp/9000/quic-v1".into(),
    ]);
    assert_eq!(c.p2p_listen_addrs().unwrap().unwrap().len(), 2);
    c.validate().expect("valid listen addresses");
    for bad in ["127.0.0.1:9000", "/ip4/127.0.0.1/udp/9000", "/dns4/x/tcp/1"] {
        c.listen_addrs = Some(vec![bad.into()]);
        let err = c.validate().unwrap_err();
        assert!(err.starts_with("listen_addrs[0]:"), "{bad}: {err}");
    }
    let loaded = NodeConfig::from_json(
        r#"{"listen_addrs": ["/ip4/0.0.0.0/tcp/8471"], "bootstrap_peers": ["b:2"]}"#,
        "test",
    )
    .unwrap();
    assert!(loaded.ignored_keys.is_empty());
    assert_eq!(
        loaded.config.listen_addrs,
        Some(vec!["/ip4/0.0.0.0/tcp/8471".to_owned()])
    );
}
