//! The endpoints of the peers this node syncs with and pulls tasks from — `host:port` for
//! HTTP peers, `/p2p/<id>` for libp2p ones ([`crate::p2p`]) — and the loop that keeps the
//! chain in sync with them.
//!
//! The set starts from `bootstrap_peers` (or `--peers`) and grows as peers make
//! themselves known; it is bounded. Every [`SYNC_INTERVAL`] the node asks each peer for its
//! chain status and pulls what it lacks ([`crate::sync`]), each peer in its own task (at
//! most 8 at once) so that a slow or hanging peer delays nobody else; a peer that fails is retried
//! with exponential back-off, and one that serves a chain our rules refuse is also
//! recorded with the reason ([`PeerSet::sync_refusals`], shown by `/status`). A peer that
//! serves an invalid block or an over-long page ([`SyncError::is_offence`]) is dropped
//! for [`OFFENCE_BAN`] and its endpoint queued for the network to charge its address
//! ([`PeerSet::take_offenders`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::block_source::BlockSource;
use crate::chain_service::ChainHandle;
use crate::mint_gate::FirstContact;
use crate::sync::{
    sync_within, NodeTransport, P2pTransport, SyncBudget, SyncClient, SyncError, SyncReport,
};

/// How often each peer's chain is checked.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(1);
/// Longest back-off after repeated failures.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Most endpoints remembered.
const MAX_PEERS: usize = 1_000;
/// Most peers synced with at once.
const MAX_CONCURRENT_SYNCS: usize = 8;
/// How long a peer that served an invalid block is not synced with.
pub const OFFENCE_BAN: Duration = Duration::from_secs(30 * 60);
/// Most offenders waiting for the network to charge their addresses.
const MAX_OFFENDERS: usize = 256;

/// Known peer endpoints (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct PeerSet {
    endpoints: Arc<RwLock<BTreeSet<String>>>,
    blocked: Arc<RwLock<BTreeSet<String>>>,
    first_contact: Arc<FirstContact>,
    sync_now: Arc<tokio::sync::Notify>,
    poll_tasks_now: Arc<tokio::sync::Notify>,
    latency: Arc<RwLock<BTreeMap<String, f64>>>,
    refusals: Arc<RwLock<BTreeMap<String, SyncRefusal>>>,
    dropped: Arc<RwLock<Option<doin_net::bans::BanList<String>>>>,
    /// Consecutive failed syncs per endpoint (what a full set evicts by).
    failures: Arc<RwLock<BTreeMap<String, u32>>>,
    offenders: Arc<std::sync::Mutex<VecDeque<String>>>,
}

/// What a peer served that our rules refused, as the sync loop last saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncRefusal {
    /// Refused syncs with the peer since start-up.
    pub count: u64,
    /// The latest reason.
    pub last: SyncError,
}

impl PeerSet {
    /// A set holding `endpoints`, except `own` ones.
    pub fn new(endpoints: &[String]) -> Self {
        let set = PeerSet::default();
        for e in endpoints {
            set.add(e);
        }
        set
    }

    /// Adds an endpoint (`host:port`); returns whether it was new. A full set makes room
    /// by forgetting a dropped endpoint or the one whose syncs failed most in a row (peers
    /// introduce endpoints, so junk ones must not keep honest ones out); when every
    /// endpoint syncs fine the newcomer is refused.
    pub fn add(&self, endpoint: &str) -> bool {
        let endpoint = endpoint
            .trim()
            .trim_start_matches("http://")
            .trim_end_matches('/');
        let p2p = crate::p2p::peer_of_endpoint(endpoint).is_some();
        if endpoint.is_empty() || !(p2p || endpoint.contains(':')) {
            return false;
        }
        let mut set = self.endpoints.write().unwrap_or_else(|p| p.into_inner());
        if set.len() >= MAX_PEERS && !set.contains(endpoint) {
            let now = Instant::now();
            let mut failures = self.failures.write().unwrap_or_else(|p| p.into_inner());
            let victim = set
                .iter()
                .map(|e| {
                    let dropped = self.is_dropped_at(e, now);
                    (dropped, failures.get(e).copied().unwrap_or(0), e)
                })
                .filter(|(dropped, failed, _)| *dropped || *failed > 0)
                .max()
                .map(|(_, _, e)| e.clone());
            let Some(victim) = victim else {
                return false;
            };
            set.remove(&victim);
            failures.remove(&victim);
        }
        set.insert(endpoint.to_owned())
    }

    /// Forgets `endpoint` (a libp2p peer whose last connection closed); returns whether
    /// it was known. A dropped endpoint stays dropped.
    pub fn remove(&self, endpoint: &str) -> bool {
        let removed = self
            .endpoints
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(endpoint);
        self.failures
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(endpoint);
        self.latency
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(endpoint);
        removed
    }

