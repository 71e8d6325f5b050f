//! Ingest figures: rounds per second into the OLAP database through [`StatsHandle`]
//! (10,000 rounds from the first enqueue to the last commit), and rows per second
//! exported to PostgreSQL (`DOIN_TEST_POSTGRES_URL`, default the local test server).
//!
//! `cargo bench -p doin-stats --bench ingest`

use std::time::Instant;

use doin_primitives::{map, Timestamp, Value};
use doin_stats::pg::PgExport;
use doin_stats::{ExperimentInfo, StatsHandle, StatsOptions};

const ROUNDS: u64 = 10_000;

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = StatsOptions::new(
        dir.path().join("olap.db"),
        Some(dir.path().join("experiment_stats.csv")),
    );
    options.queue_capacity = 2 * ROUNDS as usize;
    let stats = StatsHandle::open(options).expect("open");
    let mut tracker = stats.start_experiment(ExperimentInfo {
        experiment_id: "bench".into(),
        domain_id: "quadratic".into(),
        node_id: "node".into(),
        hostname: "host".into(),
        optimizer_plugin: "simple_quadratic".into(),
        performance_metric: "fitness".into(),
        metric_schema: String::new(),
        higher_is_better: true,
        optimization_config: "{}".into(),
        param_bounds: "{}".into(),
        target_performance: None,
        started_at: Timestamp::now_utc(),
        doin_version: "bench".into(),
    });
    stats.flush().expect("flush");
    let xs: Vec<Value> = (0..10).map(|i| Value::Float(i as f64 * 0.37)).collect();
    let params = map! { "x" => xs };
    let started = Instant::now();
    let mut in_loop = std::time::Duration::ZERO;
    for k in 1..=ROUNDS {
        let t = Instant::now();
        tracker.record_round(k, -1000.0 + k as f64 * 0.01, &params, 5, 2);
        in_loop += t.elapsed();
    }
    stats.flush().expect("flush");
    let took = started.elapsed();
    let c = stats.counters();
    println!(
        "olap ingest: {} rounds (CSV line + OLAP row each) in {:.3} s = {:.0} rounds/s; \
         caller time {:.1} us/round; dropped {}",
        c.rounds,
        took.as_secs_f64(),
        c.rounds as f64 / took.as_secs_f64(),
        in_loop.as_secs_f64() * 1e6 / ROUNDS as f64,
        c.dropped
    );

    let url = std::env::var("DOIN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let reader = stats.reader().expect("reader");
    rt.block_on(async {
        let schema = format!("doin_bench_{}", std::process::id());
        let mut export = match PgExport::connect(&url, &schema).await {
            Ok(e) => e,
            Err(e) => {
                println!("postgres export: skipped, {url} not reachable: {e}");
                return;
            }
        };
        let started = Instant::now();
        let report = export.sync(&reader).await.expect("sync");
        let took = started.elapsed();
        println!(
            "postgres export: {} rows in {:.3} s = {:.0} rows/s",
            report.total(),
            took.as_secs_f64(),
            report.total() as f64 / took.as_secs_f64()
        );
        let started = Instant::now();
        let again = export.sync(&reader).await.expect("sync");
        println!(
            "postgres re-sync (nothing new): {} rows in {:.3} s",
            again.total(),
            started.elapsed().as_secs_f64()
        );
        let _ = export
            .client()
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .await;
    });
}
