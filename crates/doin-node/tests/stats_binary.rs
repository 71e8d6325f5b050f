//! Experiment stats of the real `doin-node` binary: one CSV line and one `fact_round` row
//! per round from round 1, every accepted optimae of the chain in `fact_chain_optimae`,
//! the `/stats` endpoints (and their 400/404 answers), `/stats/export`, a kill -9 mid-run
//! that leaves no torn row and a restart that appends, and `doin-node olap-sync` into the
//! machine's PostgreSQL.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{free_port, NodeProcess};
use doin_primitives::models::TransactionType;
use doin_stats::csv::{parse_line, CSV_COLUMNS};
use doin_stats::OlapReader;

const CONFIG: &str = r#"{
  "target_block_time": 1,
  "initial_threshold": 0.05,
  "quorum_min_evaluators": 0,
  "domains": [{
    "domain_id": "quadratic",
    "optimize": true,
    "evaluate": true,
    "optimization_plugin": "simple_quadratic",
    "inference_plugin": "simple_quadratic",
    "synthetic_data_plugin": "simple_quadratic",
    "has_synthetic_data": true,
    "optimization_config": {"n_params": 10, "step_size": 0.5, "seed": 7, "round_interval_seconds": 0.01},
    "param_bounds": {"x": [-20.0, 20.0]}
  }]
}"#;

/// The CSV's rows (header checked and dropped), each split into its 51 fields. Panics on
/// a torn or malformed line.
fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).expect("csv");
    assert!(
        text.is_empty() || text.ends_with("\r\n"),
        "no torn last line"
    );
    let mut lines = text.split_terminator("\r\n");
    assert_eq!(
        lines.next(),
        Some(CSV_COLUMNS.join(",").as_str()),
        "one header first"
    );
    lines
        .map(|l| {
            let f = parse_line(l);
            assert_eq!(f.len(), 51, "a complete row: {l}");
            assert_ne!(f[0], "experiment_id", "the header is written once");
            f
        })
        .collect()
}

/// Round numbers per experiment, in file order.
fn rounds_by_experiment(rows: &[Vec<String>]) -> BTreeMap<String, Vec<u64>> {
    let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for r in rows {
        out.entry(r[0].clone())
            .or_default()
            .push(r[10].parse().expect("round_number"));
    }
    out
}

fn get_status(node: &NodeProcess, path: &str) -> (u16, serde_json::Value) {
    let resp = reqwest::blocking::Client::new()
        .get(node.url(path))
        .timeout(Duration::from_secs(10))
        .send()
        .expect("request");
    let status = resp.status().as_u16();
    let body = resp.json().unwrap_or(serde_json::Value::Null);
    (status, body)
}

fn assert_error(node: &NodeProcess, path: &str, code: u16) {
    let (status, body) = get_status(node, path);
    assert_eq!(status, code, "{path}: {body}");
    assert_eq!(body["status"], "error", "{path}: a JSON reason: {body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{path}: {body}"
    );
}

fn olap_round_ids(r: &OlapReader, experiment_id: &str) -> Vec<(u64, String)> {
    r.rounds(experiment_id, i64::MAX)
        .expect("rounds")
        .iter()
        .map(|x| {
            (
                x["round_number"].as_u64().expect("n"),
                x["round_id"].as_str().expect("id").to_owned(),
            )
        })
        .collect()
}

