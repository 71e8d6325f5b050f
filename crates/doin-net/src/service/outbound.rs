//! Outbound frames: a router's actions performed (deliveries to the node, sends to peers),
//! the wire body we post, and one sender task per peer draining a bounded queue (the oldest
//! frame dropped on overflow, so a slow peer never blocks the router).

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use doin_primitives::models::{Message, WireModel};
use tokio::sync::{mpsc, Notify};

use super::{Actor, Delivery, Event};
use crate::limits::MAX_MESSAGE_BYTES;
use crate::transport::{PeerClient, TransportError};
use crate::{Action, PeerKey};
use doin_primitives::PeerId;

impl Actor {
    /// Performs a router's actions; `origin` is the hop and address of the body that
    /// caused them.
    pub(super) fn apply(&mut self, actions: Vec<Action>, origin: Option<(&str, IpAddr)>) {
        for a in actions {
            match a {
                Action::Deliver(message) => {
                    let d = Delivery {
                        from: origin
                            .map_or(self.config.peer_id.as_str(), |o| o.0)
                            .to_owned(),
                        // Admission verified the seal against `sender_id`, so it parses.
                        signer: message
                            .seal
                            .as_ref()
                            .and_then(|_| PeerId::parse(&message.sender_id).ok()),
                        address: origin.map(|o| o.1),
                        message,
                    };
                    if self.deliveries.try_send(d).is_err() {
                        tracing::warn!("delivery channel full; message dropped");
                    }
                }
                Action::Send { peer, message } => {
                    let body = self.outbound_message(message);
                    self.enqueue(&peer, body);
                }
            }
        }
    }

    /// The wire body of a message we send: our port, and our id as forwarder when relaying
    /// (both outside the message id and the seal).
    fn outbound_message(&self, mut m: Message) -> String {
        m.payload.insert(
            "_sender_port".into(),
            i64::from(self.config.listen_port).into(),
        );
        if m.sender_id == self.config.peer_id {
            m.payload.shift_remove("_forwarder_id");
        } else {
            m.payload.insert(
                "_forwarder_id".into(),
                self.config.peer_id.to_string().into(),
            );
        }
        m.to_wire_json()
    }

    fn enqueue(&mut self, peer: &str, body: String) {
        let Some(endpoint) = self.table.endpoint(peer).map(str::to_owned) else {
            return;
        };
        if body.len() > MAX_MESSAGE_BYTES {
            tracing::warn!(
                peer,
                len = body.len(),
                "outbound message over the size limit"
            );
            return;
        }
        let cap = self.config.send_queue_capacity.max(1);
        let q = self.queues.entry(peer.to_owned()).or_insert_with(|| {
            let q = Arc::new(SendQueue {
                items: Mutex::new(VecDeque::new()),
                notify: Notify::new(),
                closed: AtomicBool::new(false),
                dropped: AtomicU64::new(0),
            });
            tokio::spawn(send_loop(
                peer.to_owned(),
                q.clone(),
                self.client.clone(),
                self.events_tx.clone(),
            ));
            q
        });
        q.push(endpoint, body, cap);
    }
}

/// A peer's bounded outbound queue, drained by its sender task.
pub(super) struct SendQueue {
    items: Mutex<VecDeque<(String, String)>>,
    notify: Notify,
    closed: AtomicBool,
    dropped: AtomicU64,
}

impl SendQueue {
    fn push(&self, endpoint: String, body: String, cap: usize) {
        let Ok(mut q) = self.items.lock() else { return };
        if q.len() >= cap {
            q.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        q.push_back((endpoint, body));
        drop(q);
        self.notify.notify_one();
    }

    fn pop(&self) -> Option<(String, String)> {
        self.items.lock().ok()?.pop_front()
    }

    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.notify.notify_one();
    }
}

/// Messages and control frames this process posted to peers (published and forwarded).
pub static FRAMES_SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// Posts to peers that failed.
pub static FRAMES_FAILED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Most frames one sender posts to one peer per second: well under the address rate a
/// peer admits ([`crate::admission::AdmissionConfig`]: 2,500 a second after a burst of
/// 5,000), so an honest node relaying an attacker's flood is never charged as its source
/// (and banned) by its neighbours. Frames over it wait in the bounded queue, which drops
/// the oldest.
const SEND_PER_SECOND: u32 = 1_000;
/// How long a sender pauses after a peer answers 429 or 503 (it is shedding load).
const BACK_OFF: Duration = Duration::from_secs(1);

async fn send_loop(
    peer: PeerKey,
    q: Arc<SendQueue>,
    client: PeerClient,
    events: mpsc::Sender<Event>,
) {
    let mut window = (tokio::time::Instant::now(), 0u32);
    loop {
        while let Some((endpoint, body)) = q.pop() {
            if window.1 >= SEND_PER_SECOND {
                tokio::time::sleep_until(window.0 + Duration::from_secs(1)).await;
            }
            let now = tokio::time::Instant::now();
            if now >= window.0 + Duration::from_secs(1) {
                window = (now, 0);
            }
            window.1 += 1;
            let sent = client.post_body(&endpoint, body).await;
            let counter = if sent.is_ok() {
                &FRAMES_SENT
            } else {
                &FRAMES_FAILED
            };
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let ok = match sent {
                Ok(_) => true,
                // A peer that answers "too many" or "overloaded" is up and shedding load
                // (its rate limit for our address, a flood we relay): back-pressure, not a
                // failure that should cost it its connection.
                Err(TransportError::Status {
                    status: 429 | 503, ..
                }) => {
                    tokio::time::sleep(BACK_OFF).await;
                    continue;
                }
                Err(e) => {
                    tracing::debug!(%peer, %endpoint, "send failed: {e}");
                    false
                }
            };
            // Outcomes are advisory: drop them rather than block when the actor is busy.
            let _ = events.try_send(Event::Sent {
                peer: peer.clone(),
                ok,
            });
        }
        if q.closed.load(Ordering::Relaxed) {
            return;
        }
        q.notify.notified().await;
        if q.closed.load(Ordering::Relaxed) {
            return;
        }
    }
}
