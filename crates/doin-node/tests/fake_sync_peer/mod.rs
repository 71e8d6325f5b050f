//! A fake sync peer: it claims a chain a billion blocks long and vastly heavier, shares the
//! victim's real blocks up to a fork point, and above it serves fabricated blocks of about
//! 1.2 MB each (ids, merkle root and hash all correct, so only the consensus rules refuse
//! them), streamed so that the fake peer itself holds one block at a time. It counts the
//! bytes it sends.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::Router;
use doin_primitives::models::{Block, BlockHeader, Transaction, TransactionType, WireModel};
use doin_primitives::value::{Map, Value};
use doin_primitives::Timestamp;

/// Bytes of padding in each fabricated block.
pub const PADDING: usize = 1_200_000;
/// The height the fake peer claims.
pub const CLAIMED_HEIGHT: i64 = 1_000_000_000;

#[derive(Clone)]
struct Fake {
    params_hash: String,
    /// The victim's blocks 1..=fork (shared).
    shared: Arc<Vec<Block>>,
    /// The fabricated blocks' one transaction (the same in each).
    padding: Arc<Transaction>,
    generator: String,
    /// The fabricated blocks' timestamp (the same in each, so hashes are reproducible).
    at: Timestamp,
    sent: Arc<AtomicU64>,
}

impl Fake {
    fn fork(&self) -> i64 {
        self.shared.len() as i64
    }

    /// Block `index`: the victim's up to the fork, fabricated above it.
    fn block(&self, index: i64, previous_hash: &str) -> Block {
        if index == 0 {
            return Block::genesis();
        }
        if index <= self.fork() {
            return self.shared[usize::try_from(index - 1).unwrap_or(0)].clone();
        }
        let mut b = Block::new(
            BlockHeader {
                index,
                previous_hash: previous_hash.to_owned(),
                timestamp: self.at,
                merkle_root: String::new(),
                generator_id: self.generator.clone(),
                weighted_performance_sum: 1e9,
                threshold: 1e-9,
            },
            vec![(*self.padding).clone()],
        );
        b.header.merkle_root = b.compute_merkle_root();
        b.hash = b.header.compute_hash();
        b
    }

    /// The hash of block `index` (fabricated ones are chained from the fork point).
    fn hash_of(&self, index: i64) -> String {
        let mut hash = match self.fork() {
            0 => Block::genesis().hash,
            f => self.shared[usize::try_from(f - 1).unwrap_or(0)]
                .hash
                .clone(),
        };
        if index <= self.fork() {
            return self.block(index, "").hash;
        }
        // Fabricated headers differ only in index and parent, so the chain of hashes is
        // cheap to walk; pages ask only a few blocks past the fork.
        let mut probe = self.block(self.fork() + 1, &hash);
        for i in self.fork() + 1..=index {
            probe.header.index = i;
            probe.header.previous_hash = hash;
            hash = probe.header.compute_hash();
        }
        hash
    }
}

#[derive(serde::Deserialize)]
struct Range {
    from: i64,
    to: i64,
}

async fn status(State(f): State<Fake>) -> String {
    serde_json::json!({
        "chain_height": CLAIMED_HEIGHT,
        "tip_hash": "f".repeat(64),
        "params_hash": f.params_hash,
        "cumulative_work": 1e30,
    })
    .to_string()
}

async fn blocks(State(f): State<Fake>, Query(r): Query<Range>) -> Body {
    let (from, to) = (r.from.max(0), r.to.min(r.from + 49));
    let first_parent = if from == 0 {
        String::new()
    } else {
        f.hash_of(from - 1)
    };
    let stream = async_stream(f, from, to, first_parent);
    Body::from_stream(stream)
}

fn async_stream(
    f: Fake,
    from: i64,
    to: i64,
    first_parent: String,
) -> impl futures_util::Stream<Item = Result<String, std::io::Error>> {
    let state = (from, first_parent, false);
    futures_util::stream::unfold(state, move |(i, parent, closed)| {
        let f = f.clone();
        async move {
            if closed {
                return None;
            }
            if i > to {
                return Some((Ok("]}".to_owned()), (i, parent, true)));
            }
            let b = f.block(i, &parent);
            let mut chunk = if i == from {
                "{\"blocks\":[".to_owned()
            } else {
                ",".to_owned()
            };
            chunk.push_str(&b.to_wire_json());
            f.sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            Some((Ok(chunk), (i + 1, b.hash, false)))
        }
    })
}

/// A running fake sync peer.
pub struct FakeSyncPeer {
    /// `host:port`.
    pub endpoint: String,
    sent: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeSyncPeer {
    /// Serves on `ip` (port chosen by the OS) a chain sharing `shared` (the victim's
    /// blocks 1..=fork) with a network of `params_hash`.
    pub async fn start(ip: [u8; 4], params_hash: &str, shared: Vec<Block>) -> FakeSyncPeer {
        let mut payload = Map::new();
        payload.insert("padding".into(), Value::from("x".repeat(PADDING)));
        let generator = "a".repeat(40);
        let padding = Transaction::new(
            TransactionType::OptimaeAccepted,
            "quadratic",
            generator.clone(),
            payload,
            Timestamp::now_utc(),
        );
        let sent = Arc::new(AtomicU64::new(0));
        let fake = Fake {
            params_hash: params_hash.to_owned(),
            shared: Arc::new(shared),
            padding: Arc::new(padding),
            generator,
            at: Timestamp::now_utc(),
            sent: sent.clone(),
        };
        let app = Router::new()
            .route("/chain/status", get(status))
            .route("/chain/blocks", get(blocks))
            .with_state(fake);
        let listener = tokio::net::TcpListener::bind((std::net::IpAddr::from(ip), 0))
            .await
            .expect("bind");
        let endpoint = listener.local_addr().expect("addr").to_string();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeSyncPeer {
            endpoint,
            sent,
            task,
        }
    }

    /// Bytes sent so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

impl Drop for FakeSyncPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
