//! `/chain/blocks` bytes on the wire, plain and gzip-compressed: a node serves a
//! `DOIN_BENCH_BLOCKS`-block chain (default 2,000) over loopback, and every 50-block page is
//! fetched once as `Accept-Encoding: identity` and once as `gzip`; prints the bytes per page
//! of each, the ratio, and the time per page to fetch and decode JSON each way (the sync
//! client's work; loopback has no bandwidth to save, so this is the CPU cost).

use std::io::Read;
use std::time::{Duration, Instant};

use doin_node::chain_params::chain_params;
use doin_node::config::{DomainRole, NodeConfig};
use doin_node::node::start;

const PAGE: u64 = 50;

fn main() {
    let n: u64 = std::env::var("DOIN_BENCH_BLOCKS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = NodeConfig::embedded_default();
    cfg.host = "127.0.0.1".into();
    cfg.port = 0;
    cfg.initial_threshold = 1e-6;
    cfg.target_block_time = 10.0;
    cfg.data_dir = dir.path().join("a");
    cfg.domains = vec![DomainRole {
        domain_id: "bench".into(),
        optimize: false,
        evaluate: false,
        ..DomainRole::default()
    }];
    std::fs::create_dir_all(&cfg.data_dir).expect("dir");
    doin_node::testnet::build_chain(
        &cfg.data_dir.join("chain.db"),
        &chain_params(&cfg),
        "bench",
        n,
    )
    .expect("chain");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let node = start(cfg).await.expect("node");
        // No automatic decompression: the body read is what crossed the wire.
        let http = reqwest::Client::builder()
            .no_gzip()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let (mut plain, mut gzip) = (Vec::new(), Vec::new());
        let (mut plain_time, mut gzip_time) = (Duration::ZERO, Duration::ZERO);
        let mut from = 0;
        while from <= n {
            let url = format!(
                "http://{}/chain/blocks?from={from}&to={}",
                node.endpoint(),
                from + PAGE - 1
            );
            for (encoding, sizes, time) in [
                ("identity", &mut plain, &mut plain_time),
                ("gzip", &mut gzip, &mut gzip_time),
            ] {
                let started = Instant::now();
                let resp = http
                    .get(&url)
                    .header("accept-encoding", encoding)
                    .send()
                    .await
                    .expect("GET");
                let served = resp
                    .headers()
                    .get("content-encoding")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("identity")
                    .to_owned();
                assert_eq!(served, encoding, "{url}");
                let body = resp.bytes().await.expect("body");
                let json = if encoding == "gzip" {
                    let mut out = Vec::new();
                    flate2::read::GzDecoder::new(&body[..])
                        .read_to_end(&mut out)
                        .expect("gunzip");
                    out
                } else {
                    body.to_vec()
                };
                let page = doin_primitives::json::parse_bytes(&json).expect("JSON");
                let blocks = doin_node::sync::parse_blocks_page(&page).expect("blocks");
                *time += started.elapsed();
                assert!(!blocks.is_empty(), "{url}");
                sizes.push(body.len());
            }
            from += PAGE;
        }
        let pages = plain.len();
        let mean = |v: &[usize]| v.iter().sum::<usize>() as f64 / v.len() as f64;
        let (p, g) = (mean(&plain), mean(&gzip));
        println!("/chain/blocks over loopback, {n} blocks, {pages} pages of {PAGE}:");
        println!(
            "  identity: {:.0} bytes per page (largest {}), {:.2} ms per page fetched and parsed into blocks",
            p,
            plain.iter().max().unwrap_or(&0),
            plain_time.as_secs_f64() * 1e3 / pages as f64
        );
        println!(
            "  gzip:     {:.0} bytes per page (largest {}), {:.2} ms per page fetched, inflated and parsed into blocks",
            g,
            gzip.iter().max().unwrap_or(&0),
            gzip_time.as_secs_f64() * 1e3 / pages as f64
        );
        println!("  gzip / identity = {:.3} ({:.1}x smaller)", g / p, p / g);
        node.shutdown().await;
    });
}
