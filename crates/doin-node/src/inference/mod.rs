//! Inference requests: a client asks a domain's best model for an answer, the node serves
//! it with the parameters of the domain's best optimae on chain, and records it.
//!
//! Bird's eye view:
//! * `POST /inference` ([`crate::api::inference`]) — the reference's request
//!   `{"domain_id", "input_data"?, "client_id"?}` plus DOIN's optional `payment`. The
//!   [`InferenceService`] checks it (known domain, served here, a model on chain, the
//!   input finite and small, its source address under its rate limit, room in the queue), asks the
//!   [`PaymentCheck`] (default: [`ChannelPayment`], a channel voucher for a priced domain),
//!   then, under the log's lock and in one transaction, books the payment, records the
//!   request in the [`InferenceLog`] and queues it in the node's task queue as an
//!   `inference_request` task (priority 10, after verification tasks), answering
//!   `{"status":"queued","task_id",…}`.
//! * thread `inference` — [`InferenceWorker`]: takes the queue's inference tasks for the
//!   domains it serves, reads the domain's best parameters from the chain view, calls the
//!   domain's plugin ([`doin_plugins::Evaluator::infer`]), and records the result or the
//!   failure with the model used (parameters, their hash, the optimae on chain they came
//!   from and its block, the chain height and tip).
//! * `GET /inference/{task_id}` — the record: `queued`, `running`, `completed` with the
//!   result, or `failed` with the reason.
//! * Paid inference: the newest voucher of each channel paying this node is kept in the
//!   [`vouchers`] book (in `inference.db`); [`settlement`] closes a channel with it on
//!   request (`POST /inference/channels/{id}/close`), and its watcher (task `settlement`)
//!   disputes a close on an older update and settles once the dispute period is over.
//!
//! A node serves inference for the domains it evaluates (it runs their inference plugin).
//! The log lives in `inference.db` in the data directory and outlives restarts (and
//! `--reset-chain`: it holds payment vouchers); requests a restart interrupted are queued
//! again. Results are served to whoever knows the task id, an unguessable hash.

mod channel_payment;
mod launch;
mod limits;
mod payment;
mod provenance;
mod record;
mod retention;
pub mod settlement;
pub mod vouchers;
mod worker;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use doin_primitives::hash::content_id;
use doin_primitives::models::{Task, TaskType};
use doin_primitives::{Map, Timestamp, Value};
use tokio::sync::watch;

pub use channel_payment::{book_voucher, ChannelPayment};
pub use launch::{launch, Launch};
pub use limits::{channel_key, source_key, ClientLimiter, MAX_CLIENTS, RATE_LIMIT, RATE_WINDOW};
pub use payment::{FreeInference, PaymentCheck, PaymentDecision, PaymentRequest};
pub use provenance::{Provenance, MAX_SEARCH_BLOCKS};
pub use record::{InferenceLog, InferenceRecord, InferenceStatus, ServedModel, FILE_NAME};
pub use retention::{run as enforce_retention, Retention, PRUNE_INTERVAL};
pub use worker::InferenceWorker;

use crate::task_queue::{QueuedTask, TaskKind, TaskQueue, TaskState};
use crate::view::ChainView;

/// Most inference requests queued or running at once on a node.
pub const MAX_QUEUED: usize = 256;
/// The priority of inference tasks in the task queue (verification tasks are 0).
pub const INFERENCE_PRIORITY: u8 = 10;
/// The longest `client_id` accepted.
pub const MAX_CLIENT_ID_CHARS: usize = 128;
/// The largest `payment` voucher accepted, in bytes of canonical JSON.
pub const MAX_VOUCHER_BYTES: usize = 16 * 1024;
/// The client id of a request that names none (as in the reference).
pub const ANONYMOUS: &str = "anonymous";

/// What the node offers for a domain it serves.
pub struct ServedDomain {
    /// The domain config's `inference_price`, base units per request.
    pub price: u64,
    /// The domain's `resource_limits.max_training_seconds`: a result that took longer is
    /// discarded and the request fails.
    pub time_limit: Duration,
    /// A plugin instance that checks inputs before they are queued
    /// ([`doin_plugins::Evaluator::check_input`]); `None` for external plugins, whose
    /// inputs are checked when they run.
    pub validator: Option<Mutex<Box<dyn doin_plugins::Evaluator>>>,
}

