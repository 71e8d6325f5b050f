//! Launching the HTTP server: the node's description, the API's state over the node's
//! components, the API's routes with the inference routes, served until the node stops.

use std::sync::Arc;

use super::inference::InferenceComponent;
use super::Shared;
use crate::api::{self, ApiState, BlockSource, DomainInfo, NodeInfo};

/// Serves the HTTP API on `listener`, reading blocks through `blocks`.
pub(crate) fn launch_api(
    w: &Shared<'_>,
    listener: tokio::net::TcpListener,
    blocks: Arc<dyn BlockSource>,
    inference: &InferenceComponent,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    let config = w.config;
    let me = w.identity.peer_id().to_string();
    let info = NodeInfo {
        peer_id: me.clone(),
        port: config.port,
        storage_backend: "sqlite".into(),
        network_protocol: config.network_protocol.clone(),
        fee_market_enabled: true,
        domains: config
            .domains
            .iter()
            .map(|d| DomainInfo {
                domain_id: d.domain_id.clone(),
                optimize: d.optimize,
                evaluate: d.evaluate,
                synthetic: d.has_synthetic_data,
                target_performance: d.target_performance,
            })
            .collect(),
        fleet_nodes: config.fleet_nodes.clone(),
        started: Some(std::time::Instant::now()),
    };
    let api_state = ApiState {
        chain: w.chain.watch(),
        blocks,
        peers: w.peers.clone(),
        net: Some(w.net.clone()),
        p2p: w.p2p.cloned(),
        tasks: w.queue.clone(),
        board: w.board.clone(),
        info: Arc::new(info),
        stats: Some(w.stats.clone()),
        chain_service: Some(w.chain.downgrade()),
    };
    let addr = format!("{}:{}", config.host, config.port);
    tracing::info!("HTTP API on http://{addr} (peer id {me})");
    let routes = (inference.service.clone(), inference.settlement.clone());
    let app = api::app(api_state, Some(routes))
        // gzip for clients that ask (`/chain/blocks` pages to syncing nodes); the fastest
        // level, as sync is CPU-bound on a fast link (benches/chain_pages.rs).
        .layer(
            tower_http::compression::CompressionLayer::new()
                .quality(tower_http::CompressionLevel::Fastest),
        );
    tokio::spawn(crate::http_server::serve(
        listener,
        app,
        config.http_limits.clone(),
        w.stop.clone(),
    ))
}
