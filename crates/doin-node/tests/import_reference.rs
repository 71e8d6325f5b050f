//! `doin-node import-reference`, run as a user runs it: a reference chain built with the
//! reference's hash rules (two reference nodes' experiments, the reference's summary and
//! detailed OPTIMAE_ACCEPTED payloads with the experiment metrics at the top level), as
//! the reference's SQLite `chain.db` and as its JSON export, the reference's own served
//! chain, and a `chain.db` a reference node wrote (`testdata/reference/chains/`). Imports verify and load; a second import adds nothing; a tampered file is refused
//! naming its first bad block; the node then shows the archive beside its live experiments
//! (`/stats/*`, the dashboard), and PostgreSQL gets it too.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{free_port, NodeProcess};
use doin_primitives::cjson::to_cjson;
use doin_primitives::merkle::merkle_root;
use doin_primitives::models::{Block, BlockHeader, Transaction, TransactionType, WireModel};
use doin_primitives::{map, Map, Timestamp, Value};

const DOMAIN: &str = "quadratic-reference";
const NODES: [&str; 2] = [
    "5c1e0a7d2f4b6c8e9a1b3d5f7e9c2a4b6d8f0e1c",
    "0b6e2f1c9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c",
];
const EXPERIMENTS: [&str; 2] = [
    "3a9f5e2d1c0b4a6e8f7d9c1b2a3e4f50",
    "e2c0d0b1a4f34c3e9d6f0a1b2c3d4e5f",
];
const BLOCKS: i64 = 6;

/// Block `i`'s optimae: node `i % 2`, improving by node.
fn optimae(i: i64) -> (usize, String, f64) {
    let n = (i % 2) as usize;
    (n, format!("opt-{}-{i}", &NODES[n][..8]), -400.0 / i as f64)
}

/// The reference's two OPTIMAE_ACCEPTED transactions for block `i`.
fn accepted_pair(i: i64, at: i64) -> Vec<Transaction> {
    let (n, id, perf) = optimae(i);
    let summary =
        map! { "optimae_id" => id.clone(), "performance" => perf, "increment" => -perf / 4.0 };
    let detailed = map! {
        "optimae_id" => id,
        "parameters" => map! { "x" => vec![Value::Float(i as f64), Value::Float(-0.5)] },
        "verified_performance" => perf,
        "effective_increment" => -perf / 4.0,
        "reward_fraction" => 1.0,
        "quorum_agree_fraction" => 1.0,
        "incentive_reason" => "auto_accept_no_synthetic_validation",
        "val_mae" => Value::Null,
        "champion_metrics" => Map::new(),
        "experiment_id" => EXPERIMENTS[n],
        "round_number" => i / 2,
        "time_to_this_result_seconds" => 3.5 * i as f64,
        "optimization_config_hash" => "315452708dfa0c369481b7911bc45e336721b37276afdda19d3c7da4c54a6ddf",
        "data_hash" => "",
        "reported_performance" => perf,
        "previous_best_performance" => Value::Null,
    };
    [summary, detailed]
        .into_iter()
        .enumerate()
        .map(|(k, payload)| {
            Transaction::new(
                TransactionType::OptimaeAccepted,
                DOMAIN,
                NODES[n],
                payload,
                Timestamp::from_unix_micros(at + k as i64),
            )
        })
        .collect()
}

/// A reference chain: genesis and [`BLOCKS`] blocks, hashed by the reference's rules.
fn reference_chain() -> Vec<Block> {
    let mut blocks = vec![Block::genesis()];
    for i in 1..=BLOCKS {
        let at = 1_795_473_020_000_000 + i * 3_000_000;
        let txs = accepted_pair(i, at - 1000);
        let ids: Vec<&str> = txs.iter().map(|t| t.id.as_str()).collect();
        let header = BlockHeader {
            index: i,
            previous_hash: blocks[blocks.len() - 1].hash.clone(),
            timestamp: Timestamp::from_unix_micros(at),
            merkle_root: merkle_root(&ids),
            generator_id: NODES[optimae(i).0].into(),
            weighted_performance_sum: 100.0 / i as f64,
            threshold: 1.0,
        };
        blocks.push(Block::new(header, txs));
    }
    blocks
}

