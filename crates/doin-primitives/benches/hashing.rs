//! Hashing throughput on one core: block-header hashes, transaction ids of a 1 KB payload,
//! and merkle roots of 1,000 ids, plus the raw SHA-256 rate of one merkle node's input as
//! the floor under the merkle figure. Run with `cargo bench -p doin-primitives`; criterion
//! prints each figure as elements per second ("thrpt").

#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use doin_primitives::merkle::merkle_root;
use doin_primitives::models::{BlockHeader, Transaction, TransactionType};
use doin_primitives::{hash::sha256_hex, Map, Timestamp, Value};
use sha2::Digest;

fn header() -> BlockHeader {
    BlockHeader {
        index: 123_456,
        previous_hash: sha256_hex("parent"),
        timestamp: Timestamp::from_unix_micros(1_795_473_026_822_564),
        merkle_root: sha256_hex("root"),
        generator_id: "5cd252fb0ce8932436faf8ccd1040981b89ee4ad".into(),
        weighted_performance_sum: 1.2345678901234567,
        threshold: 1.0404,
    }
}

/// An `optimae_accepted` payload whose canonical form is about 1 KB.
fn payload_1kb() -> Map {
    let mut m = Map::new();
    m.insert("optimae_id".into(), Value::from(sha256_hex("optimae")));
    m.insert("verified_performance".into(), Value::Float(-0.123456789));
    m.insert("effective_increment".into(), Value::Float(0.0421));
    m.insert(
        "experiment_id".into(),
        Value::from("exp-2026-11-24-quadratic"),
    );
    m.insert("round_number".into(), Value::Int(4711));
    let params: Vec<Value> = (0..40)
        .map(|i| Value::Float(i as f64 * 1.2345678 - 17.0))
        .collect();
    m.insert(
        "parameters".into(),
        Value::Object(Map::from_iter([("x".to_owned(), Value::Array(params))])),
    );
    m
}

fn benches(c: &mut Criterion) {
    let h = header();
    let mut g = c.benchmark_group("hashing");
    g.throughput(Throughput::Elements(1));
    g.bench_function("block_header_hash", |b| {
        b.iter(|| black_box(&h).compute_hash())
    });

    let payload = payload_1kb();
    let tx = Transaction::new(
        TransactionType::OptimaeAccepted,
        "quadratic",
        "5cd252fb0ce8932436faf8ccd1040981b89ee4ad",
        payload,
        Timestamp::from_unix_micros(1_795_473_026_822_564),
    );
    let size = tx.id_preimage().len();
    eprintln!("transaction id preimage: {size} bytes");
    g.bench_function("transaction_id_1kb", |b| {
        b.iter(|| black_box(&tx).compute_id())
    });

    let ids: Vec<String> = (0..1000).map(|i| sha256_hex(i.to_string())).collect();
    g.bench_function("merkle_root_1000_ids", |b| {
        b.iter(|| merkle_root(black_box(&ids)))
    });

    // The floor under the merkle figure: one interior node is SHA-256 of 128 bytes of hex
    // text (three compressions), and a 1,000-leaf root needs 999 of them.
    let node_input = [b'a'; 128];
    g.bench_function("sha256_128_bytes", |b| {
        b.iter(|| sha2::Sha256::digest(black_box(&node_input)))
    });
    g.finish();
}

criterion_group!(hashing, benches);
criterion_main!(hashing);
