//! The OLAP database: schema v3, one row per round, chain optimae from blocks, backups,
//! and a full queue that drops instead of blocking.

mod common;

use common::{chain, experiment, params};
use doin_stats::{OlapReader, StatsHandle, StatsOptions};

fn open(dir: &std::path::Path) -> StatsHandle {
    StatsHandle::open(StatsOptions::new(
        dir.join("olap.db"),
        Some(dir.join("experiment_stats.csv")),
    ))
    .expect("stats open")
}

fn columns(r: &OlapReader, table: &str) -> Vec<String> {
    let mut st = r
        .connection()
        .prepare(&format!(
            "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
        ))
        .expect("prepare");
    st.query_map([], |row| row.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

#[test]
fn schema_v3_has_the_reference_tables_and_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stats = open(dir.path());
    let r = stats.reader().expect("reader");
    let mode: String = r
        .connection()
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
    let version: i64 = r
        .connection()
        .query_row("SELECT MAX(version) FROM _schema_version", [], |row| {
            row.get(0)
        })
        .expect("version");
    assert_eq!(version, 3);
    assert_eq!(
        columns(&r, "dim_domain"),
        ["domain_id", "domain_type", "description"]
    );
    assert_eq!(
        columns(&r, "dim_experiment"),
        [
            "experiment_id",
            "domain_id",
            "node_id",
            "hostname",
            "optimizer_plugin",
            "performance_metric",
            "metric_schema",
            "higher_is_better",
            "optimization_config",
            "param_bounds",
            "target_performance",
            "started_at",
            "finished_at",
            "converged",
            "doin_version",
            // DOIN's archive marker (NULL on this node's own rows).
            "imported_from"
        ]
    );
    assert_eq!(columns(&r, "fact_round").len(), 28);
    assert_eq!(columns(&r, "fact_round")[26], "metrics");
    assert_eq!(columns(&r, "fact_round")[27], "imported_from");
    assert_eq!(columns(&r, "fact_experiment_summary").len(), 12);
    assert_eq!(
        columns(&r, "fact_chain_optimae"),
        [
            "optimae_id",
            "domain_id",
            "optimizer_id",
            "experiment_id",
            "round_number",
            "parameters",
            "reported_performance",
            "verified_performance",
            "effective_increment",
            "time_to_this_result_seconds",
            "optimization_config_hash",
            "data_hash",
            "previous_best_performance",
            "reward_fraction",
            "quorum_agree_fraction",
            "block_height",
            "block_timestamp",
            "ingested_at",
            "imported_from"
        ]
    );
    let fks: i64 = r
        .connection()
        .query_row(
            "SELECT COUNT(*) FROM pragma_foreign_key_list('fact_round')",
            [],
            |row| row.get(0),
        )
        .expect("fks");
    assert_eq!(fks, 1);
    // Reopening an existing database keeps one version row.
    drop(stats);
    let stats = open(dir.path());
    assert_eq!(
        stats
            .reader()
            .expect("reader")
            .count("_schema_version")
            .expect("n"),
        1
    );
}

#[test]
fn one_fact_round_per_round_from_round_one_and_a_summary_at_the_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stats = open(dir.path());
    let mut tracker = stats.start_experiment(experiment("exp-a", "quadratic"));
    let perfs = [-50.0, -40.0, -45.0, -0.5, -0.7];
    for (i, p) in perfs.iter().enumerate() {
        tracker.record_round(i as u64 + 1, *p, &params(i as u64), 1, 0);
    }
    tracker.finish();
    stats.flush().expect("flush");
    let r = stats.reader().expect("reader");
    let rounds = r.rounds("exp-a", 1000).expect("rounds");
    assert_eq!(rounds.len(), 5);
    let nums: Vec<i64> = rounds
        .iter()
        .map(|x| x["round_number"].as_i64().expect("n"))
        .collect();
    assert_eq!(nums, [1, 2, 3, 4, 5]);
    let best: Vec<f64> = rounds
        .iter()
        .map(|x| x["best_performance"].as_f64().expect("b"))
        .collect();
    assert_eq!(best, [-50.0, -40.0, -40.0, -0.5, -0.5]);
    let improving: Vec<i64> = rounds
        .iter()
        .map(|x| x["is_improvement"].as_i64().expect("i"))
        .collect();
    assert_eq!(improving, [1, 1, 0, 1, 0]);
    assert_eq!(rounds[1]["performance_delta"].as_f64(), Some(10.0));
    let converged: Vec<i64> = rounds
        .iter()
        .map(|x| x["converged"].as_i64().expect("c"))
        .collect();
    assert_eq!(
        converged,
        [0, 0, 0, 1, 1],
        "converged latches at the target"
    );
    assert_eq!(rounds[0]["parameters"], r#"{"x": [0.0, -1.5]}"#);
    let summaries = r.summaries(Some("quadratic")).expect("summaries");
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0]["total_rounds"], 5);
    assert_eq!(summaries[0]["best_performance"].as_f64(), Some(-0.5));
    assert_eq!(summaries[0]["final_performance"].as_f64(), Some(-0.7));
    assert_eq!(summaries[0]["rounds_to_convergence"], 4);
    let exps = r.experiments().expect("experiments");
    assert_eq!(exps.len(), 1);
    assert_eq!(exps[0]["converged"], 1);
    assert!(exps[0]["finished_at"].is_string());
    assert!(r.domain_exists("quadratic").expect("q"));
    assert!(!r.domain_exists("nope").expect("q"));

    // The CSV got the same five rounds.
    let text = std::fs::read_to_string(dir.path().join("experiment_stats.csv")).expect("csv");
    assert_eq!(text.lines().count(), 6);
    assert_eq!(stats.counters().dropped, 0);
    assert_eq!(stats.counters().rounds, 5);
}