/// The reference's `chain.db` (schema version 1) holding `blocks`.
fn write_chain_db(path: &Path, blocks: &[Block]) {
    let conn = rusqlite::Connection::open(path).expect("chain.db");
    conn.execute_batch(
        "CREATE TABLE metadata (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         INSERT INTO metadata VALUES ('schema_version', '1');
         CREATE TABLE blocks (block_index INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE,
           previous_hash TEXT NOT NULL, timestamp TEXT NOT NULL, merkle_root TEXT NOT NULL,
           generator_id TEXT NOT NULL, weighted_performance_sum REAL NOT NULL,
           threshold REAL NOT NULL, tx_count INTEGER NOT NULL DEFAULT 0);
         CREATE TABLE transactions (tx_id TEXT PRIMARY KEY,
           block_index INTEGER NOT NULL REFERENCES blocks(block_index),
           tx_index INTEGER NOT NULL, tx_type TEXT NOT NULL, domain_id TEXT NOT NULL,
           peer_id TEXT NOT NULL, payload TEXT NOT NULL, timestamp TEXT NOT NULL);
         CREATE TABLE state_snapshots (block_index INTEGER PRIMARY KEY,
           block_hash TEXT NOT NULL, balances TEXT NOT NULL, reputation TEXT NOT NULL,
           domain_stats TEXT NOT NULL, created_at TEXT NOT NULL DEFAULT (datetime('now')));
         CREATE TABLE peers (peer_id TEXT PRIMARY KEY, address TEXT NOT NULL,
           port INTEGER NOT NULL, last_seen REAL NOT NULL, reputation REAL NOT NULL DEFAULT 0.0,
           domains TEXT NOT NULL DEFAULT '[]', roles TEXT NOT NULL DEFAULT '[]');",
    )
    .expect("schema");
    for b in blocks {
        let h = &b.header;
        conn.execute(
            "INSERT INTO blocks VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            rusqlite::params![
                h.index,
                b.hash,
                h.previous_hash,
                h.timestamp.isoformat(),
                h.merkle_root,
                h.generator_id,
                h.weighted_performance_sum,
                h.threshold,
                b.transactions.len() as i64
            ],
        )
        .expect("block row");
        for (k, t) in b.transactions.iter().enumerate() {
            conn.execute(
                "INSERT INTO transactions VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                rusqlite::params![
                    t.id,
                    h.index,
                    k as i64,
                    t.tx_type.as_str(),
                    t.domain_id,
                    t.peer_id,
                    to_cjson(&Value::Object(t.payload.clone())),
                    t.timestamp.isoformat()
                ],
            )
            .expect("transaction row");
        }
    }
}

/// The reference's legacy `chain.json`: an array of blocks.
fn write_chain_json(path: &Path, blocks: &[Block]) {
    let list: Vec<String> = blocks.iter().map(WireModel::to_wire_json).collect();
    std::fs::write(path, format!("[{}]", list.join(",\n"))).expect("chain.json");
}

fn import(data_dir: &Path, file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_doin-node"))
        .arg("--data-dir")
        .arg(data_dir)
        .arg("import-reference")
        .arg(file)
        .output()
        .expect("run doin-node import-reference")
}

/// The JSON summary of a successful import.
fn imported(data_dir: &Path, file: &Path) -> serde_json::Value {
    let out = import(data_dir, file);
    assert!(
        out.status.success(),
        "import of {} failed: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON summary")
}

/// The error of a refused import (it must fail).
fn refused(data_dir: &Path, file: &Path) -> String {
    let out = import(data_dir, file);
    assert!(!out.status.success(), "{} was imported", file.display());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn olap_rows(data_dir: &Path, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(data_dir.join("olap.db")).expect("olap.db");
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}

fn served_reference_chain() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/reference/wire-samples/api_chain_blocks_from_0_to_5.json")
}