/// An inference request as a client sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct InferenceRequest {
    /// The domain whose model is asked.
    pub domain_id: String,
    /// The client's input (`{}` when it sent none).
    pub input: Map,
    /// Who asks, as it names itself (recorded, not trusted).
    pub client_id: String,
    /// The payment voucher, opaque here.
    pub payment: Option<Value>,
    /// The address the request came from: what the rate limit counts.
    pub source: std::net::IpAddr,
}

/// Why a request is not served; each maps to one HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The request is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// The domain is not one of this chain's (404).
    #[error("unknown domain: {0}")]
    UnknownDomain(String),
    /// This node does not serve the domain, or has no model for it yet (409).
    #[error("{0}")]
    NotServed(String),
    /// The payment check refused the request (402).
    #[error("payment required: {0}")]
    PaymentRequired(String),
    /// The client is over its rate limit (429).
    #[error("{0}")]
    RateLimited(String),
    /// The queue is full (503).
    #[error("{0}")]
    Busy(String),
    /// The log could not be written or read (500).
    #[error("inference log: {0}")]
    Storage(String),
}

/// What an accepted request is told.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// The id to fetch the result by.
    pub task_id: String,
    /// The domain's price, base units.
    pub price: u64,
    /// What the payment check collected, base units.
    pub amount_paid: u64,
}

/// Process-wide counts of inference requests, for `/metrics`.
#[derive(Debug, Default)]
pub struct InferenceCounters {
    /// Requests accepted and queued.
    pub accepted: AtomicU64,
    /// Requests refused (any reason).
    pub refused: AtomicU64,
    /// Requests answered.
    pub completed: AtomicU64,
    /// Requests that failed after being queued.
    pub failed: AtomicU64,
}

/// The counters every inference service of the process adds to.
pub static COUNTERS: InferenceCounters = InferenceCounters {
    accepted: AtomicU64::new(0),
    refused: AtomicU64::new(0),
    completed: AtomicU64::new(0),
    failed: AtomicU64::new(0),
};

/// Adds the inference counters to a `/metrics` registry.
pub fn register_metrics(registry: &mut prometheus_client::registry::Registry) {
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    registry.register(
        "doin_inference_requests",
        "Inference requests by outcome",
        crate::metrics::labeled::Labeled::counters(
            "outcome",
            [
                ("accepted", load(&COUNTERS.accepted)),
                ("refused", load(&COUNTERS.refused)),
                ("completed", load(&COUNTERS.completed)),
                ("failed", load(&COUNTERS.failed)),
            ],
        ),
    );
}

/// The node's inference service (shared by the API handlers and the worker).
pub struct InferenceService {
    me: String,
    queue: Arc<TaskQueue>,
    log: Mutex<InferenceLog>,
    known: BTreeSet<String>,
    served: BTreeMap<String, ServedDomain>,
    payment: Arc<dyn PaymentCheck>,
    limiter: Mutex<ClientLimiter>,
    chain: watch::Receiver<Arc<ChainView>>,
    last_micros: Mutex<i64>,
}

impl InferenceService {
    /// Opens the log at `path` and queues again the requests a restart interrupted.
    /// `known` are the chain's domains; `served` those this node answers for.
    pub fn open(
        path: &Path,
        me: &str,
        queue: Arc<TaskQueue>,
        chain: watch::Receiver<Arc<ChainView>>,
        known: BTreeSet<String>,
        served: BTreeMap<String, ServedDomain>,
        payment: Arc<dyn PaymentCheck>,
    ) -> Result<Arc<Self>, rusqlite::Error> {
        let log = InferenceLog::open(path)?;
        let unfinished = log.unfinished()?;
        let service = InferenceService {
            me: me.to_owned(),
            queue,
            log: Mutex::new(log),
            known,
            served,
            payment,
            limiter: Mutex::new(ClientLimiter::default()),
            chain,
            last_micros: Mutex::new(0),
        };
        for r in unfinished {
            let input = r.input.as_object().cloned().unwrap_or_default();
            let log = service.log();
            if !service.served.contains_key(&r.domain_id) {
                let reason = format!("this node no longer serves domain {}", r.domain_id);
                log.finish(&r.task_id, &Err(reason), Timestamp::now_utc(), None)?;
                continue;
            }
            log.requeue(&r.task_id)?;
            drop(log);
            let task = service.task(
                &r.task_id,
                &r.domain_id,
                &r.client_id,
                input,
                r.submitted_at,
            );
            if service.queue.push(task).is_err() {
                let reason = "the task queue was full when the node restarted".to_owned();
                service
                    .log()
                    .finish(&r.task_id, &Err(reason), Timestamp::now_utc(), None)?;
            }
        }
        Ok(Arc::new(service))
    }

