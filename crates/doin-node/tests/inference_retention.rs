//! `inference.db`'s retention bound, enforced by a running node: finished requests older
//! than `inference_retention.max_age_days`, and beyond the newest `max_rows`, are deleted
//! once the node is up (and every minute after); requests still queued are kept.

mod common;
mod http_attacker;

use std::time::{Duration, Instant};

use common::{free_port, NodeProcess};
use doin_node::inference::{InferenceLog, InferenceRecord, InferenceStatus, FILE_NAME};
use doin_primitives::{Timestamp, Value};

fn record(log: &InferenceLog, id: &str, at: Timestamp, finished: bool) {
    let r = InferenceRecord {
        task_id: id.into(),
        domain_id: "quadratic".into(),
        client_id: "c".into(),
        input: Value::object(),
        input_hash: String::new(),
        status: InferenceStatus::Queued,
        reason: None,
        result: None,
        price: 0,
        amount_paid: 0,
        payment: None,
        model: None,
        submitted_at: at,
        started_at: None,
        finished_at: None,
        run_ms: None,
    };
    assert!(log.insert(&r).expect("insert"));
    if finished {
        log.finish(id, &Ok(Value::object()), at, None)
            .expect("finish");
    }
}

fn ids(log: &InferenceLog) -> Vec<String> {
    let mut stmt = log
        .conn()
        .prepare("SELECT task_id FROM inference_requests ORDER BY seq")
        .expect("query");
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).expect("rows");
    rows.collect::<Result<_, _>>().expect("ids")
}

#[test]
fn a_running_node_prunes_its_inference_log_to_the_configured_age_and_rows() {
    let dir = tempfile::tempdir().expect("dir");
    let now = Timestamp::now_utc().unix_micros();
    let days_ago = |d: i64| Timestamp::from_unix_micros(now - d * 86_400_000_000);
    {
        std::fs::create_dir_all(dir.path()).expect("dir");
        let log = InferenceLog::open(&dir.path().join(FILE_NAME)).expect("log");
        for i in 0..20 {
            record(&log, &format!("old-{i}"), days_ago(10), true);
        }
        for i in 0..15 {
            record(&log, &format!("recent-{i}"), days_ago(1), true);
        }
    }
    let config = http_attacker::write_config(
        dir.path(),
        serde_json::json!({"inference_retention": {"max_age_days": 7, "max_rows": 10}}),
    );
    let mut node = NodeProcess::start(dir.path(), free_port(), &["--config", &config]);
    node.wait_ready();
    let log = InferenceLog::open(&dir.path().join(FILE_NAME)).expect("log");
    let started = Instant::now();
    let kept = loop {
        let kept = ids(&log);
        if kept.len() <= 10 {
            break kept;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still {} requests recorded",
            kept.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let expected: Vec<String> = (5..15).map(|i| format!("recent-{i}")).collect();
    assert_eq!(
        kept, expected,
        "the newest ten within the age bound are kept"
    );
}