    /// Records how a sync with `endpoint` ended (a full set evicts by failures in a row).
    fn note_sync(&self, endpoint: &str, ok: bool) {
        let mut failures = self.failures.write().unwrap_or_else(|p| p.into_inner());
        if ok {
            failures.remove(endpoint);
        } else if failures.len() < MAX_PEERS || failures.contains_key(endpoint) {
            *failures.entry(endpoint.to_owned()).or_default() += 1;
        }
    }

    /// Every endpoint (except blocked and dropped ones).
    pub fn endpoints(&self) -> Vec<String> {
        let blocked = self.blocked.read().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        self.endpoints
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|e| !blocked.contains(*e) && !self.is_dropped_at(e, now))
            .cloned()
            .collect()
    }

    /// Drops `endpoint` for [`OFFENCE_BAN`] (it served an invalid block) and queues it for
    /// the network to charge its address.
    pub fn drop_offender(&self, endpoint: &str) {
        let now = Instant::now();
        self.dropped
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(|| doin_net::bans::BanList::new(MAX_PEERS))
            .ban(endpoint.to_owned(), now + OFFENCE_BAN, now);
        let mut q = self.offenders.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() >= MAX_OFFENDERS {
            q.pop_front();
        }
        q.push_back(endpoint.to_owned());
    }

    /// Whether `endpoint` is dropped now.
    pub fn is_dropped(&self, endpoint: &str) -> bool {
        self.is_dropped_at(endpoint, Instant::now())
    }

    fn is_dropped_at(&self, endpoint: &str, now: Instant) -> bool {
        self.dropped
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|d| d.is_banned(&endpoint.to_owned(), now))
    }

    /// The endpoints dropped since the last call, for the network to charge.
    pub fn take_offenders(&self) -> Vec<String> {
        self.offenders
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect()
    }

    /// Stops talking to `endpoint` until [`PeerSet::unblock_all`] (operator bans, and the
    /// test network's partitions).
    pub fn block(&self, endpoint: &str) {
        self.blocked
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(endpoint.to_owned());
    }

    /// Lifts every block.
    pub fn unblock_all(&self) {
        self.blocked
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

impl PeerSet {
    /// Whether a sync round has reached at least one peer since start-up.
    pub fn synced_once(&self) -> bool {
        self.first_contact.synced()
    }

    /// Records the cumulative work `endpoint` claims in its chain status (the first claim
    /// of each peer counts, [`FirstContact::record_claim`]).
    pub fn record_claim(&self, endpoint: &str, cumulative_work: Option<f64>) {
        self.first_contact.record_claim(endpoint, cumulative_work);
    }

    /// Records the round-trip time of a `/chain/status` request to `endpoint`.
    pub fn record_latency(&self, endpoint: &str, rtt: Duration) {
        let mut map = self.latency.write().unwrap_or_else(|p| p.into_inner());
        if map.len() < MAX_PEERS || map.contains_key(endpoint) {
            map.insert(endpoint.to_owned(), rtt.as_secs_f64() * 1000.0);
        }
    }

    /// The last measured round-trip time to `endpoint`, in milliseconds.
    pub fn latency_ms(&self, endpoint: &str) -> Option<f64> {
        self.latency
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(endpoint)
            .copied()
    }

    /// Records that `endpoint` served a chain our rules refuse (bounded like the set).
    pub fn record_refusal(&self, endpoint: &str, error: &SyncError) {
        let mut map = self.refusals.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_PEERS && !map.contains_key(endpoint) {
            return;
        }
        let r = map.entry(endpoint.to_owned()).or_insert(SyncRefusal {
            count: 0,
            last: error.clone(),
        });
        r.count += 1;
        r.last = error.clone();
    }

    /// The refusals per endpoint.
    pub fn sync_refusals(&self) -> BTreeMap<String, SyncRefusal> {
        self.refusals
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Asks the sync loop to check every peer now (a block was announced).
    pub fn request_sync(&self) {
        self.sync_now.notify_one();
    }

    /// Asks the evaluator to pull other nodes' tasks now (a task was announced).
    pub fn request_task_poll(&self) {
        self.poll_tasks_now.notify_one();
    }

    /// Waits for [`PeerSet::request_task_poll`] (or `timeout`).
    pub async fn task_poll_requested(&self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, self.poll_tasks_now.notified())
            .await
            .is_ok()
    }

    /// What the chain service's [`crate::mint_gate::MintGate`] waits on: whether a sync
    /// reached a peer, and the heaviest chain a peer claimed when first asked.
    pub fn first_contact(&self) -> Arc<FirstContact> {
        self.first_contact.clone()
    }

    fn mark_synced(&self) {
        self.first_contact.mark_synced();
    }
}

#[derive(Default)]
struct Backoff {
    failures: u32,
    next_try: Option<Instant>,
}

/// Keeps the chain in sync with every known peer until `stop` fires.
pub async fn sync_loop(
    peers: PeerSet,
    chain: ChainHandle,
    ours: Arc<dyn BlockSource>,
    p2p: Option<doin_net::p2p::P2pHandle>,
    mut stop: watch::Receiver<bool>,
) {
    let client = NodeTransport {
        http: SyncClient::new(),
        p2p: p2p.map(|handle| P2pTransport { handle }),
    };
    // One budget for the node: its syncs share the room for pages in flight.
    let budget = SyncBudget::default();
    let mut backoff: BTreeMap<String, Backoff> = BTreeMap::new();
    let mut running: JoinSet<(String, Result<SyncReport, SyncError>)> = JoinSet::new();
    let mut in_flight: BTreeSet<String> = BTreeSet::new();
    let mut tick = tokio::time::interval(SYNC_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = peers.sync_now.notified() => {}
            Some(done) = running.join_next(), if !running.is_empty() => {
                if let Ok((endpoint, result)) = done {
                    in_flight.remove(&endpoint);
                    let b = backoff.entry(endpoint.clone()).or_default();
                    settle(&peers, &endpoint, b, result);
                }
                continue;
            }
            _ = stop.wait_for(|s| *s) => {
                running.abort_all();
                return;
            }
        }
        // Each peer syncs in its own task, so a slow or hanging peer holds up only itself.
        let endpoints = peers.endpoints();
        if backoff.len() > 2 * MAX_PEERS {
            backoff.retain(|e, _| endpoints.contains(e));
        }
        for endpoint in endpoints {
            if running.len() >= MAX_CONCURRENT_SYNCS {
                break;
            }
            let b = backoff.entry(endpoint.clone()).or_default();
            if in_flight.contains(&endpoint) || b.next_try.is_some_and(|t| Instant::now() < t) {
                continue;
            }
            in_flight.insert(endpoint.clone());
            let (client, chain, ours, peers, budget) = (
                client.clone(),
                chain.clone(),
                ours.clone(),
                peers.clone(),
                budget.clone(),
            );
            running.spawn(async move {
                let r = sync_within(&client, &endpoint, &chain, &ours, Some(&peers), &budget).await;
                (endpoint, r)
            });
        }
    }
}

