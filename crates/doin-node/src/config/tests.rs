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