#[test]
fn stats_track_every_round_and_block_survive_kill_9_and_export() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = dir.path().join("config.json");
    std::fs::write(&config_path, CONFIG).expect("config");
    let data = dir.path().join("data");
    let csv_path = data.join("experiment_stats.csv");
    let olap_path = data.join("olap.db");
    let args = ["--config", config_path.to_str().expect("utf8")];

    // First run: rounds and blocks, the API, then kill -9.
    let mut node = NodeProcess::start(&data, free_port(), &args);
    node.wait_status(Duration::from_secs(60), "3 blocks", |s| {
        s["chain_height"].as_i64().unwrap_or(0) >= 4
    });
    let (code, exps) = get_status(&node, "/stats/experiments");
    assert_eq!(code, 200);
    let experiments = exps["experiments"].as_array().expect("experiments");
    assert_eq!(experiments.len(), 1, "{exps}");
    let exp1 = experiments[0]["experiment_id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(experiments[0]["domain_id"], "quadratic");
    let (code, rounds) = get_status(
        &node,
        &format!("/stats/rounds?experiment_id={exp1}&limit=5"),
    );
    assert_eq!(code, 200);
    let nums: Vec<u64> = rounds["rounds"]
        .as_array()
        .expect("rounds")
        .iter()
        .map(|r| r["round_number"].as_u64().expect("n"))
        .collect();
    assert_eq!(nums, [1, 2, 3, 4, 5], "rounds from round 1");
    let (code, summary) = get_status(&node, "/stats?domain=quadratic");
    assert_eq!(code, 200);
    assert_eq!(summary["experiment_id"], exp1.as_str());
    assert!(summary["rounds"].as_i64().unwrap_or(0) >= 5, "{summary}");
    assert!(summary["olap_summaries"].is_array());
    let (code, all) = get_status(&node, "/stats");
    assert_eq!(code, 200);
    assert_eq!(all["quadratic"]["experiment_id"], exp1.as_str());
    let (code, metrics) = get_status(&node, "/stats/chain-metrics?domain_id=quadratic");
    assert_eq!(code, 200);
    assert!(metrics["count"].as_u64().unwrap_or(0) >= 1, "{metrics}");
    assert_eq!(
        metrics["count"].as_u64(),
        metrics["metrics"].as_array().map(|a| a.len() as u64)
    );
    assert_eq!(metrics["metrics"][0]["experiment_id"], exp1.as_str());

    // Bad input: JSON reasons.
    assert_error(&node, "/stats/rounds", 400);
    assert_error(&node, "/stats/rounds?experiment_id=", 400);
    assert_error(&node, "/stats/rounds?experiment_id=a%20b%27%3B", 400);
    assert_error(
        &node,
        &format!("/stats/rounds?experiment_id={exp1}&limit=-1"),
        400,
    );
    assert_error(
        &node,
        &format!("/stats/rounds?experiment_id={exp1}&limit=ten"),
        400,
    );
    assert_error(&node, "/stats/rounds?experiment_id=0123456789abcdef", 404);
    assert_error(&node, "/stats/chain-metrics?domain_id=no-such-domain", 404);
    assert_error(&node, "/stats?domain=no-such-domain", 404);

    // Export: a consistent SQLite file taken while the node writes.
    let resp = reqwest::blocking::Client::new()
        .get(node.url("/stats/export"))
        .timeout(Duration::from_secs(30))
        .send()
        .expect("export");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()["content-disposition"]
            .to_str()
            .expect("header"),
        "attachment; filename=olap.db"
    );
    let copy = dir.path().join("exported.db");
    std::fs::write(&copy, resp.bytes().expect("body")).expect("write copy");
    let exported = OlapReader::open(&copy).expect("the export is a database");
    assert!(exported.count("fact_round").expect("n") >= 5);
    assert_eq!(exported.experiments().expect("e").len(), 1);

    std::thread::sleep(Duration::from_millis(300));
    node.kill9();

    // After the kill: no torn row, rounds 1..n, the OLAP holds a prefix of the CSV's rounds.
    let rows = csv_rows(&csv_path);
    let by_exp = rounds_by_experiment(&rows);
    let n1 = by_exp[&exp1].len() as u64;
    assert_eq!(by_exp[&exp1], (1..=n1).collect::<Vec<_>>());
    let olap = OlapReader::open(&olap_path).expect("olap");
    let in_olap = olap_round_ids(&olap, &exp1);
    let m = in_olap.len() as u64;
    assert!(m >= 5 && m <= n1, "OLAP has {m} of {n1} rounds");
    assert_eq!(
        in_olap.iter().map(|r| r.0).collect::<Vec<_>>(),
        (1..=m).collect::<Vec<_>>(),
        "the OLAP lost at most the last few rounds, never one in the middle"
    );
    let csv_ids: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert!(in_olap.iter().all(|(_, id)| csv_ids.contains(&id.as_str())));
    drop(olap);

    // A torn line, as a crash mid-write would leave: repaired at the next start.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&csv_path)
        .expect("open csv");
    std::io::Write::write_all(&mut f, format!("{exp1},deadbeef,quadr").as_bytes()).expect("torn");
    drop(f);

    // Second run: appends a new experiment, then a clean stop flushes everything.
    let mut node = NodeProcess::start(&data, free_port(), &args);
    node.wait_ready();
    let before = node.get("/status").expect("status")["chain_height"]
        .as_i64()
        .expect("height");
    node.wait_status(Duration::from_secs(60), "one more block", |s| {
        s["chain_height"].as_i64().unwrap_or(0) > before
    });
    node.terminate();
    let blocks = doin_store::ChainReader::open(&data.join("chain.db"))
        .expect("chain.db")
        .blocks(0, i64::MAX)
        .expect("blocks");

    let rows = csv_rows(&csv_path);
    let by_exp = rounds_by_experiment(&rows);
    assert_eq!(by_exp.len(), 2, "the restart appended a second experiment");
    assert_eq!(
        by_exp[&exp1].len() as u64,
        n1,
        "the first run's rows are kept"
    );
    let (exp2, r2) = by_exp
        .iter()
        .find(|(k, _)| **k != exp1)
        .map(|(k, v)| (k.clone(), v.clone()))
        .expect("second experiment");
    assert_eq!(r2, (1..=r2.len() as u64).collect::<Vec<_>>());
    let olap = OlapReader::open(&olap_path).expect("olap");
    let in_olap: Vec<String> = olap_round_ids(&olap, &exp2)
        .into_iter()
        .map(|r| r.1)
        .collect();
    let in_csv: Vec<String> = rows
        .iter()
        .filter(|r| r[0] == exp2)
        .map(|r| r[1].clone())
        .collect();
    assert_eq!(
        in_olap, in_csv,
        "after a clean stop the OLAP has every round of the CSV"
    );
    let summaries = olap.summaries(None).expect("summaries");
    assert!(
        summaries
            .iter()
            .any(|s| s["experiment_id"] == exp2.as_str()),
        "a clean stop writes the summary: {summaries:?}"
    );
    // Every accepted optimae of the chain, the first run's included.
    let on_chain: Vec<String> = blocks
        .iter()
        .flat_map(|b| &b.transactions)
        .filter(|t| t.tx_type == TransactionType::OptimaeAccepted)
        .map(|t| {
            t.payload["optimae_id"]
                .as_str()
                .expect("optimae_id")
                .to_owned()
        })
        .collect();
    let mut in_table: Vec<String> = olap
        .chain_metrics(None)
        .expect("metrics")
        .iter()
        .map(|m| m["optimae_id"].as_str().expect("id").to_owned())
        .collect();
    in_table.sort();
    let mut expected = on_chain.clone();
    expected.sort();
    assert_eq!(
        in_table, expected,
        "fact_chain_optimae holds every accepted optimae"
    );

    // `doin-node olap-sync` into PostgreSQL: everything once, then nothing.
    let schema = format!("doin_test_cli_{}", std::process::id());
    let url = std::env::var("DOIN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into());
    let sync = || {
        let out = Command::new(env!("CARGO_BIN_EXE_doin-node"))
            .args(["olap-sync", "--olap-db"])
            .arg(&olap_path)
            .args(["--postgres-url", &url, "--schema", &schema])
            .output()
            .expect("run olap-sync");
        assert!(
            out.status.success(),
            "olap-sync failed (is PostgreSQL running on 127.0.0.1:5432?): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("a JSON report")
    };
    let first = sync();
    assert_eq!(
        first["fact_round"].as_i64(),
        Some(olap.count("fact_round").expect("n"))
    );
    assert_eq!(
        first["fact_chain_optimae"].as_i64(),
        Some(on_chain.len() as i64)
    );
    let second = sync();
    assert!(
        second.as_object().expect("obj").values().all(|v| v == 0),
        "a second sync adds nothing: {second}"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let pg = doin_stats::pg::PgExport::connect(&url, &schema)
            .await
            .expect("connect");
        pg.client()
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .expect("drop");
    });
}