/// Records how a sync with `endpoint` ended: a success resets its back-off, a failure
/// doubles it, and a refusal is also recorded with its reason.
fn settle(peers: &PeerSet, endpoint: &str, b: &mut Backoff, result: Result<SyncReport, SyncError>) {
    match result {
        Ok(report) => {
            *b = Backoff::default();
            peers.note_sync(endpoint, true);
            peers.mark_synced();
            if let SyncReport::Imported(outcomes) = report {
                tracing::debug!(peer = %endpoint, ?outcomes, "synced");
            }
        }
        Err(e) => {
            if e.is_refusal() {
                tracing::warn!(peer = %endpoint, "refused the peer's chain: {e}");
                peers.record_refusal(endpoint, &e);
            }
            if e.is_offence() {
                peers.drop_offender(endpoint);
            }
            peers.note_sync(endpoint, false);
            b.failures = b.failures.saturating_add(1);
            let wait = Duration::from_secs(1u64 << b.failures.min(6)).min(MAX_BACKOFF);
            b.next_try = Some(Instant::now() + wait);
            tracing::debug!(peer = %endpoint, failures = b.failures, "sync failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_set_forgets_failing_and_dropped_endpoints_never_healthy_ones() {
        let set = PeerSet::new(&[]);
        for i in 0..MAX_PEERS {
            assert!(set.add(&format!("10.0.{}.{}:1", i / 250, i % 250)));
        }
        // Every endpoint healthy (no failure recorded): a newcomer is refused.
        assert!(!set.add("192.0.2.1:1"));
        // Junk that fails, and one dropped offender: newcomers take their places.
        set.note_sync("10.0.0.7:1", false);
        set.note_sync("10.0.0.7:1", false);
        set.note_sync("10.0.0.8:1", false);
        set.drop_offender("10.0.0.9:1");
        for newcomer in ["192.0.2.1:1", "192.0.2.2:1", "192.0.2.3:1"] {
            assert!(set.add(newcomer), "{newcomer}");
        }
        let now: BTreeSet<String> = set.endpoints.read().map(|s| s.clone()).unwrap_or_default();
        assert_eq!(now.len(), MAX_PEERS);
        for gone in ["10.0.0.7:1", "10.0.0.8:1", "10.0.0.9:1"] {
            assert!(!now.contains(gone), "{gone} kept");
        }
        assert!(!set.add("192.0.2.4:1"));
        // Success clears the failures: the endpoint is not evicted for them any more.
        set.note_sync("10.0.0.10:1", false);
        set.note_sync("10.0.0.10:1", true);
        assert!(!set.add("192.0.2.5:1"));
    }
}
