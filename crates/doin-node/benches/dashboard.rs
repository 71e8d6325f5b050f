//! The dashboard's bytes per update on a long chain: builds a chain of `DOIN_BENCH_BLOCKS`
//! (default 10,000) valid blocks, serves the node's router over it, and prints the size and
//! time of the first paint (`/dashboard` and `/dashboard/snapshot`) and the size of every
//! server-sent event while new blocks are imported and rounds are run. The reference's
//! dashboard pulls about 1.8 MB per refresh by re-reading the chain; the target here is
//! under 50 KB per update.

use std::sync::Arc;
use std::time::{Duration, Instant};

use doin_consensus::accepted::{AcceptedOptimae, Experiment, Reveal};
use doin_consensus::params::{ChainParams, DomainParams};
use doin_consensus::state::ChainState;
use doin_consensus::vote::QuorumVote;
use doin_node::api::{self, ApiState, DomainInfo, NodeInfo};
use doin_node::chain_service::{self, open_chain, ReaderPool};
use doin_node::dashboard::feed::ROUND_WINDOW;
use doin_node::task_queue::TaskQueue;
use doin_node::view::DomainBoard;
use doin_primitives::identity::Identity;
use doin_primitives::models::Block;
use doin_primitives::value::{Map, Value};
use doin_primitives::Timestamp;
use doin_store::ChainStore;

const DOMAIN: &str = "bench";
const T0: i64 = 1_700_000_000_000_000;

/// Block `i` on `state`: one accepted optimae verified by one signed vote.
fn next_block(state: &mut ChainState, me: &Identity, i: u64) -> Block {
    let perf = i as f64;
    let mut parameters = Map::new();
    parameters.insert("x".into(), Value::Array(vec![Value::Float(perf)]));
    let ts = Timestamp::from_unix_micros(T0 + (i as i64) * 10_000_000);
    let reveal = Reveal {
        domain_id: DOMAIN.into(),
        parameters,
        nonce: format!("{i:032x}"),
        reported_performance: perf,
        commit_height: state.height(),
        timestamp: ts,
    };
    let commitment = reveal.commitment_hash();
    let seed = state
        .synthetic_seed_for(&commitment, DOMAIN, me.peer_id(), state.height())
        .expect("seed");
    let vote = QuorumVote {
        optimae_id: reveal.optimae_id(me.peer_id()),
        domain_id: DOMAIN.into(),
        evaluator_id: me.peer_id().to_string(),
        verified_performance: perf,
        synthetic_seed: seed,
        synthetic_data_hash: String::new(),
        timestamp: ts,
        seal: None,
    }
    .sealed(me);
    let votes = vec![vote];
    let scoring = state
        .score_optimae(&reveal, me.peer_id(), &votes)
        .expect("score");
    let tx = AcceptedOptimae::build(me, &reveal, &scoring, &votes, &Experiment::default());
    let block = state.build_block(me, vec![tx], ts).expect("build");
    state.apply_block(&block).expect("apply");
    block
}

/// Reads server-sent events from `body` until `want` events arrived or `timeout` passed;
/// returns each event's size in bytes and its name.
async fn read_events(
    resp: &mut reqwest::Response,
    want: usize,
    timeout: Duration,
) -> Vec<(String, usize)> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut buf = String::new();
    let mut events = Vec::new();
    while events.len() < want {
        let chunk = match tokio::time::timeout_at(deadline, resp.chunk()).await {
            Ok(Ok(Some(c))) => c,
            _ => break,
        };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            let name = event
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap_or("comment")
                .to_owned();
            events.push((name, event.len()));
        }
    }
    events
}

