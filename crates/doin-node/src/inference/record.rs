//! The inference log: every accepted request and what became of it, in `inference.db`
//! (SQLite, WAL) next to the chain store, so results stay fetchable and vouchers stay
//! available for settlement after a restart.

use std::path::Path;

use doin_primitives::json::{parse, to_wire_json};
use doin_primitives::{Timestamp, Value};
use rusqlite::{params, Connection, OptionalExtension};

/// The file name inside the data directory.
pub const FILE_NAME: &str = "inference.db";

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InferenceStatus {
    /// Accepted, waiting in the task queue.
    Queued,
    /// The plugin is computing it.
    Running,
    /// Answered; the result is recorded.
    Completed,
    /// Given up; the reason is recorded.
    Failed,
}

impl InferenceStatus {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            InferenceStatus::Queued => "queued",
            InferenceStatus::Running => "running",
            InferenceStatus::Completed => "completed",
            InferenceStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Queued, Self::Running, Self::Completed, Self::Failed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// The model a request was served with: the domain's best optimae as of a chain height.
#[derive(Debug, Clone, PartialEq)]
pub struct ServedModel {
    /// The best optimae's parameters.
    pub parameters: Value,
    /// SHA-256 of their canonical JSON.
    pub parameters_hash: String,
    /// The domain's best verified performance on chain.
    pub best_performance: Option<f64>,
    /// The chain height (blocks, genesis included) the parameters were read at.
    pub chain_height: i64,
    /// The tip's hash at that height.
    pub tip_hash: String,
    /// The optimae on chain with these parameters, and the block that accepted it (`None`
    /// when it lies deeper than the search bound).
    pub optimae: Option<(String, i64)>,
}

/// One recorded request.
#[derive(Debug, Clone, PartialEq)]
pub struct InferenceRecord {
    /// The task id (the reference's Task id of the request).
    pub task_id: String,
    /// The domain.
    pub domain_id: String,
    /// The client, as it named itself.
    pub client_id: String,
    /// The client's input.
    pub input: Value,
    /// SHA-256 of the input's canonical JSON.
    pub input_hash: String,
    /// Where the request is.
    pub status: InferenceStatus,
    /// Why it failed.
    pub reason: Option<String>,
    /// The plugin's answer.
    pub result: Option<Value>,
    /// The domain's price when it was accepted, base units.
    pub price: u64,
    /// What the payment check collected, base units.
    pub amount_paid: u64,
    /// The payment voucher it came with, kept for settlement.
    pub payment: Option<Value>,
    /// The model that served it.
    pub model: Option<ServedModel>,
    /// When it was accepted.
    pub submitted_at: Timestamp,
    /// When the plugin started on it.
    pub started_at: Option<Timestamp>,
    /// When it completed or failed.
    pub finished_at: Option<Timestamp>,
    /// How long the plugin took, milliseconds.
    pub run_ms: Option<f64>,
}

impl InferenceRecord {
    /// The record as `GET /inference/{task_id}` serves it (written with DOIN's wire JSON,
    /// so that every number reaches the client to the last bit).
    pub fn to_value(&self) -> Value {
        let ts = |t: &Option<Timestamp>| t.map_or(Value::Null, |t| Value::Str(t.wire()));
        let opt = |v: &Option<Value>| v.clone().unwrap_or(Value::Null);
        let model = self.model.as_ref().map_or(Value::Null, |m| {
            Value::Object(doin_primitives::map! {
                "parameters" => m.parameters.clone(),
                "parameters_hash" => m.parameters_hash.clone(),
                "best_performance" => m.best_performance,
                "chain_height" => m.chain_height,
                "tip_hash" => m.tip_hash.clone(),
                "optimae_id" => m.optimae.as_ref().map(|o| o.0.clone()),
                "optimae_block" => m.optimae.as_ref().map(|o| o.1),
            })
        });
        Value::Object(doin_primitives::map! {
            "task_id" => self.task_id.clone(),
            "task_type" => "inference_request",
            "domain_id" => self.domain_id.clone(),
            "client_id" => self.client_id.clone(),
            "status" => self.status.as_str(),
            "detail" => self.reason.clone(),
            "result" => opt(&self.result),
            "input_hash" => self.input_hash.clone(),
            "price" => self.price,
            "amount_paid" => self.amount_paid,
            "model" => model,
            "submitted_at" => self.submitted_at.wire(),
            "started_at" => ts(&self.started_at),
            "finished_at" => ts(&self.finished_at),
            "run_ms" => self.run_ms,
        })
    }
}

/// The log's connection (one per service, behind its mutex).
pub struct InferenceLog {
    conn: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS inference_requests (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id          TEXT NOT NULL UNIQUE,
    domain_id        TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    input_json       TEXT NOT NULL,
    input_hash       TEXT NOT NULL,
    status           TEXT NOT NULL,
    reason           TEXT,
    result_json      TEXT,
    price            INTEGER NOT NULL,
    amount_paid      INTEGER NOT NULL,
    payment_json     TEXT,
    parameters_json  TEXT,
    parameters_hash  TEXT,
    best_performance REAL,
    chain_height     INTEGER,
    tip_hash         TEXT,
    optimae_id       TEXT,
    optimae_block    INTEGER,
    submitted_at     TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT,
    run_ms           REAL
);
CREATE INDEX IF NOT EXISTS inference_by_status ON inference_requests (status, seq);
";

const COLUMNS: &str = "task_id, domain_id, client_id, input_json, input_hash, status, reason, \
     result_json, price, amount_paid, payment_json, parameters_json, parameters_hash, \
     best_performance, chain_height, tip_hash, submitted_at, started_at, finished_at, run_ms, \
     optimae_id, optimae_block";

fn json_of(v: &Option<Value>) -> Option<String> {
    v.as_ref().map(to_wire_json)
}

fn value_of(text: Option<String>) -> Option<Value> {
    text.and_then(|t| parse(&t).ok())
}

fn time_of(text: Option<String>) -> Option<Timestamp> {
    text.and_then(|t| Timestamp::parse_wire(&Value::Str(t)).ok())
}

fn units(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl InferenceLog {
    /// Opens (or creates) the log at `path`.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(super::vouchers::SCHEMA)?;
        Ok(InferenceLog { conn })
    }

    /// The log's connection (the voucher book shares the file).
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// A transaction on the log: a request's record and its payment are written together.
    pub fn transaction(&mut self) -> rusqlite::Result<rusqlite::Transaction<'_>> {
        self.conn.transaction()
    }

