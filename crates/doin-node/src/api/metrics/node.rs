//! The node's state as gauges, read from its snapshots when `/metrics` is scraped (chain
//! view, peer set, task queue, domain board), so they cannot drift from what `/status`
//! shows.

use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::api_state::ApiState;
use crate::metrics::events::MAX_DOMAIN_SERIES;
use crate::metrics::labeled::Labeled;

/// Most peers given a series of their own (`doin_peer_sync_rtt_seconds`): the peer set is
/// fed by outsiders announcing themselves, so only the first peers in endpoint order are
/// shown one by one; `doin_peers` counts them all.
pub const MAX_PEER_SERIES: usize = 16;

/// Adds the gauges of node `s` to `registry`.
pub(crate) fn register(registry: &mut Registry, s: &ApiState) {
    let v = s.chain_view();
    registry.register(
        "doin_chain_height",
        "Blocks on chain, genesis included",
        ConstGauge::new(v.height),
    );
    registry.register(
        "doin_chain_finalized_height",
        "Height of the last final checkpoint (-1 when none)",
        ConstGauge::new(v.finalized_height),
    );
    registry.register(
        "doin_chain_threshold",
        "Weighted increment the next block must reach",
        ConstGauge::new(v.threshold),
    );
    registry.register(
        "doin_chain_ema_block_time_seconds",
        "EMA of block times",
        ConstGauge::new(v.ema_block_time),
    );
    registry.register(
        "doin_chain_transactions",
        "Transactions on chain",
        ConstGauge::new(v.total_transactions),
    );
    registry.register(
        "doin_pending_optimae",
        "Accepted optimae waiting for a block",
        ConstGauge::new(v.pending_optimae),
    );
    registry.register(
        "doin_balance_units",
        "This node's balance in base units (1 DOIN = 1e8)",
        ConstGauge::new(v.my_balance),
    );
    registry.register(
        "doin_supply_units",
        "Coins minted, base units",
        ConstGauge::new(v.total_supply),
    );

    let endpoints = s.peers.endpoints();
    registry.register(
        "doin_peers",
        "Known peer endpoints",
        ConstGauge::new(endpoints.len()),
    );
    let rtt = endpoints
        .iter()
        .filter_map(|e| Some((e.clone(), s.peers.latency_ms(e)? / 1000.0)))
        .take(MAX_PEER_SERIES);
    registry.register(
        "doin_peer_sync_rtt_seconds",
        "Last chain status round trip per peer (at most 16 peers, in endpoint order)",
        Labeled::gauges("peer", rtt),
    );
    let refusals: u64 = s.peers.sync_refusals().values().map(|r| r.count).sum();
    registry.register(
        "doin_sync_refusals",
        "Syncs refused because a peer served a chain our rules refuse (all peers)",
        ConstCounter::new(refusals),
    );
    let peer_height = crate::metrics::METRICS.sync_peer_height();
    let progress = if peer_height == 0 {
        1.0
    } else {
        (v.height as f64 / peer_height as f64).min(1.0)
    };
    registry.register(
        "doin_sync_progress_ratio",
        "Own height over the highest peer height (1 when none is higher)",
        ConstGauge::new(progress),
    );

    let counts = s.tasks.counts();
    registry.register(
        "doin_tasks",
        "Verification tasks in the queue, by state",
        Labeled::gauges(
            "state",
            [
                ("pending".to_owned(), counts.pending as u64),
                ("claimed".to_owned(), counts.claimed as u64),
                ("completed".to_owned(), counts.completed as u64),
            ],
        ),
    );
    let board = s.board.snapshot();
    registry.register(
        "doin_domain_round",
        "Optimizer rounds run since start, per domain",
        Labeled::gauges("domain", board.iter().map(|(d, p)| (d.clone(), p.round))),
    );
    // The chain's domains are whatever optimae reached a block: the domains this node
    // serves come first, the rest fill the cap.
    let (served, others): (Vec<_>, Vec<_>) = v
        .domain_best
        .iter()
        .partition(|(d, _)| board.contains_key(*d));
    let best = served
        .into_iter()
        .chain(others)
        .take(MAX_DOMAIN_SERIES)
        .map(|(d, best)| (d.clone(), *best));
    registry.register(
        "doin_domain_best_performance",
        "Best verified performance on chain, per domain (at most 256 domains)",
        Labeled::gauges("domain", best),
    );
    registry.register(
        "doin_gossip_frames_out",
        "Messages and control frames posted to peers (originated and forwarded), by outcome",
        Labeled::counters(
            "outcome",
            [
                ("sent", load(&doin_net::service::FRAMES_SENT)),
                ("failed", load(&doin_net::service::FRAMES_FAILED)),
            ],
        ),
    );
}

fn load(counter: &std::sync::atomic::AtomicU64) -> u64 {
    counter.load(std::sync::atomic::Ordering::Relaxed)
}