fn main() {
    let n: u64 = std::env::var("DOIN_BENCH_BLOCKS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("chain.db");
    let mut params = ChainParams::solo_default();
    params.initial_threshold = 1e-6;
    params.target_block_time_secs = 10.0;
    params.domains = vec![DomainParams::new(DOMAIN, true)];
    let me = Arc::new(Identity::generate());
    let mut state = ChainState::new(params.clone());
    let mut store = ChainStore::open(&path).expect("store");
    let build = Instant::now();
    let mut batch = Vec::new();
    for i in 1..=n {
        batch.push(next_block(&mut state, &me, i));
        if batch.len() == 50 {
            store.append_batch(&batch).expect("append");
            batch.clear();
        }
    }
    store.append_batch(&batch).expect("append");
    drop(store);
    eprintln!("built and stored {n} blocks in {:.2?}", build.elapsed());
    let opened = open_chain(&path, &params).expect("open");

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async move {
        let (chain, _thread) = chain_service::spawn(opened, me.clone());
        let board = DomainBoard::default();
        let state_api = ApiState {
            chain: chain.watch(),
            blocks: Arc::new(ReaderPool::new(&path)),
            peers: doin_node::peers::PeerSet::new(&[]),
            net: None,
            p2p: None,
            tasks: Arc::new(TaskQueue::new()),
            board: board.clone(),
            info: Arc::new(NodeInfo {
                peer_id: me.peer_id().to_string(),
                domains: vec![DomainInfo {
                    domain_id: DOMAIN.into(),
                    optimize: true,
                    evaluate: true,
                    synthetic: true,
                    target_performance: Some(1e9),
                }],
                ..NodeInfo::default()
            }),
            stats: None,
            chain_service: Some(chain.downgrade()),
        };
        // A long optimization run before the page opens: the round ring is full.
        for round in 1..=1_000u64 {
            board.update(DOMAIN, |p| {
                p.round = round;
                p.best_performance = Some(round as f64);
            });
            if round % 4 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let app = api::router(state_api);
        tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await;
        });
        let http = reqwest::Client::new();
        tokio::time::sleep(Duration::from_millis(1200)).await; // the feed's first samples

        let page = http
            .get(format!("{base}/dashboard"))
            .send()
            .await
            .expect("page")
            .bytes()
            .await
            .expect("page body");
        let mut script_len = 0;
        for asset in ["dashboard.js", "dashboard.css"] {
            script_len += http
                .get(format!("{base}/dashboard/{asset}"))
                .send()
                .await
                .expect("asset")
                .bytes()
                .await
                .expect("asset body")
                .len();
        }
        let mut snapshot_len = 0;
        let mut snapshot_ms = Vec::new();
        for _ in 0..20 {
            let t = Instant::now();
            let body = http
                .get(format!("{base}/dashboard/snapshot"))
                .send()
                .await
                .expect("snapshot")
                .bytes()
                .await
                .expect("snapshot body");
            snapshot_ms.push(t.elapsed().as_secs_f64() * 1e3);
            snapshot_len = body.len();
        }
        snapshot_ms.sort_by(f64::total_cmp);
        // The round ring fills at one sample a second; project its full size.
        let snap: serde_json::Value = http
            .get(format!("{base}/dashboard/snapshot"))
            .send()
            .await
            .expect("snapshot")
            .json()
            .await
            .expect("snapshot json");
        let points = &snap["rounds"][DOMAIN];
        let n_points = points.as_array().map_or(0, Vec::len).max(1);
        let point_bytes = points.to_string().len() / n_points + 1;
        let full = snapshot_len + (ROUND_WINDOW - n_points.min(ROUND_WINDOW)) * point_bytes;
        println!("chain: {} blocks", chain.view().height);
        println!(
            "first paint: page {} B + script and style {} B (static, embedded) + snapshot {} B; snapshot median {:.2} ms, max {:.2} ms",
            page.len(),
            script_len,
            snapshot_len,
            snapshot_ms[snapshot_ms.len() / 2],
            snapshot_ms[snapshot_ms.len() - 1]
        );
        println!(
            "snapshot with a full round ring ({ROUND_WINDOW} samples of ~{point_bytes} B per domain): ~{full} B for one domain"
        );

        // Live: new blocks imported, rounds run, while one client listens.
        let mut events = http
            .get(format!("{base}/dashboard/events"))
            .send()
            .await
            .expect("events");
        let new_blocks = 20u64;
        let producer = {
            let chain = chain.clone();
            let board = board.clone();
            let mut state = state;
            let me = me.clone();
            tokio::spawn(async move {
                for i in n + 1..=n + new_blocks {
                    let b = next_block(&mut state, &me, i);
                    chain.import(vec![b]).await.expect("import");
                    board.update(DOMAIN, |p| {
                        p.round += 1;
                        p.best_performance = Some(i as f64);
                    });
                    tokio::time::sleep(Duration::from_millis(600)).await;
                }
            })
        };
        let got = read_events(&mut events, 200, Duration::from_secs(20)).await;
        producer.await.expect("producer");
        let mut by_kind: std::collections::BTreeMap<String, (usize, usize, usize)> =
            Default::default();
        for (kind, len) in &got {
            let e = by_kind.entry(kind.clone()).or_default();
            e.0 += 1;
            e.1 += len;
            e.2 = e.2.max(*len);
        }
        for (kind, (count, total, max)) in &by_kind {
            println!(
                "event {kind:>7}: {count:>3} events, mean {:>5} B, max {:>5} B",
                total / count,
                max
            );
        }
        let max = got.iter().map(|(_, l)| *l).max().unwrap_or(0);
        let total: usize = got.iter().map(|(_, l)| *l).sum();
        println!(
            "per update: max {max} B over {} events ({total} B for {new_blocks} blocks and their rounds); target < 50000 B: {}",
            got.len(),
            if max < 50_000 && full < 50_000 { "met" } else { "MISSED" }
        );
        assert!(
            by_kind.get("block").is_some_and(|b| b.0 as u64 >= new_blocks),
            "every imported block is an event: {by_kind:?}"
        );
    });
}
