//! Tests of the inference service: checks, payment booking, queueing and restarts.

use super::*;
use doin_primitives::map;

fn served(price: u64) -> BTreeMap<String, ServedDomain> {
    let registry = doin_plugins::PluginRegistry::with_builtins();
    let validator = registry
        .evaluator("simple_quadratic", &Map::new())
        .expect("plugin");
    BTreeMap::from([(
        "q".to_owned(),
        ServedDomain {
            price,
            time_limit: Duration::from_secs(5),
            validator: Some(Mutex::new(validator)),
        },
    )])
}

fn chain_with_model() -> watch::Receiver<Arc<ChainView>> {
    let mut view = ChainView::default();
    view.domain_best_parameters
        .insert("q".into(), map! { "x" => vec![Value::Float(0.0); 10] });
    watch::channel(Arc::new(view)).1
}

fn open(
    path: &Path,
    queue: Arc<TaskQueue>,
    payment: Arc<dyn PaymentCheck>,
) -> Arc<InferenceService> {
    InferenceService::open(
        path,
        "me",
        queue,
        chain_with_model(),
        BTreeSet::from(["q".to_owned(), "other".to_owned()]),
        served(9),
        payment,
    )
    .expect("opens")
}

fn request(client: &str, input: Map) -> InferenceRequest {
    InferenceRequest {
        domain_id: "q".into(),
        input,
        client_id: client.into(),
        payment: None,
        source: std::net::Ipv4Addr::LOCALHOST.into(),
    }
}

#[test]
fn requests_are_checked_recorded_queued_and_queued_again_after_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join(FILE_NAME);
    let queue = Arc::new(TaskQueue::new());
    let service = open(&path, queue.clone(), Arc::new(FreeInference));
    let accepted = service.submit(request("c", Map::new())).expect("accepted");
    assert_eq!((accepted.price, accepted.amount_paid), (9, 0));
    let counts = queue.counts_of(TaskKind::InferenceRequest);
    assert_eq!(counts.pending, 1);
    let (tasks, _) = queue.pending(&[], 10);
    assert_eq!(tasks[0].priority, INFERENCE_PRIORITY);
    assert_eq!(tasks[0].quorum, ["me"]);

    let mut other = request("c", Map::new());
    other.domain_id = "other".into();
    assert!(matches!(service.submit(other), Err(Refusal::NotServed(_))));
    let mut unknown = request("c", Map::new());
    unknown.domain_id = "nope".into();
    assert_eq!(
        service.submit(unknown).unwrap_err().to_string(),
        "unknown domain: nope"
    );
    let short = map! { "x" => vec![Value::Float(1.0)] };
    let err = service.submit(request("c", short)).unwrap_err();
    assert!(
        matches!(&err, Refusal::BadRequest(r) if r.contains("n_params = 10")),
        "{err}"
    );

    // The node stops before serving it: a new service (a restarted node) queues it
    // again from the log.
    drop(service);
    let queue = Arc::new(TaskQueue::new());
    let service = open(&path, queue.clone(), Arc::new(FreeInference));
    assert_eq!(queue.counts_of(TaskKind::InferenceRequest).pending, 1);
    let record = service.get(&accepted.task_id).expect("log").expect("kept");
    assert_eq!(record.status, InferenceStatus::Queued);
    assert_eq!(record.price, 9);
}

struct VoucherRequired;
impl PaymentCheck for VoucherRequired {
    fn check(&self, r: &PaymentRequest<'_>) -> PaymentDecision {
        match r.voucher {
            Some(_) => PaymentDecision::Accept { amount: r.price },
            None => PaymentDecision::Refuse {
                reason: "no channel voucher".into(),
            },
        }
    }
}

#[test]
fn the_payment_check_decides_and_the_voucher_is_kept() {
    let dir = tempfile::tempdir().expect("dir");
    let queue = Arc::new(TaskQueue::new());
    let service = open(
        &dir.path().join(FILE_NAME),
        queue,
        Arc::new(VoucherRequired),
    );
    let err = service.submit(request("c", Map::new())).unwrap_err();
    assert_eq!(err, Refusal::PaymentRequired("no channel voucher".into()));
    let mut paid = request("c", Map::new());
    paid.payment = Some(Value::Object(map! { "nonce" => 1i64 }));
    let accepted = service.submit(paid).expect("paid");
    assert_eq!(accepted.amount_paid, 9);
    let record = service.get(&accepted.task_id).expect("log").expect("kept");
    assert_eq!(
        record.payment,
        Some(Value::Object(map! { "nonce" => 1i64 }))
    );
}