    /// Records a newly accepted request; `false` if its task id is already recorded.
    pub fn insert(&self, r: &InferenceRecord) -> rusqlite::Result<bool> {
        insert_on(&self.conn, r)
    }

    /// Marks a request running with the model that serves it.
    pub fn start(&self, task_id: &str, model: &ServedModel, at: Timestamp) -> rusqlite::Result<()> {
        self.conn.execute(
            "UPDATE inference_requests SET status = 'running', parameters_json = ?2, \
             parameters_hash = ?3, best_performance = ?4, chain_height = ?5, tip_hash = ?6, \
             started_at = ?7, optimae_id = ?8, optimae_block = ?9 WHERE task_id = ?1",
            params![
                task_id,
                to_wire_json(&model.parameters),
                model.parameters_hash,
                model.best_performance,
                model.chain_height,
                model.tip_hash,
                at.wire(),
                model.optimae.as_ref().map(|o| o.0.clone()),
                model.optimae.as_ref().map(|o| o.1),
            ],
        )?;
        Ok(())
    }

    /// Records the outcome: the result, or the reason it failed.
    pub fn finish(
        &self,
        task_id: &str,
        outcome: &Result<Value, String>,
        at: Timestamp,
        run_ms: Option<f64>,
    ) -> rusqlite::Result<()> {
        let (status, result, reason) = match outcome {
            Ok(v) => (InferenceStatus::Completed, Some(to_wire_json(v)), None),
            Err(r) => (InferenceStatus::Failed, None, Some(r.clone())),
        };
        self.conn.execute(
            "UPDATE inference_requests SET status = ?2, result_json = ?3, reason = ?4, \
             finished_at = ?5, run_ms = ?6 WHERE task_id = ?1",
            params![task_id, status.as_str(), result, reason, at.wire(), run_ms],
        )?;
        Ok(())
    }

    /// One request's record.
    pub fn get(&self, task_id: &str) -> rusqlite::Result<Option<InferenceRecord>> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM inference_requests WHERE task_id = ?1"),
                params![task_id],
                Self::row,
            )
            .optional()
    }

    /// Requests not finished (queued or running), oldest first: what a restarted node
    /// queues again.
    pub fn unfinished(&self) -> rusqlite::Result<Vec<InferenceRecord>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM inference_requests \
             WHERE status IN ('queued', 'running') ORDER BY seq"
        ))?;
        let rows = stmt.query_map([], Self::row)?;
        rows.collect()
    }

    /// Marks a request queued again (after a restart interrupted it).
    pub fn requeue(&self, task_id: &str) -> rusqlite::Result<()> {
        self.conn.execute(
            "UPDATE inference_requests SET status = 'queued', started_at = NULL WHERE task_id = ?1",
            params![task_id],
        )?;
        Ok(())
    }

    fn row(row: &rusqlite::Row<'_>) -> rusqlite::Result<InferenceRecord> {
        let status: String = row.get(5)?;
        let parameters: Option<String> = row.get(11)?;
        let model = match value_of(parameters) {
            Some(parameters) => Some(ServedModel {
                parameters,
                parameters_hash: row.get::<_, Option<String>>(12)?.unwrap_or_default(),
                best_performance: row.get(13)?,
                chain_height: row.get::<_, Option<i64>>(14)?.unwrap_or(0),
                tip_hash: row.get::<_, Option<String>>(15)?.unwrap_or_default(),
                optimae: match (
                    row.get::<_, Option<String>>(20)?,
                    row.get::<_, Option<i64>>(21)?,
                ) {
                    (Some(id), Some(block)) => Some((id, block)),
                    _ => None,
                },
            }),
            None => None,
        };
        Ok(InferenceRecord {
            task_id: row.get(0)?,
            domain_id: row.get(1)?,
            client_id: row.get(2)?,
            input: value_of(row.get(3)?).unwrap_or(Value::Null),
            input_hash: row.get(4)?,
            status: InferenceStatus::parse(&status).unwrap_or(InferenceStatus::Failed),
            reason: row.get(6)?,
            result: value_of(row.get(7)?),
            price: units(row.get(8)?),
            amount_paid: units(row.get(9)?),
            payment: value_of(row.get(10)?),
            model,
            submitted_at: time_of(row.get(16)?).unwrap_or_else(Timestamp::now_utc),
            started_at: time_of(row.get(17)?),
            finished_at: time_of(row.get(18)?),
            run_ms: row.get(19)?,
        })
    }
}