#[test]
fn chain_optimae_come_from_blocks_once_each() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stats = open(dir.path());
    let node = chain::identity(3);
    let (_, blocks) = chain::solo_chain(&node, 6);
    for b in &blocks {
        stats.record_block(b);
    }
    // A replay (restart, catch-up) adds nothing.
    for b in &blocks {
        stats.record_block(b);
    }
    stats.flush().expect("flush");
    let r = stats.reader().expect("reader");
    let rows = r.chain_metrics(Some(chain::DOMAIN)).expect("metrics");
    // Block 1 is a commitment block: the six optimae are in blocks 2 to 7.
    assert_eq!(rows.len(), 6);
    assert_eq!(r.max_block_height().expect("max"), Some(7));
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["block_height"], i as i64 + 2);
        assert_eq!(row["optimizer_id"], node.peer_id().as_str());
        assert_eq!(row["experiment_id"], "exp-1");
        assert_eq!(row["quorum_agree_fraction"].as_f64(), Some(1.0));
        assert!(row["verified_performance"].is_number());
        assert!(row["data_hash"].as_str().is_some_and(|h| h.len() == 64));
        if i == 0 {
            assert!(row["previous_best_performance"].is_null());
        } else {
            assert_eq!(
                row["previous_best_performance"],
                rows[i - 1]["verified_performance"]
            );
        }
    }
    assert!(r.domain_exists(chain::DOMAIN).expect("known"));

    // A consistent copy through the backup API.
    let copy = dir.path().join("copy.db");
    stats.backup_to(&copy).expect("backup");
    let c = OlapReader::open(&copy).expect("copy opens");
    assert_eq!(c.count("fact_chain_optimae").expect("n"), 6);
}

#[test]
fn a_full_queue_drops_rounds_and_counts_them_instead_of_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = StatsOptions::new(dir.path().join("olap.db"), None);
    options.queue_capacity = 1;
    let stats = StatsHandle::open(options).expect("open");
    let mut tracker = stats.start_experiment(experiment("exp-q", "quadratic"));
    let n = 20_000u64;
    let started = std::time::Instant::now();
    for k in 1..=n {
        tracker.record_round(k, -(k as f64), &params(k), 1, 0);
    }
    let took = started.elapsed();
    stats.flush().expect("flush");
    let c = stats.counters();
    assert!(
        c.dropped > 0,
        "a one-slot queue overflows ({c:?}, {took:?})"
    );
    assert_eq!(
        c.rounds + c.dropped,
        n,
        "every round is written or counted as dropped"
    );
    let r = stats.reader().expect("reader");
    assert_eq!(r.count("fact_round").expect("n") as u64, c.rounds);
}