/// Books channel vouchers as [`ChannelPayment`] does, without asking a chain.
struct BookOnly;
impl PaymentCheck for BookOnly {
    fn check(&self, r: &PaymentRequest<'_>) -> PaymentDecision {
        PaymentDecision::Accept { amount: r.price }
    }
    fn book(
        &self,
        r: &PaymentRequest<'_>,
        _: u64,
        tx: &rusqlite::Transaction<'_>,
    ) -> Result<u64, String> {
        let v = r.voucher.ok_or("no voucher")?;
        let u = <doin_primitives::models::ChannelUpdate as doin_primitives::models::WireModel>::from_value(v)
            .map_err(|e| e.to_string())?;
        book_voucher(tx, &u, r.price, Timestamp::now_utc())
    }
}

#[test]
fn concurrent_requests_with_one_voucher_are_served_once_and_underpaying_books_nothing() {
    use doin_primitives::models::{ChannelUpdate, WireModel};
    let dir = tempfile::tempdir().expect("dir");
    let queue = Arc::new(TaskQueue::new());
    let service = open(
        &dir.path().join(FILE_NAME),
        queue.clone(),
        Arc::new(BookOnly),
    );
    let key = doin_primitives::identity::Identity::from_scalar_bytes(&[5; 32]).expect("key");
    let voucher = ChannelUpdate::signed(&key, "e".repeat(64), 1, 91, 9).to_value();
    let paid = |client: &str| {
        let mut r = request(client, Map::new());
        r.payment = Some(voucher.clone());
        r
    };
    let outcomes: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (service, r) = (service.clone(), paid(&format!("c{i}")));
                s.spawn(move || service.submit(r))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let served: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(served.len(), 1, "{outcomes:?}");
    assert_eq!(served[0].amount_paid, 9);
    for o in &outcomes {
        if let Err(e) = o {
            assert!(
                matches!(e, Refusal::PaymentRequired(r) if r.contains("not newer")),
                "{e}"
            );
        }
    }
    assert_eq!(queue.counts_of(TaskKind::InferenceRequest).pending, 1);
    let held = service
        .held_voucher(&"e".repeat(64))
        .expect("book")
        .expect("held");
    assert_eq!((held.update.nonce, held.requests), (1, 1));

    // An underpaying voucher is refused and the one held stays.
    let underpaid = ChannelUpdate::signed(&key, "e".repeat(64), 2, 90, 10).to_value();
    let mut r = paid("c0");
    r.payment = Some(underpaid);
    let err = service.submit(r).unwrap_err();
    assert!(
        matches!(&err, Refusal::PaymentRequired(m) if m.contains("pays 1 base units more")),
        "{err}"
    );
    let held = service
        .held_voucher(&"e".repeat(64))
        .expect("book")
        .expect("held");
    assert_eq!(held.update.nonce, 1, "nothing booked for a refusal");
}

#[test]
fn an_address_over_its_rate_limit_is_refused_whatever_client_id_it_names() {
    let dir = tempfile::tempdir().expect("dir");
    let queue = Arc::new(TaskQueue::new());
    let service = open(&dir.path().join(FILE_NAME), queue, Arc::new(FreeInference));
    for i in 0..RATE_LIMIT {
        service
            .submit(request(&format!("fresh-{i}"), Map::new()))
            .expect("within the limit");
    }
    let err = service
        .submit(request("yet-another", Map::new()))
        .unwrap_err();
    assert!(
        matches!(&err, Refusal::RateLimited(m) if m.contains("address 127.0.0.1")),
        "{err}"
    );
    let elsewhere = InferenceRequest {
        source: std::net::Ipv4Addr::new(127, 0, 0, 2).into(),
        ..request("yet-another", Map::new())
    };
    assert!(service.submit(elsewhere).is_ok());
}

#[test]
fn a_paying_channel_is_limited_wherever_it_pays_from() {
    let dir = tempfile::tempdir().expect("dir");
    let queue = Arc::new(TaskQueue::new());
    let service = open(&dir.path().join(FILE_NAME), queue, Arc::new(FreeInference));
    let paid_from = |n: u32| InferenceRequest {
        payment: Some(Value::Object(map! {"channel_id" => "ch-1"})),
        source: std::net::Ipv4Addr::from(0x0a00_0000 + n).into(),
        ..request("c", Map::new())
    };
    for n in 0..RATE_LIMIT {
        service.submit(paid_from(n)).expect("within the limit");
    }
    let err = service.submit(paid_from(RATE_LIMIT)).unwrap_err();
    assert!(
        matches!(&err, Refusal::RateLimited(m) if m.contains("channel ch-1")),
        "{err}"
    );
}
