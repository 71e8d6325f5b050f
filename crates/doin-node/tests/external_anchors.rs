//! External checkpoint anchoring against real nodes: a minting node publishes a final
//! checkpoint every N blocks to a file, an HTTP endpoint and a PostgreSQL table, each with
//! the block's hash and the chain-state hash; nodes that read those anchors back refuse a
//! heavier chain that contradicts them (from scratch, by reorganisation, and at start-up)
//! and sync an agreeing one. PostgreSQL is the machine's server (`DOIN_TEST_POSTGRES_URL`,
//! default `postgres://root@127.0.0.1:5432/test`); an unreachable server fails the test.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use doin_node::anchor::{read_file, AnchorRecord, PgSink};
use doin_node::api::BlockSource;
use doin_node::chain_params::chain_params;
use doin_node::chain_service::ReaderPool;
use doin_node::config::{DomainRole, NodeConfig};
use doin_node::node::{start, RunningNode};
use doin_node::sync::{sync_with, SyncClient};
use doin_node::testnet::runtime;
use doin_primitives::hash::chain_state_hash;

fn pg_url() -> String {
    std::env::var("DOIN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into())
}

fn unique_table(tag: &str) -> String {
    format!(
        "doin_test_anchors_{tag}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros())
            .unwrap_or(0)
    )
}

async fn pg(table: &str) -> PgSink {
    PgSink::connect(&pg_url(), table).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL at {} is not reachable ({e}); start it (e.g. `service postgresql start`)",
            pg_url()
        )
    })
}

async fn drop_table(table: &str) {
    if let Ok((client, conn)) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls).await {
        tokio::spawn(conn);
        let _ = client
            .batch_execute(&format!("DROP TABLE IF EXISTS {table}"))
            .await;
    }
}

/// Polls `probe` every 50 ms until it returns `Some`, or fails after `timeout`.
async fn until<T>(timeout: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Checks that `records` are the anchors of the chain in `db` at multiples of `interval`:
/// heights `interval, 2 * interval, …`, each with the stored block's hash and the
/// chain-state hash of blocks `0..=height`.
fn assert_anchors_match_chain(records: &[AnchorRecord], db: &Path, interval: u64) {
    let reader = doin_store::ChainReader::open(db).expect("chain.db");
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.height, (i as u64 + 1) * interval, "{records:?}");
        let hashes: Vec<String> = reader
            .block_hashes(0, r.height as i64)
            .expect("hashes")
            .into_iter()
            .map(|(_, h)| h)
            .collect();
        assert_eq!(hashes.len() as u64, r.height + 1);
        assert_eq!(
            r.block_hash, hashes[r.height as usize],
            "height {}",
            r.height
        );
        assert_eq!(
            r.state_hash,
            chain_state_hash(&hashes),
            "height {}",
            r.height
        );
    }
}

