//! Task: a unit of work in a domain's queue (verifying an optimae, serving an inference).
//!
//! The id covers `{"created_at", "domain_id", "parameters", "requester_id", "task_type"}`,
//! as the reference computes it; the optimae id, reported performance and metric evidence
//! are outside it (two tasks differing only there share an id).

use crate::cjson::{write_map, write_str};
use crate::fields::{Fields, ModelError};
use crate::models::WireModel;
use crate::timestamp::Timestamp;
use crate::value::{Map, Value};

/// The conventional priority of a verification task (lower is served first).
pub const VERIFICATION_PRIORITY: i64 = 0;
/// The default priority, used for inference requests.
pub const DEFAULT_PRIORITY: i64 = 10;

/// What a task asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskType {
    /// Re-evaluate an optimae for its quorum.
    OptimaeVerification,
    /// Serve an inference request.
    InferenceRequest,
}

impl TaskType {
    /// Both values.
    pub const ALL: [TaskType; 2] = [Self::OptimaeVerification, Self::InferenceRequest];

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OptimaeVerification => "optimae_verification",
            Self::InferenceRequest => "inference_request",
        }
    }

    /// Parses a wire value.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The conventional priority of this kind of task.
    pub fn default_priority(self) -> i64 {
        match self {
            Self::OptimaeVerification => VERIFICATION_PRIORITY,
            Self::InferenceRequest => DEFAULT_PRIORITY,
        }
    }
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    /// Waiting for an evaluator.
    Pending,
    /// An evaluator took it.
    Claimed,
    /// Done, with a result.
    Completed,
    /// Given up.
    Failed,
}

impl TaskStatus {
    /// All four values.
    pub const ALL: [TaskStatus; 4] = [Self::Pending, Self::Claimed, Self::Completed, Self::Failed];

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Claimed => "claimed",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    /// Parses a wire value.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// A task, in the reference's field order.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// The id as received or computed (see [`Task::compute_id`]).
    pub id: String,
    /// What is asked.
    pub task_type: TaskType,
    /// The domain.
    pub domain_id: String,
    /// Where it is in its life.
    pub status: TaskStatus,
    /// The peer that asked.
    pub requester_id: String,
    /// The evaluator that claimed it.
    pub evaluator_id: Option<String>,
    /// The input (free-form; for verification, the optimae's parameters).
    pub parameters: Map,
    /// The optimae being verified.
    pub optimae_id: Option<String>,
    /// The performance the optimizer reported.
    pub reported_performance: Option<f64>,
    /// The optimizer's metrics, for comparison.
    pub metric_evidence: Map,
    /// The evaluator's result.
    pub result: Option<Map>,
    /// The performance the evaluator measured.
    pub verified_performance: Option<f64>,
    /// When it was created (covered by the id).
    pub created_at: Timestamp,
    /// When it was claimed.
    pub claimed_at: Option<Timestamp>,
    /// When it was completed or failed.
    pub completed_at: Option<Timestamp>,
    /// Queue priority: lower is served first.
    pub priority: i64,
}

impl Task {
    /// A new pending task with its id computed and the type's conventional priority.
    pub fn new(
        task_type: TaskType,
        domain_id: impl Into<String>,
        requester_id: impl Into<String>,
        parameters: Map,
        created_at: Timestamp,
    ) -> Self {
        let mut t = Task {
            id: String::new(),
            task_type,
            domain_id: domain_id.into(),
            status: TaskStatus::Pending,
            requester_id: requester_id.into(),
            evaluator_id: None,
            parameters,
            optimae_id: None,
            reported_performance: None,
            metric_evidence: Map::new(),
            result: None,
            verified_performance: None,
            created_at,
            claimed_at: None,
            completed_at: None,
            priority: task_type.default_priority(),
        };
        t.id = t.compute_id();
        t
    }

    /// The CJSON preimage of the id.
    pub fn id_preimage(&self) -> String {
        let mut s = String::with_capacity(256);
        self.write_id_preimage(&mut s);
        s
    }

    /// Appends the preimage
    /// `{"created_at", "domain_id", "parameters", "requester_id", "task_type"}` to `s`.
    pub fn write_id_preimage(&self, s: &mut String) {
        s.push_str("{\"created_at\": \"");
        self.created_at.write_iso(s, false);
        s.push_str("\", \"domain_id\": ");
        write_str(&self.domain_id, s);
        s.push_str(", \"parameters\": ");
        write_map(&self.parameters, s);
        s.push_str(", \"requester_id\": ");
        write_str(&self.requester_id, s);
        s.push_str(", \"task_type\": \"");
        s.push_str(self.task_type.as_str());
        s.push_str("\"}");
    }

    /// The reference id: `sha256_hex(CJSON(preimage))`.
    pub fn compute_id(&self) -> String {
        crate::hash::sha256_hex_of(|buf| self.write_id_preimage(buf))
    }

    /// Whether the carried id matches the content.
    pub fn id_is_valid(&self) -> bool {
        self.id == self.compute_id()
    }
}

fn opt_ts(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| Value::Str(t.wire()))
}

impl WireModel for Task {
    fn from_value(v: &Value) -> Result<Self, ModelError> {
        let f = Fields::new("Task", v)?;
        let mut t = Task {
            id: f.str_or("id", "")?,
            task_type: f.enum_of("task_type", TaskType::parse)?,
            domain_id: f.str("domain_id")?,
            status: match f.get("status") {
                None => TaskStatus::Pending,
                Some(_) => f.enum_of("status", TaskStatus::parse)?,
            },
            requester_id: f.str("requester_id")?,
            evaluator_id: f.opt_str("evaluator_id")?,
            parameters: f.map_or_empty("parameters")?,
            optimae_id: f.opt_str("optimae_id")?,
            reported_performance: f.opt_f64("reported_performance")?,
            metric_evidence: f.map_or_empty("metric_evidence")?,
            result: f.opt_map("result")?,
            verified_performance: f.opt_f64("verified_performance")?,
            created_at: f.timestamp("created_at")?,
            claimed_at: f.opt_timestamp("claimed_at")?,
            completed_at: f.opt_timestamp("completed_at")?,
            priority: f.i64_or("priority", DEFAULT_PRIORITY)?,
        };
        if t.id.is_empty() {
            t.id = t.compute_id();
        }
        Ok(t)
    }

    fn to_value(&self) -> Value {
        Value::Object(crate::map! {
            "id" => self.id.clone(),
            "task_type" => self.task_type.as_str(),
            "domain_id" => self.domain_id.clone(),
            "status" => self.status.as_str(),
            "requester_id" => self.requester_id.clone(),
            "evaluator_id" => self.evaluator_id.clone(),
            "parameters" => self.parameters.clone(),
            "optimae_id" => self.optimae_id.clone(),
            "reported_performance" => self.reported_performance,
            "metric_evidence" => self.metric_evidence.clone(),
            "result" => self.result.clone(),
            "verified_performance" => self.verified_performance,
            "created_at" => self.created_at.wire(),
            "claimed_at" => opt_ts(self.claimed_at),
            "completed_at" => opt_ts(self.completed_at),
            "priority" => self.priority,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example() {
        let ts = Timestamp::parse_str("2026-01-01T00:00:00Z").unwrap_or(Timestamp::EPOCH);
        let t = Task::new(
            TaskType::OptimaeVerification,
            "d1",
            "p1",
            crate::map! {"lr" => 0.001},
            ts,
        );
        assert_eq!(
            t.id,
            "8b82098af330f23f3ab609fe0ecd72e15add024768ea3abe4641514ecb2e7a50"
        );
        assert_eq!(t.priority, 0);
    }
}
