//! PostgreSQL export against the machine's server (`DOIN_TEST_POSTGRES_URL`, default
//! `postgres://root@127.0.0.1:5432/test`; CI starts it). Each test uses a schema of its
//! own and drops it. An unreachable server fails the test: it is never skipped.

mod common;

use common::{chain, experiment, params};
use doin_stats::pg::{PgExport, SyncReport};
use doin_stats::schema::TABLES;
use doin_stats::{OlapReader, StatsHandle, StatsOptions};

fn url() -> String {
    std::env::var("DOIN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn unique_schema(tag: &str) -> String {
    format!(
        "doin_test_{tag}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros())
            .unwrap_or(0)
    )
}

async fn connect(schema: &str) -> PgExport {
    match PgExport::connect(&url(), schema).await {
        Ok(e) => e,
        Err(e) => panic!(
            "PostgreSQL at {} is not reachable ({e}); start it (e.g. `service postgresql start`) \
             — .ci/run does",
            url()
        ),
    }
}

async fn drop_schema(export: &PgExport) {
    export
        .client()
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            export.schema()
        ))
        .await
        .expect("drop schema");
}

/// Every row of `table` in PostgreSQL as text, ordered by key.
async fn pg_rows(export: &PgExport, table: &str, key: &str) -> Vec<String> {
    export
        .client()
        .query(
            &format!(
                "SELECT row_to_json(t)::text FROM {}.{table} t ORDER BY {key}",
                export.schema()
            ),
            &[],
        )
        .await
        .expect("select")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn fill(stats: &StatsHandle, exp: &str, rounds: u64, finish: bool) {
    let mut t = stats.start_experiment(experiment(exp, chain::DOMAIN));
    for k in 1..=rounds {
        t.record_round(k, -100.0 + k as f64, &params(k), 1, 0);
    }
    if finish {
        t.finish();
    }
    stats.flush().expect("flush");
}

fn keys(reader: &OlapReader, table: &str, key: &str) -> Vec<String> {
    let mut st = reader
        .connection()
        .prepare(&format!("SELECT {key} FROM {table} ORDER BY {key}"))
        .expect("prepare");
    st.query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

const KEYS: [(&str, &str); 5] = [
    ("dim_domain", "domain_id"),
    ("dim_experiment", "experiment_id"),
    ("fact_round", "round_id"),
    ("fact_experiment_summary", "experiment_id"),
    ("fact_chain_optimae", "optimae_id"),
];

async fn assert_match(export: &PgExport, reader: &OlapReader) {
    for (table, key) in KEYS {
        let pg: Vec<String> = export
            .client()
            .query(
                &format!(
                    "SELECT {key} FROM {}.{table} ORDER BY {key}",
                    export.schema()
                ),
                &[],
            )
            .await
            .expect("keys")
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(
            pg,
            keys(reader, table, key),
            "{table}: PostgreSQL matches the OLAP row for row"
        );
    }
}

#[test]
fn sync_matches_olap_row_for_row_is_idempotent_and_picks_up_new_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stats =
        StatsHandle::open(StatsOptions::new(dir.path().join("olap.db"), None)).expect("open");
    fill(&stats, "exp-1", 2500, true);
    let node = chain::identity(4);
    // A commitment block, then five blocks of one optimae each.
    let (_, blocks) = chain::solo_chain(&node, 5);
    for b in &blocks[..4] {
        stats.record_block(b);
    }
    stats.flush().expect("flush");
    let reader = stats.reader().expect("reader");
    let rt = runtime();
    rt.block_on(async {
        let schema = unique_schema("sync");
        let mut export = connect(&schema).await;
        let first = export.sync(&reader).await.expect("first sync");
        assert_eq!(first.rows("fact_round"), 2500);
        assert_eq!(first.rows("fact_chain_optimae"), 3);
        assert_eq!(first.rows("dim_experiment"), 1);
        assert_eq!(first.rows("fact_experiment_summary"), 1);
        assert_match(&export, &reader).await;

        let second = export.sync(&reader).await.expect("second sync");
        assert_eq!(second.total(), 0, "a second sync adds nothing: {second:?}");
        assert_match(&export, &reader).await;

        // A run goes on: new rounds, a new experiment, more blocks.
        fill(&stats, "exp-2", 7, false);
        for b in &blocks[4..] {
            stats.record_block(b);
        }
        stats.flush().expect("flush");
        let third = export.sync(&reader).await.expect("third sync");
        assert_eq!(third.rows("fact_round"), 7);
        assert_eq!(third.rows("fact_chain_optimae"), 2);
        assert_eq!(third.rows("dim_experiment"), 1);
        assert_match(&export, &reader).await;

        // A second exporter (another process, the olap-sync subcommand) adds nothing either.
        let mut again = connect(&schema).await;
        assert_eq!(again.sync(&reader).await.expect("sync"), SyncReport {
            tables: TABLES.iter().map(|t| (*t, 0)).collect()
        });

        // Types are PostgreSQL's own.
        let types: Vec<(String, String)> = export
            .client()
            .query(
                "SELECT column_name::text, data_type::text FROM information_schema.columns \
                 WHERE table_schema = $1 AND table_name = 'fact_round' \
                 AND column_name IN ('is_improvement', 'timestamp_utc', 'performance', 'round_number', 'parameters')",
                &[&schema],
            )
            .await
            .expect("types")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let ty = |c: &str| types.iter().find(|t| t.0 == c).map(|t| t.1.clone()).unwrap_or_default();
        assert_eq!(ty("is_improvement"), "boolean");
        assert_eq!(ty("timestamp_utc"), "timestamp with time zone");
        assert_eq!(ty("performance"), "double precision");
        assert_eq!(ty("round_number"), "bigint");
        assert_eq!(ty("parameters"), "jsonb");
        let improving: i64 = export
            .client()
            .query_one(
                &format!("SELECT COUNT(*) FROM {schema}.fact_round WHERE is_improvement AND experiment_id = 'exp-1'"),
                &[],
            )
            .await
            .expect("count")
            .get(0);
        assert_eq!(improving, 2500, "booleans arrive as booleans");
        let row = pg_rows(&export, "fact_chain_optimae", "block_height").await;
        assert_eq!(row.len(), 5);
        drop_schema(&export).await;
    });
}

#[test]
fn finishing_an_experiment_updates_its_rows_on_the_next_sync() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stats =
        StatsHandle::open(StatsOptions::new(dir.path().join("olap.db"), None)).expect("open");
    let mut t = stats.start_experiment(experiment("exp-f", chain::DOMAIN));
    t.record_round(1, -0.5, &params(1), 1, 0);
    stats.flush().expect("flush");
    let reader = stats.reader().expect("reader");
    runtime().block_on(async {
        let mut export = connect(&unique_schema("finish")).await;
        export.sync(&reader).await.expect("sync");
        t.finish();
        stats.flush().expect("flush");
        let r = export.sync(&reader).await.expect("sync");
        assert_eq!(
            r.rows("dim_experiment"),
            1,
            "finished_at and converged changed"
        );
        assert_eq!(r.rows("fact_experiment_summary"), 1);
        let converged: bool = export
            .client()
            .query_one(
                &format!("SELECT converged FROM {}.dim_experiment", export.schema()),
                &[],
            )
            .await
            .expect("row")
            .get(0);
        assert!(converged);
        drop_schema(&export).await;
    });
}

