//! The cheap handle the node holds: it admits `POST /message` bodies (address gate, size,
//! parse and seal checks off the async workers, each hop's rate) before the actor routes
//! them, and forwards the node's publications, verdicts and queries to the actor.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use doin_primitives::models::Message;
use tokio::sync::{mpsc, oneshot};

use super::inbound::parse_inbound;
use super::{Command, Delivery, InboundError, NetError};
use crate::admission::{check_message, AddressGuard, AdmissionConfig, Gate};
use crate::hop::canonical;
use crate::limits::{RateLimiter, MAX_MESSAGE_BYTES};
use crate::{PeerKey, Verdict};

/// A cheap, cloneable handle to the network service.
#[derive(Clone, Debug)]
pub struct NetHandle {
    pub(super) tx: mpsc::Sender<Command>,
    pub(super) peer_id: doin_primitives::PeerId,
    pub(super) admission: Arc<AdmissionConfig>,
    pub(super) guard: Arc<Mutex<AddressGuard>>,
    /// Bodies parsed and seals verified at once, off the async workers.
    pub(super) checkers: Arc<tokio::sync::Semaphore>,
    /// Each hop's rate, keyed by claimed peer and sending address (a claim from another
    /// address spends nobody else's allowance).
    pub(super) peer_rates: Arc<Mutex<RateLimiter>>,
}

/// Longest an inbound body waits for a checker before the sender is told to retry.
const CHECK_WAIT: Duration = Duration::from_secs(1);

impl NetHandle {
    /// Floods our own message to every HTTP peer.
    pub async fn publish(&self, message: Message) -> Result<(), NetError> {
        self.tx
            .send(Command::Publish(message))
            .await
            .map_err(|_| NetError::Closed)
    }

    /// Handles a `POST /message` body from `remote`: the address's ban and rate, size
    /// limit, parse (bare message, `{"type":"message"}` or `{"type":"control"}`), the
    /// claimed peer's rate, a message's seal and age ([`crate::admission`]; failures are
    /// charged to the address), then the peer's ban, dedupe and routing in the actor. Never blocks on
    /// a full queue (answers [`InboundError::Busy`]).
    pub async fn inbound(&self, body: &[u8], remote: SocketAddr) -> Result<(), InboundError> {
        let ip = canonical_ip(remote);
        match self.lock_guard().gate(ip, Instant::now()) {
            Gate::Open => {}
            Gate::RateLimited => return Err(InboundError::RateLimited),
            Gate::Banned => return Err(InboundError::Banned),
        }
        let r = self.admit(body, remote).await;
        let verdict = match &r {
            Err(InboundError::TooLarge { .. }) => Some(Verdict::Oversize),
            Err(InboundError::Malformed(_) | InboundError::BadSender(_)) => {
                Some(Verdict::Malformed)
            }
            Err(InboundError::Refused(refusal)) => Some(refusal.verdict()),
            Err(InboundError::RateLimited) => Some(Verdict::Spam),
            _ => None,
        };
        if let Some(v) = verdict {
            self.charge_address(remote, v);
        }
        r
    }

    /// Charges the address `remote` came from with a verdict (bodies the HTTP layer refused
    /// before [`NetHandle::inbound`], such as ones over its size limit).
    pub fn charge_address(&self, remote: SocketAddr, verdict: Verdict) {
        self.lock_guard()
            .charge(canonical_ip(remote), verdict, Instant::now());
    }

    fn lock_guard(&self) -> std::sync::MutexGuard<'_, AddressGuard> {
        self.guard.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn admit(&self, body: &[u8], remote: SocketAddr) -> Result<(), InboundError> {
        if body.len() > MAX_MESSAGE_BYTES {
            return Err(InboundError::TooLarge {
                len: body.len(),
                max: MAX_MESSAGE_BYTES,
            });
        }
        // Parsing and seal checks are CPU work: run them on the blocking pool, a few at a
        // time, so that a flood of bodies never stalls the tasks serving other requests.
        let permit = tokio::time::timeout(CHECK_WAIT, self.checkers.clone().acquire_owned())
            .await
            .map_err(|_| InboundError::Busy)?
            .map_err(|_| InboundError::Closed)?;
        let body = body.to_vec();
        let ip = canonical_ip(remote);
        let (admission, rates, me) = (
            self.admission.clone(),
            self.peer_rates.clone(),
            self.peer_id.clone(),
        );
        let parsed = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            // A control frame (a reference node on GossipSub): acknowledged, not routed.
            let Some((mut claim, port, message)) = parse_inbound(&body)? else {
                return Ok(None);
            };
            // The address's rate (checked before parsing) bounds the seal checks. Each hop
            // has its own rate too, keyed by the peer it claims to be *and* the address it
            // posts from: honest relays of one message each spend their own allowance,
            // and a body naming another peer from another address spends only a bucket of
            // that address, never the named peer's.
            check_message(&message, unix_now_micros(), &admission)?;
            claim.signed = message.seal.is_some();
            let hop = claim.relay.as_ref().unwrap_or(&claim.sender);
            let allowed = *hop == me
                || rates
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .allow(&format!("{hop}@{ip}"), Instant::now());
            if !allowed {
                return Err(if claim.relay.is_some() {
                    InboundError::RelayRateLimited
                } else {
                    InboundError::RateLimited
                });
            }
            Ok::<_, InboundError>(Some((claim, port, message)))
        })
        .await
        .map_err(|_| InboundError::Closed)??;
        let Some((claim, port, message)) = parsed else {
            return Ok(());
        };
        let hop = claim.relay.as_ref().unwrap_or(&claim.sender);
        if *hop == self.peer_id {
            return Ok(());
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .try_send(Command::Inbound {
                claim,
                ip: canonical_ip(remote),
                port,
                message,
                reply,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => InboundError::Busy,
                mpsc::error::TrySendError::Closed(_) => InboundError::Closed,
            })?;
        rx.await.map_err(|_| InboundError::Closed)?
    }

    /// The node's verdict on a delivered message's content. It goes to what is
    /// authenticated: the message's signer, and the address it came from (or, when a
    /// peer bound to that address relayed it, that peer's router score only); never to a
    /// peer the body merely named.
    pub async fn report(&self, delivery: &Delivery, verdict: Verdict) {
        let _ = self
            .tx
            .send(Command::Report {
                hop: delivery.from.clone(),
                signer: delivery.signer.clone(),
                address: delivery.address,
                verdict,
            })
            .await;
    }

    /// Asks the service to exchange peers with `endpoint` now (e.g. a CLI `--peer`).
    pub async fn connect(&self, endpoint: &str) -> Result<(), NetError> {
        self.tx
            .send(Command::Connect(endpoint.to_owned()))
            .await
            .map_err(|_| NetError::Closed)
    }

    /// The body of our `GET /peers` (the reference's shape).
    pub async fn peers_json(&self) -> Result<serde_json::Value, NetError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::PeersJson(tx))
            .await
            .map_err(|_| NetError::Closed)?;
        rx.await.map_err(|_| NetError::Closed)
    }

    /// Peers currently connected to the router.
    pub async fn connected(&self) -> Result<Vec<PeerKey>, NetError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::Connected(tx))
            .await
            .map_err(|_| NetError::Closed)?;
        rx.await.map_err(|_| NetError::Closed)
    }

    /// Stops the service (the peer table is saved first).
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

fn unix_now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// The remote's IP, IPv4-mapped IPv6 addresses as IPv4.
fn canonical_ip(remote: SocketAddr) -> IpAddr {
    canonical(remote.ip())
}