/// A tiny HTTP anchor receiver on 127.0.0.1:0: every POSTed body is kept.
async fn receiver() -> (String, Arc<Mutex<Vec<AnchorRecord>>>) {
    let got: Arc<Mutex<Vec<AnchorRecord>>> = Arc::default();
    let app = axum::Router::new().route(
        "/anchors",
        axum::routing::post({
            let got = got.clone();
            move |axum::Json(r): axum::Json<AnchorRecord>| async move {
                got.lock().expect("lock").push(r);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/anchors"), got)
}

#[test]
fn a_minting_node_publishes_every_nth_final_block_to_every_sink() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let (url, posted) = receiver().await;
        let table = unique_table("mint");
        let sink = pg(&table).await;
        let mut c = NodeConfig::embedded_default();
        c.host = "127.0.0.1".into();
        c.port = 0;
        c.data_dir = dir.path().join("node");
        c.discovery_enabled = false;
        c.target_block_time = 1.0;
        c.initial_threshold = 0.001;
        c.finality_confirmation_depth = 2;
        c.external_anchor_interval = 2;
        c.anchor_file = "anchors.jsonl".into();
        c.anchor_url = url;
        c.anchor_postgres_url = pg_url();
        c.anchor_postgres_table = table.clone();
        for d in &mut c.domains {
            d.target_performance = None;
            d.optimization_config
                .insert("round_interval_seconds".into(), serde_json::json!(0.05));
        }
        let chain = chain_params(&c).params_hash();
        let file = c.data_dir.join("anchors.jsonl");
        let node = start(c.clone()).await.expect("node");
        let timeout = Duration::from_secs(45);
        let in_file = until(timeout, "three anchors in the file", || {
            read_file(&file, &chain).ok().filter(|r| r.len() >= 3)
        })
        .await;
        let db = c.data_dir.join("chain.db");
        assert_anchors_match_chain(&in_file, &db, 2);
        // Each one was published once final: the chain is at least depth blocks past it.
        assert!(node.chain.view().tip_index as u64 >= in_file[2].height + 2);
        let received = until(timeout, "three anchors POSTed", || {
            let got = posted.lock().expect("lock").clone();
            (got.len() >= 3).then_some(got)
        })
        .await;
        assert_eq!(
            &received[..3],
            &in_file[..3],
            "the POSTs carry the file's records"
        );
        assert!(received.iter().all(|r| r.chain == chain));
        let mut rows = Vec::new();
        for _ in 0..200 {
            rows = sink.read(&chain).await.expect("rows");
            if rows.len() >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(rows.len() >= 3, "rows: {rows:?}");
        assert_eq!(
            &rows[..3],
            &in_file[..3],
            "the table holds the file's records"
        );
        node.shutdown().await;
        drop_table(&table).await;
    });
}

/// A network without a live optimizer: blocks come from `build_chain`.
fn chain_config(dir: &Path, name: &str) -> NodeConfig {
    let mut c = NodeConfig::embedded_default();
    c.host = "127.0.0.1".into();
    c.port = 0;
    c.discovery_enabled = false;
    c.initial_threshold = 1e-6;
    c.target_block_time = 10.0;
    c.external_anchor_interval = 5;
    c.domains = vec![DomainRole {
        domain_id: "anchored".into(),
        optimize: false,
        evaluate: false,
        ..DomainRole::default()
    }];
    c.data_dir = dir.join(name);
    c
}

async fn sync_from(node: &RunningNode, c: &NodeConfig, peer: &RunningNode) -> Result<(), String> {
    let ours: Arc<dyn BlockSource> = Arc::new(ReaderPool::new(&c.data_dir.join("chain.db")));
    sync_with(
        &SyncClient::new(),
        &peer.endpoint(),
        &node.chain,
        &ours,
        None,
    )
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

#[test]
fn anchored_nodes_refuse_a_heavier_contradicting_chain_and_sync_an_agreeing_one() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = unique_table("refuse");
        let sink = pg(&table).await;
        let anchors = dir.path().join("anchors.jsonl");
        // Chain A (20 blocks) and a heavier, unrelated chain B (40 blocks) of one network.
        let mut a = chain_config(dir.path(), "a");
        let b = chain_config(dir.path(), "b");
        let params = chain_params(&a);
        let chain = params.params_hash();
        for (c, n) in [(&a, 20), (&b, 40)] {
            std::fs::create_dir_all(&c.data_dir).expect("dir");
            doin_node::testnet::build_chain(&c.data_dir.join("chain.db"), &params, "anchored", n)
                .expect("chain");
        }
        // A publishes its final checkpoints (final up to 12 at depth 6: blocks 5 and 10).
        a.anchor_file = anchors.display().to_string();
        a.anchor_postgres_url = pg_url();
        a.anchor_postgres_table = table.clone();
        let node_a = start(a.clone()).await.expect("node a");
        let timeout = Duration::from_secs(20);
        let published = until(timeout, "A's two anchors", || {
            read_file(&anchors, &chain).ok().filter(|r| r.len() == 2)
        })
        .await;
        assert_anchors_match_chain(&published, &a.data_dir.join("chain.db"), 5);
        let mut rows = Vec::new();
        for _ in 0..200 {
            rows = sink.read(&chain).await.expect("rows");
            if rows.len() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(rows, published);
        let node_b = start(b.clone()).await.expect("node b");

        // Without anchors a new node takes the heavier chain B: the control.
        let free = chain_config(dir.path(), "free");
        let node_free = start(free.clone()).await.expect("free node");
        sync_from(&node_free, &free, &node_b)
            .await
            .expect("B syncs");
        assert_eq!(node_free.chain.view().height, 41);

        // A new node holding A's anchors (from the file) refuses B from scratch...
        let mut x = chain_config(dir.path(), "x");
        x.anchor_file = anchors.display().to_string();
        let node_x = start(x.clone()).await.expect("node x");
        let err = sync_from(&node_x, &x, &node_b)
            .await
            .expect_err("B refused");
        assert!(
            err.contains("contradict a published anchor") && err.contains("block 5"),
            "{err}"
        );
        assert_eq!(node_x.chain.view().height, 1, "nothing of B was kept");
        // ...syncs A, which agrees...
        sync_from(&node_x, &x, &node_a).await.expect("A syncs");
        assert_eq!(node_x.chain.view().tip_hash, node_a.chain.view().tip_hash);
        // ...and still refuses to reorganise onto the heavier B.
        let err = sync_from(&node_x, &x, &node_b)
            .await
            .expect_err("reorg refused");
        // (Finality would refuse this one too; the anchor check runs first.)
        assert!(err.contains("contradict a published anchor"), "{err}");
        assert_eq!(node_x.chain.view().tip_hash, node_a.chain.view().tip_hash);

        // A node reading the anchors from PostgreSQL only refuses B too.
        let mut y = chain_config(dir.path(), "y");
        y.anchor_postgres_url = pg_url();
        y.anchor_postgres_table = table.clone();
        let node_y = start(y.clone()).await.expect("node y");
        let err = sync_from(&node_y, &y, &node_b)
            .await
            .expect_err("B refused");
        assert!(err.contains("contradict a published anchor"), "{err}");

        // And B's own chain.db, started with A's anchors, does not start.
        node_b.shutdown().await;
        let mut b_anchored = b.clone();
        b_anchored.anchor_file = anchors.display().to_string();
        let err = start(b_anchored).await.err().expect("B's chain refused");
        assert!(
            format!("{err:#}").contains("contradicts a published anchor"),
            "{err:#}"
        );
        for n in [node_a, node_free, node_x, node_y] {
            n.shutdown().await;
        }
        drop_table(&table).await;
    });
}