/// A TCP proxy to PostgreSQL that can be cut, as an outage would.
struct Proxy {
    port: u16,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    live: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl Proxy {
    fn start() -> Proxy {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let live = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (up2, live2) = (up.clone(), live.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: connection refused mid-handshake
                }
                let Ok(server) = std::net::TcpStream::connect("127.0.0.1:5432") else {
                    continue;
                };
                let mut l = live2.lock().expect("lock");
                for s in [&client, &server] {
                    l.push(s.try_clone().expect("clone"));
                }
                for (mut from, mut to) in [
                    (
                        client.try_clone().expect("c"),
                        server.try_clone().expect("s"),
                    ),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, up, live }
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, std::sync::atomic::Ordering::SeqCst);
        if !up {
            for s in self.live.lock().expect("lock").drain(..) {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        }
    }

    fn url(&self) -> String {
        format!("postgres://root@127.0.0.1:{}/test", self.port)
    }
}

async fn pg_count(export: &PgExport, table: &str) -> i64 {
    export
        .client()
        .query_one(
            &format!("SELECT COUNT(*) FROM {}.{table}", export.schema()),
            &[],
        )
        .await
        .map(|r| r.get(0))
        .unwrap_or(-1)
}

#[test]
fn the_background_sync_follows_a_run_and_survives_an_outage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stats =
        StatsHandle::open(StatsOptions::new(dir.path().join("olap.db"), None)).expect("open");
    let mut tracker = stats.start_experiment(experiment("exp-live", chain::DOMAIN));
    stats.flush().expect("flush");
    let schema = unique_schema("live");
    let proxy = Proxy::start();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let sync = doin_stats::pg::spawn_sync_loop(
        doin_stats::pg::SyncLoopOptions {
            olap_path: dir.path().join("olap.db"),
            url: proxy.url(),
            schema: schema.clone(),
            interval: std::time::Duration::from_millis(100),
            max_backoff: std::time::Duration::from_millis(400),
        },
        stop,
    )
    .expect("spawn");
    let rt = runtime();
    let mut round = 0u64;
    let mut run = |n: u64| {
        for _ in 0..n {
            round += 1;
            tracker.record_round(round, round as f64, &params(round), 1, 0);
        }
        stats.flush().expect("flush");
    };
    let wait_for = |want: i64| {
        rt.block_on(async {
            let direct = connect(&schema).await;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            loop {
                let n = pg_count(&direct, "fact_round").await;
                if n == want {
                    return;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "PostgreSQL has {n} rounds, the OLAP {want}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        })
    };

    // PostgreSQL unreachable: rounds pile up in the OLAP only.
    run(300);
    std::thread::sleep(std::time::Duration::from_millis(500));
    // Back: everything arrives, then new rounds of the ongoing run follow within seconds.
    proxy.set_up(true);
    wait_for(300);
    run(200);
    wait_for(500);
    // An outage mid-run (connections cut), rounds go on, then it heals: nothing lost.
    proxy.set_up(false);
    run(250);
    std::thread::sleep(std::time::Duration::from_millis(600));
    proxy.set_up(true);
    wait_for(750);
    let _ = stop_tx.send(true);
    sync.join().expect("sync thread");
    rt.block_on(async {
        let direct = connect(&schema).await;
        assert_match(&direct, &stats.reader().expect("reader")).await;
        drop_schema(&direct).await;
    });
}
