//! Transaction and its 11 types.

use crate::cjson::{write_map, write_str};
use crate::fields::{Fields, ModelError};
use crate::models::WireModel;
use crate::seal::Seal;
use crate::timestamp::Timestamp;
use crate::value::{Map, Value};

/// The reference's transaction types (wire value in `as_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionType {
    /// An optimae was announced.
    OptimaeAnnounced,
    /// An optimae was accepted by its quorum.
    OptimaeAccepted,
    /// An optimae was rejected by its quorum.
    OptimaeRejected,
    /// A task was created.
    TaskCreated,
    /// A task was claimed.
    TaskClaimed,
    /// A task was completed.
    TaskCompleted,
    /// A task failed.
    TaskFailed,
    /// An inference evaluation was served.
    EvaluationServed,
    /// A domain was registered.
    DomainRegistered,
    /// A domain was updated.
    DomainUpdated,
    /// A candidate was evaluated.
    CandidateEvaluated,
}

impl TransactionType {
    /// All 11 values.
    pub const ALL: [TransactionType; 11] = [
        Self::OptimaeAnnounced,
        Self::OptimaeAccepted,
        Self::OptimaeRejected,
        Self::TaskCreated,
        Self::TaskClaimed,
        Self::TaskCompleted,
        Self::TaskFailed,
        Self::EvaluationServed,
        Self::DomainRegistered,
        Self::DomainUpdated,
        Self::CandidateEvaluated,
    ];

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OptimaeAnnounced => "optimae_announced",
            Self::OptimaeAccepted => "optimae_accepted",
            Self::OptimaeRejected => "optimae_rejected",
            Self::TaskCreated => "task_created",
            Self::TaskClaimed => "task_claimed",
            Self::TaskCompleted => "task_completed",
            Self::TaskFailed => "task_failed",
            Self::EvaluationServed => "evaluation_served",
            Self::DomainRegistered => "domain_registered",
            Self::DomainUpdated => "domain_updated",
            Self::CandidateEvaluated => "candidate_evaluated",
        }
    }

    /// Parses a wire value.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// A transaction: the unit a block's merkle root commits to.
#[derive(Debug, Clone, PartialEq)]
pub struct Transaction {
    /// The id as received or computed (see [`Transaction::compute_id`]).
    pub id: String,
    /// The type.
    pub tx_type: TransactionType,
    /// The domain it concerns.
    pub domain_id: String,
    /// The peer it is from.
    pub peer_id: String,
    /// Free-form payload (int and float kept apart).
    pub payload: Map,
    /// When it was made.
    pub timestamp: Timestamp,
    /// The signer's key and signature over the id (DOIN extension).
    pub seal: Option<Seal>,
}

impl Transaction {
    /// A new transaction with its id computed.
    pub fn new(
        tx_type: TransactionType,
        domain_id: impl Into<String>,
        peer_id: impl Into<String>,
        payload: Map,
        timestamp: Timestamp,
    ) -> Self {
        let mut tx = Transaction {
            id: String::new(),
            tx_type,
            domain_id: domain_id.into(),
            peer_id: peer_id.into(),
            payload,
            timestamp,
            seal: None,
        };
        tx.id = tx.compute_id();
        tx
    }

    /// The CJSON preimage of the id:
    /// `{"domain_id", "payload", "peer_id", "timestamp", "tx_type"}`.
    pub fn id_preimage(&self) -> String {
        let mut s = String::with_capacity(256);
        self.write_id_preimage(&mut s);
        s
    }

    /// Appends the preimage to `s`.
    pub fn write_id_preimage(&self, s: &mut String) {
        s.push_str("{\"domain_id\": ");
        write_str(&self.domain_id, s);
        s.push_str(", \"payload\": ");
        write_map(&self.payload, s);
        s.push_str(", \"peer_id\": ");
        write_str(&self.peer_id, s);
        s.push_str(", \"timestamp\": \"");
        self.timestamp.write_iso(s, false);
        s.push_str("\", \"tx_type\": \"");
        s.push_str(self.tx_type.as_str());
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

impl WireModel for Transaction {
    fn from_value(v: &Value) -> Result<Self, ModelError> {
        let f = Fields::new("Transaction", v)?;
        let mut tx = Transaction {
            id: f.str_or("id", "")?,
            tx_type: f.enum_of("tx_type", TransactionType::parse)?,
            domain_id: f.str("domain_id")?,
            peer_id: f.str("peer_id")?,
            payload: f.map_or_empty("payload")?,
            timestamp: f.timestamp("timestamp")?,
            seal: Seal::read(&f)?,
        };
        if tx.id.is_empty() {
            tx.id = tx.compute_id();
        }
        Ok(tx)
    }

    fn to_value(&self) -> Value {
        let mut m = crate::map! {
            "id" => self.id.clone(),
            "tx_type" => self.tx_type.as_str(),
            "domain_id" => self.domain_id.clone(),
            "peer_id" => self.peer_id.clone(),
            "payload" => self.payload.clone(),
            "timestamp" => self.timestamp.wire(),
        };
        if let Some(seal) = &self.seal {
            seal.write(&mut m);
        }
        Value::Object(m)
    }
}