    fn log(&self) -> std::sync::MutexGuard<'_, InferenceLog> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// This node's peer id.
    pub fn peer_id(&self) -> &str {
        &self.me
    }

    /// The domains this node serves, with their terms.
    pub fn served(&self) -> &BTreeMap<String, ServedDomain> {
        &self.served
    }

    /// The queue task of a request: an `inference_request` only this node may take.
    fn task(
        &self,
        task_id: &str,
        domain_id: &str,
        client_id: &str,
        input: Map,
        created_at: Timestamp,
    ) -> QueuedTask {
        QueuedTask {
            id: task_id.to_owned(),
            kind: TaskKind::InferenceRequest,
            domain_id: domain_id.to_owned(),
            state: TaskState::Pending,
            requester_id: client_id.to_owned(),
            evaluator_id: None,
            parameters: input,
            optimae_id: String::new(),
            reported_performance: None,
            created_at,
            claimed_at: None,
            completed_at: None,
            priority: INFERENCE_PRIORITY,
            verified_performance: None,
            commitment_hash: String::new(),
            seed_block_hash: String::new(),
            // Served by this node's own worker: no other evaluator may claim it.
            quorum: vec![self.me.clone()],
            claim: None,
        }
    }

    /// Checks, pays for, records and queues a request.
    pub fn submit(&self, request: InferenceRequest) -> Result<Accepted, Refusal> {
        let out = self.try_submit(request);
        let counter = if out.is_ok() {
            &COUNTERS.accepted
        } else {
            &COUNTERS.refused
        };
        counter.fetch_add(1, Ordering::Relaxed);
        out
    }

    fn try_submit(&self, request: InferenceRequest) -> Result<Accepted, Refusal> {
        let domain = &request.domain_id;
        if !self.known.contains(domain) {
            return Err(Refusal::UnknownDomain(domain.clone()));
        }
        let Some(terms) = self.served.get(domain) else {
            return Err(Refusal::NotServed(format!(
                "this node does not serve inference for domain {domain} (it does not evaluate \
                 it); ask a node that does"
            )));
        };
        let input = Value::Object(request.input.clone());
        doin_plugins::inference::check_input(&input)
            .map_err(|e| Refusal::BadRequest(e.to_string()))?;
        if let Some(validator) = &terms.validator {
            validator
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .check_input(&input)
                .map_err(|e| Refusal::BadRequest(e.to_string()))?;
        }
        if !self
            .chain
            .borrow()
            .domain_best_parameters
            .contains_key(domain)
        {
            return Err(Refusal::NotServed(format!(
                "domain {domain} has no accepted optimae on chain yet: there is no model to serve"
            )));
        }
        self.admit(&source_key(request.source))?;
        let busy = self.queue.counts_of(TaskKind::InferenceRequest);
        if busy.pending + busy.claimed >= MAX_QUEUED {
            return Err(Refusal::Busy(format!(
                "the inference queue is full ({MAX_QUEUED} requests); retry later"
            )));
        }
        let submitted_at = self.next_timestamp();
        let task_id = Task::new(
            TaskType::InferenceRequest,
            domain.clone(),
            request.client_id.clone(),
            request.input.clone(),
            submitted_at,
        )
        .id;
        let payment = PaymentRequest {
            task_id: &task_id,
            domain_id: domain,
            client_id: &request.client_id,
            price: terms.price,
            voucher: request.payment.as_ref(),
        };
        let checked = match self.payment.check(&payment) {
            PaymentDecision::Accept { amount } => amount,
            PaymentDecision::Refuse { reason } => return Err(Refusal::PaymentRequired(reason)),
        };
        if let Some(channel) = request
            .payment
            .as_ref()
            .and_then(Value::as_object)
            .and_then(|p| p.get("channel_id"))
            .and_then(Value::as_str)
        {
            // The voucher checked out: its channel is counted too, wherever it pays from.
            self.admit(&channel_key(channel))?;
        }
        let storage = |e: rusqlite::Error| Refusal::Storage(e.to_string());
        // The payment is booked, the request recorded and queued under one lock and in one
        // transaction: a refusal at any step leaves nothing behind (the transaction rolls
        // back when dropped), and no voucher is counted for a request that is not served.
        let mut log = self.log();
        let tx = log.transaction().map_err(storage)?;
        let amount = self
            .payment
            .book(&payment, checked, &tx)
            .map_err(Refusal::PaymentRequired)?;
        let record = InferenceRecord {
            task_id: task_id.clone(),
            domain_id: domain.clone(),
            client_id: request.client_id.clone(),
            input_hash: content_id(&input),
            input,
            status: InferenceStatus::Queued,
            reason: None,
            result: None,
            price: terms.price,
            amount_paid: amount,
            payment: request.payment.clone(),
            model: None,
            submitted_at,
            started_at: None,
            finished_at: None,
            run_ms: None,
        };
        if !record::insert_on(&tx, &record).map_err(storage)? {
            return Err(Refusal::BadRequest(format!(
                "request {task_id} was already submitted; fetch it with GET /inference/{task_id}"
            )));
        }
        let task = self.task(
            &task_id,
            domain,
            &request.client_id,
            request.input,
            submitted_at,
        );
        self.queue
            .push(task)
            .map_err(|e| Refusal::Busy(e.to_string()))?;
        if let Err(e) = tx.commit() {
            // A worker that claimed it meanwhile records nothing: its row is not there.
            self.queue.cancel(&task_id);
            return Err(storage(e));
        }
        Ok(Accepted {
            task_id,
            price: terms.price,
            amount_paid: amount,
        })
    }

