//! Compressed API responses: a node gzips `/chain/blocks` pages for a client that asks,
//! the sync client asks and inflates, and a page that inflates past the body bound is
//! refused rather than buffered.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use axum::http::{header, HeaderMap, StatusCode};
use doin_node::api::BlockSource;
use doin_node::chain_params::chain_params;
use doin_node::chain_service::ReaderPool;
use doin_node::config::{DomainRole, NodeConfig};
use doin_node::node::start;
use doin_node::sync::{sync_with, SyncClient};
use doin_node::testnet::runtime;

fn chain_config(dir: &Path, name: &str) -> NodeConfig {
    let mut c = NodeConfig::embedded_default();
    c.host = "127.0.0.1".into();
    c.port = 0;
    c.discovery_enabled = false;
    c.initial_threshold = 1e-6;
    c.target_block_time = 10.0;
    c.domains = vec![DomainRole {
        domain_id: "pages".into(),
        optimize: false,
        evaluate: false,
        ..DomainRole::default()
    }];
    c.data_dir = dir.join(name);
    c
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

#[test]
fn chain_pages_are_gzipped_for_clients_that_ask_and_sync_goes_through_them() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = chain_config(dir.path(), "a");
        std::fs::create_dir_all(&a.data_dir).expect("dir");
        doin_node::testnet::build_chain(
            &a.data_dir.join("chain.db"),
            &chain_params(&a),
            "pages",
            120,
        )
        .expect("chain");
        let node_a = start(a).await.expect("node a");
        // A client that does not inflate by itself: the body is what crossed the wire.
        let http = reqwest::Client::builder()
            .no_gzip()
            .build()
            .expect("client");
        let url = format!("http://{}/chain/blocks?from=0&to=49", node_a.endpoint());
        let plain = http.get(&url).send().await.expect("GET");
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        let plain = plain.bytes().await.expect("body");
        let zipped = http
            .get(&url)
            .header(header::ACCEPT_ENCODING, "gzip")
            .send()
            .await
            .expect("GET gzip");
        assert_eq!(zipped.headers()[header::CONTENT_ENCODING], "gzip");
        let zipped = zipped.bytes().await.expect("body");
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(&zipped[..])
            .read_to_end(&mut inflated)
            .expect("gunzip");
        assert_eq!(inflated, plain.to_vec(), "the same page");
        assert!(
            zipped.len() * 2 < plain.len(),
            "{} bytes gzipped, {} plain",
            zipped.len(),
            plain.len()
        );

        // A new node syncs the whole chain through the (compressing) API.
        let b = chain_config(dir.path(), "b");
        let node_b = start(b.clone()).await.expect("node b");
        let ours: Arc<dyn BlockSource> = Arc::new(ReaderPool::new(&b.data_dir.join("chain.db")));
        sync_with(
            &SyncClient::new(),
            &node_a.endpoint(),
            &node_b.chain,
            &ours,
            None,
        )
        .await
        .expect("sync");
        assert_eq!(node_b.chain.view().tip_hash, node_a.chain.view().tip_hash);
        node_b.shutdown().await;
        node_a.shutdown().await;
    });
}

/// A peer whose `/chain/status` answers gzip only to a client that asks for it, and
/// whose `/chain/blocks` page and `/status` are 64 MiB and 1 byte of JSON once inflated.
async fn gzip_peer() -> String {
    let status = gzip(br#"{"chain_height": 7, "tip_hash": "ab"}"#);
    let mut bomb = b"{\"blocks\": [\"".to_vec();
    bomb.resize((64 << 20) - 2, b'a');
    bomb.extend_from_slice(b"\"]}");
    let bomb = gzip(&bomb);
    assert!(bomb.len() < 1 << 20, "{} bytes on the wire", bomb.len());
    let app = axum::Router::new()
        .route(
            "/chain/status",
            axum::routing::get(move |headers: HeaderMap| {
                let status = status.clone();
                async move {
                    let asks = headers
                        .get(header::ACCEPT_ENCODING)
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| v.contains("gzip"));
                    if asks {
                        (StatusCode::OK, [(header::CONTENT_ENCODING, "gzip")], status)
                    } else {
                        (
                            StatusCode::NOT_ACCEPTABLE,
                            [(header::CONTENT_ENCODING, "identity")],
                            Vec::new(),
                        )
                    }
                }
            }),
        )
        .route(
            "/chain/blocks",
            axum::routing::get({
                let bomb = bomb.clone();
                move || async move { ([(header::CONTENT_ENCODING, "gzip")], bomb) }
            }),
        )
        .route(
            "/status",
            axum::routing::get(move || async move { ([(header::CONTENT_ENCODING, "gzip")], bomb) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr.to_string()
}

#[test]
fn the_sync_client_asks_for_gzip_and_refuses_a_page_that_inflates_past_the_bound() {
    runtime().block_on(async {
        let peer = gzip_peer().await;
        let client = SyncClient::new();
        let status = client.chain_status(&peer).await.expect("gzipped status");
        assert_eq!((status.height, status.tip_hash.as_str()), (7, "ab"));
        let err = client
            .blocks(&peer, 0, 49)
            .await
            .expect_err("64 MiB inflated");
        assert!(err.contains("larger than"), "{err}");
    });
}

#[test]
fn a_fleet_member_whose_answer_inflates_past_the_bound_is_shown_offline() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let peer = gzip_peer().await;
        let mut c = chain_config(dir.path(), "a");
        c.fleet_nodes = vec![peer.clone()];
        let node = start(c).await.expect("node");
        let fleet: serde_json::Value = reqwest::get(format!(
            "http://{}/dashboard/fleet/data?nodes={peer}",
            node.endpoint()
        ))
        .await
        .expect("GET fleet")
        .json()
        .await
        .expect("JSON");
        let member = &fleet["members"][0];
        assert_eq!(member["online"], false, "{fleet}");
        let err = member["error"].as_str().unwrap_or_default();
        assert!(err.contains("/status: body too large"), "{fleet}");
        node.shutdown().await;
    });
}