/// Records a newly accepted request on `conn` (the log's connection or a transaction on
/// it); `false` if its task id is already recorded.
pub(super) fn insert_on(conn: &Connection, r: &InferenceRecord) -> rusqlite::Result<bool> {
    let n = conn.execute(

    &format!(
            "INSERT OR IGNORE INTO inference_requests ({COLUMNS}) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, \
             ?21, ?22)"
        ),
        params![
            r.task_id,
            r.domain_id,
            r.client_id,
            to_wire_json(&r.input),
            r.input_hash,
            r.status.as_str(),
            r.reason,
            json_of(&r.result),
            i64::try_from(r.price).unwrap_or(i64::MAX),
            i64::try_from(r.amount_paid).unwrap_or(i64::MAX),
            json_of(&r.payment),
            r.model.as_ref().map(|m| to_wire_json(&m.parameters)),
            r.model.as_ref().map(|m| m.parameters_hash.clone()),
            r.model.as_ref().and_then(|m| m.best_performance),
            r.model.as_ref().map(|m| m.chain_height),
            r.model.as_ref().map(|m| m.tip_hash.clone()),
            r.submitted_at.wire(),
            r.started_at.map(|t| t.wire()),
            r.finished_at.map(|t| t.wire()),
            r.run_ms,
            r.model.as_ref().and_then(|m| m.optimae.as_ref().map(|o| o.0.clone())),
            r.model.as_ref().and_then(|m| m.optimae.as_ref().map(|o| o.1)),
        ],
    )?;
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::map;

    fn record(id: &str) -> InferenceRecord {
        let input = Value::Object(map! { "x" => vec![Value::Float(0.5)] });
        InferenceRecord {
            task_id: id.into(),
            domain_id: "d".into(),
            client_id: "c".into(),
            input_hash: doin_primitives::hash::content_id(&input),
            input,
            status: InferenceStatus::Queued,
            reason: None,
            result: None,
            price: 7,
            amount_paid: 5,
            payment: Some(Value::Object(map! { "nonce" => 3i64 })),
            model: None,
            submitted_at: Timestamp::from_unix_micros(1_767_225_600_000_000),
            started_at: None,
            finished_at: None,
            run_ms: None,
        }
    }

    #[test]
    fn a_request_is_recorded_through_its_life_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let log = InferenceLog::open(&path).unwrap();
        assert!(log.insert(&record("a")).unwrap());
        assert!(!log.insert(&record("a")).unwrap(), "ids are unique");
        assert!(log.insert(&record("b")).unwrap());
        let model = ServedModel {
            parameters: Value::Object(map! { "x" => vec![Value::Float(1.0)] }),
            parameters_hash: "h".into(),
            best_performance: Some(-0.5),
            chain_height: 4,
            tip_hash: "tip".into(),
            optimae: Some(("o".into(), 3)),
        };
        let t = Timestamp::from_unix_micros(1_767_225_601_000_000);
        log.start("a", &model, t).unwrap();
        let out = Value::Object(map! { "value" => -1.25 });
        log.finish("a", &Ok(out.clone()), t, Some(2.5)).unwrap();
        log.start("b", &model, t).unwrap();
        drop(log);

        let log = InferenceLog::open(&path).unwrap();
        let a = log.get("a").unwrap().expect("recorded");
        assert_eq!(a.status, InferenceStatus::Completed);
        assert_eq!(a.result, Some(out));
        assert_eq!(a.model, Some(model));
        assert_eq!((a.price, a.amount_paid), (7, 5));
        assert_eq!(a.payment, record("a").payment);
        assert_eq!(a.input, record("a").input);
        assert_eq!(a.submitted_at, record("a").submitted_at);
        let unfinished: Vec<_> = log.unfinished().unwrap();
        assert_eq!(unfinished.len(), 1);
        assert_eq!(unfinished[0].status, InferenceStatus::Running);
        log.requeue("b").unwrap();
        log.finish("b", &Err("no model".into()), t, None).unwrap();
        let b = log.get("b").unwrap().expect("recorded");
        assert_eq!(b.status, InferenceStatus::Failed);
        assert_eq!(b.reason.as_deref(), Some("no model"));
        assert!(log.unfinished().unwrap().is_empty());
        assert!(log.get("zz").unwrap().is_none());
    }
}