    /// Counts one request against `key`'s rate limit.
    fn admit(&self, key: &str) -> Result<(), Refusal> {
        self.limiter
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .admit(key, Instant::now())
            .map_err(|wait| {
                Refusal::RateLimited(format!(
                    "{key} is over its limit of {RATE_LIMIT} inference requests per {}s; \
                     retry in {wait}s",
                    RATE_WINDOW.as_secs()
                ))
            })
    }

    /// Deletes the finished requests `retention` no longer keeps; returns how many.
    pub fn prune(&self, retention: &Retention, now: Timestamp) -> Result<usize, Refusal> {
        retention
            .prune(self.log().conn(), now)
            .map_err(|e| Refusal::Storage(e.to_string()))
    }

    /// Now, but later than every earlier request's time: the task id covers the time, so
    /// two identical requests in the same microsecond still get distinct ids.
    fn next_timestamp(&self) -> Timestamp {
        let mut last = self.last_micros.lock().unwrap_or_else(|p| p.into_inner());
        let micros = Timestamp::now_utc().unix_micros().max(*last + 1);
        *last = micros;
        Timestamp::from_unix_micros(micros)
    }

    /// A request's record, `None` when no request has that id.
    pub fn get(&self, task_id: &str) -> Result<Option<InferenceRecord>, Refusal> {
        self.log()
            .get(task_id)
            .map_err(|e| Refusal::Storage(e.to_string()))
    }

    /// The newest voucher this node holds for a channel.
    pub fn held_voucher(&self, channel_id: &str) -> Result<Option<vouchers::HeldVoucher>, Refusal> {
        vouchers::newest(self.log().conn(), channel_id).map_err(|e| Refusal::Storage(e.to_string()))
    }

    /// The channels whose newest voucher is not yet paid out on chain.
    pub fn unsettled_vouchers(&self) -> Result<Vec<vouchers::HeldVoucher>, Refusal> {
        vouchers::unsettled(self.log().conn()).map_err(|e| Refusal::Storage(e.to_string()))
    }

    /// Marks a channel paid out on chain (its voucher is no longer watched).
    pub fn mark_settled(&self, channel_id: &str) -> Result<(), Refusal> {
        vouchers::mark_settled(self.log().conn(), channel_id)
            .map_err(|e| Refusal::Storage(e.to_string()))
    }

    /// The model a request is served with now: the domain's best parameters on chain.
    fn model(&self, domain_id: &str) -> Option<ServedModel> {
        let view = self.chain.borrow().clone();
        let parameters = Value::Object(view.domain_best_parameters.get(domain_id)?.clone());
        Some(ServedModel {
            parameters_hash: content_id(&parameters),
            parameters,
            best_performance: view.domain_best.get(domain_id).copied(),
            chain_height: view.height,
            tip_hash: view.tip_hash.clone(),
            optimae: None,
        })
    }
}

#[cfg(test)]
mod tests;