#[test]
fn a_reference_chain_db_and_its_json_export_import_once_and_show_beside_live_stats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let chain = reference_chain();
    let tip = chain[chain.len() - 1].hash.clone();
    let db = dir.path().join("chain.db");
    write_chain_db(&db, &chain);
    let json = dir.path().join("chain.json");
    write_chain_json(&json, &chain);

    let first = imported(&data, &db);
    assert_eq!(first["source_id"], tip.as_str());
    assert_eq!(first["format"], "sqlite");
    assert_eq!(first["blocks"], BLOCKS + 1);
    assert_eq!(
        first["optimae"], BLOCKS,
        "one optimae per summary + detailed pair"
    );
    assert_eq!(first["experiments"], 2);
    assert_eq!(
        first["added"],
        serde_json::json!({"fact_chain_optimae": BLOCKS, "fact_round": BLOCKS, "dim_experiment": 2})
    );
    let rows = olap_rows(&data, "fact_chain_optimae");
    // Again, and as its JSON export: the same chain, nothing added.
    for file in [&db, &json] {
        let again = imported(&data, file);
        assert_eq!(again["source_id"], tip.as_str());
        assert_eq!(again["new_source"], false);
        assert_eq!(
            again["added"],
            serde_json::json!({"fact_chain_optimae": 0, "fact_round": 0, "dim_experiment": 0})
        );
    }
    assert_eq!(olap_rows(&data, "fact_chain_optimae"), rows);
    assert_eq!(imported(&data, &json)["format"], "json");

    // The reference's own served chain (a `/chain/blocks` answer) is a second archive.
    let served = imported(&data, &served_reference_chain());
    assert_eq!(served["blocks"], 6);
    assert_eq!(served["new_source"], true);
    assert_eq!(olap_rows(&data, "archive_source"), 2);

    // The node shows both archives beside its own experiments, marked as imported.
    let mut node = NodeProcess::start(&data, free_port(), &[]);
    node.wait_ready();
    let started = Instant::now();
    let metrics = loop {
        let metrics = node.get("/stats/chain-metrics").unwrap_or_default();
        let live = metrics["metrics"]
            .as_array()
            .is_some_and(|l| l.iter().any(|m| m["imported_from"].is_null()));
        if live {
            break metrics;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no live optimae in the stats after 60 s: {metrics}\n{}",
            node.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let list = metrics["metrics"].as_array().expect("metrics");
    let from_archive = |m: &&serde_json::Value| m["imported_from"].as_str() == Some(tip.as_str());
    let archived: Vec<&serde_json::Value> = list.iter().filter(from_archive).collect();
    assert_eq!(archived.len() as i64, BLOCKS, "{metrics}");
    let third = archived
        .iter()
        .find(|m| m["block_height"] == 3)
        .expect("block 3's optimae");
    assert_eq!(third["experiment_id"], EXPERIMENTS[1]);
    assert_eq!(third["round_number"], 1);
    assert_eq!(third["time_to_this_result_seconds"], 10.5);
    assert_eq!(third["verified_performance"], optimae(3).2);
    assert!(
        list.iter().any(|m| m["imported_from"].is_null()),
        "the node's own optimae beside the archive: {metrics}"
    );
    let experiments = node.get("/stats/experiments").expect("experiments");
    let imported_experiments: Vec<&serde_json::Value> = experiments["experiments"]
        .as_array()
        .expect("experiments")
        .iter()
        .filter(|e| e["imported_from"].as_str() == Some(tip.as_str()))
        .collect();
    assert_eq!(imported_experiments.len(), 2, "{experiments}");
    assert!(imported_experiments
        .iter()
        .all(|e| e["doin_version"] == "reference (imported)"));
    let summaries = experiments["summaries"].as_array().expect("summaries");
    let summary = summaries
        .iter()
        .find(|s| s["experiment_id"] == EXPERIMENTS[0])
        .expect("an imported summary");
    assert_eq!(summary["total_rounds"], 3);
    assert_eq!(summary["best_performance"], optimae(6).2);
    let rounds = node
        .get(&format!("/stats/rounds?experiment_id={}", EXPERIMENTS[0]))
        .expect("rounds");
    assert_eq!(
        rounds["rounds"].as_array().map(Vec::len),
        Some(3),
        "{rounds}"
    );
    let stats = node.get("/stats").expect("stats");
    assert_eq!(stats[DOMAIN]["imported_from"], tip.as_str(), "{stats}");
    assert!(
        stats["quadratic"]["experiment_id"].is_string()
            && stats["quadratic"]["imported_from"].is_null(),
        "the live domain: {stats}"
    );
    let snapshot = node.get("/dashboard/snapshot").expect("dashboard snapshot");
    let history = snapshot["imported"].as_array().expect("imported history");
    assert!(
        history
            .iter()
            .any(|r| r["experiment"] == EXPERIMENTS[1] && r["optimae"] == 3),
        "{snapshot}"
    );
    assert!(
        snapshot["accepted_by_node"]
            .as_array()
            .expect("live counts")
            .iter()
            .all(|r| !NODES
                .iter()
                .any(|n| n.starts_with(r["optimizer"].as_str().unwrap_or("-")))),
        "the live counts leave the archive out: {snapshot}"
    );
    let page = node.get_text("/dashboard").expect("dashboard page");
    assert!(page.contains("id=\"imported\""));
    // The chain itself is the node's own: the archive's blocks are not in it.
    let blocks = node.all_blocks();
    assert!(blocks.iter().all(|b| b.hash != tip));
    node.terminate();
}

#[test]
fn the_reference_nodes_own_chain_db_imports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/reference/chains/chain.db");
    // Imported from a copy, as an operator would: the import never writes to the file.
    let copy = dir.path().join("chain.db");
    std::fs::copy(&file, &copy).expect("copy");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let first = imported(&data, &copy);
    assert_eq!(first["format"], "sqlite");
    assert_eq!(first["blocks"], 15);
    assert_eq!(first["optimae"], 14);
    assert_eq!(first["experiments"], 1);
    assert_eq!(
        first["source_id"],
        "ca29284be4df5e42c91166173df7e4dabda453a5eaaedce695720c8cce96858d"
    );
    assert_eq!(imported(&data, &copy)["added"]["fact_chain_optimae"], 0);
    let conn = rusqlite::Connection::open(data.join("olap.db")).expect("olap.db");
    let (rounds, elapsed): (i64, f64) = conn
        .query_row(
            "SELECT COUNT(*), MAX(elapsed_seconds) FROM fact_round \
             WHERE experiment_id = 'bd0e4d348d9b46a5afe79ce70d67718c'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("rounds");
    // The last accepted optimae's `time_to_this_result_seconds`, as the reference wrote it.
    assert_eq!((rounds, elapsed), (14, 70.023));
}

#[test]
fn a_tampered_chain_is_refused_naming_its_first_bad_block_and_nothing_is_loaded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let chain = reference_chain();

    // chain.db: block 3's detailed payload claims a better result under its old id.
    let db = dir.path().join("chain.db");
    write_chain_db(&db, &chain);
    let conn = rusqlite::Connection::open(&db).expect("chain.db");
    let mut payload = chain[3].transactions[1].payload.clone();
    payload.insert("verified_performance".into(), Value::Float(-1.0));
    conn.execute(
        "UPDATE transactions SET payload = ?1 WHERE block_index = 3 AND tx_index = 1",
        [to_cjson(&Value::Object(payload))],
    )
    .expect("tamper");
    drop(conn);
    let err = refused(&data, &db);
    assert!(err.contains("block 3: transaction 1 has id"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");

    // chain.json: block 2's header sum raised, its hash left as it was.
    let mut edited = chain.clone();
    edited[2].header.weighted_performance_sum = 1e6;
    let json = dir.path().join("chain.json");
    write_chain_json(&json, &edited);
    let err = refused(&data, &json);
    assert!(err.contains("block 2: hash"), "{err}");

    // A block dropped: block 4 now follows block 2.
    let mut gap = chain.clone();
    gap.remove(3);
    write_chain_json(&json, &gap);
    let err = refused(&data, &json);
    assert!(err.contains("block 3: its header says index 4"), "{err}");

    // Not a chain at all, and a doin node's own store.
    std::fs::write(&json, "{\"hello\": 1}").expect("write");
    assert!(refused(&data, &json).contains("is not a reference chain"));
    let ours = dir.path().join("doin-chain.db");
    drop(doin_store::ChainStore::open(&ours).expect("a doin chain.db"));
    let err = refused(&data, &ours);
    assert!(err.contains("schema_version is \"doin-rs-1\""), "{err}");
    assert!(
        !data.join("olap.db").exists(),
        "a refused chain leaves the stats untouched"
    );
}

#[test]
fn an_import_reaches_postgresql_when_it_is_configured() {
    let url = std::env::var("DOIN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into());
    let schema = format!("doin_test_import_{}", std::process::id());
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("chain.db");
    write_chain_db(&db, &reference_chain());
    let olap = dir.path().join("olap.db");
    let outcome =
        doin_node::import_reference::import_reference(&db, &olap, Some((url.as_str(), &schema)))
            .unwrap_or_else(|e| {
                panic!("import with PostgreSQL at {url} ({e}); start it (.ci/run does)")
            });
    assert!(outcome.postgres_rows.is_some_and(|n| n > 0));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        let n: i64 = client
            .query_one(
                &format!(
                    "SELECT COUNT(*) FROM {schema}.fact_chain_optimae WHERE imported_from = $1"
                ),
                &[&outcome.source_id],
            )
            .await
            .expect("count")
            .get(0);
        assert_eq!(n, BLOCKS);
        let e: i64 = client
            .query_one(
                &format!(
                    "SELECT COUNT(*) FROM {schema}.dim_experiment WHERE imported_from IS NOT NULL"
                ),
                &[],
            )
            .await
            .expect("count")
            .get(0);
        assert_eq!(e, 2);
        client
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .expect("drop");
    });
}
