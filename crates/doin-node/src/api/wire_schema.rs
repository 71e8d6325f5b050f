//! The OpenAPI schemas of the wire models the API serves as they are stored: blocks and
//! tasks go out as their wire JSON (`doin_primitives`' exact encoding, byte for byte what
//! the reference hashes), so these types only describe that JSON for the document; the
//! contract test checks live answers against them.
//!
//! `doin-primitives` stays free of HTTP and documentation concerns, hence the mirror here.

// Documentation only: the JSON comes from `doin_primitives::models::WireModel`.
#![allow(dead_code)]

use serde::Serialize;
use utoipa::ToSchema;

/// A block as the reference serves it, with DOIN's extension keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct Block {
    /// The header, which the block hash covers.
    pub header: BlockHeader,
    /// The transactions, in merkle order.
    pub transactions: Vec<Transaction>,
    /// SHA-256 of the canonical header, lowercase hex.
    pub hash: String,
    /// The coinbase (DOIN; derived from the chain, not covered by the hash).
    #[schema(value_type = Option<Object>)]
    pub coinbase: Option<serde_json::Value>,
    /// The generator's public key, PEM (DOIN).
    pub public_key: Option<String>,
    /// The generator's signature over the hash (DOIN).
    pub signature: Option<String>,
}

/// The 7-field header.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlockHeader {
    /// Height of the block.
    pub index: i64,
    /// Hash of the previous block.
    pub previous_hash: String,
    /// ISO 8601 UTC timestamp.
    pub timestamp: String,
    /// Merkle root of the transaction ids.
    pub merkle_root: String,
    /// Peer id of the generator (`genesis` for the genesis block).
    pub generator_id: String,
    /// Sum of the accepted, weighted increments the block carries.
    pub weighted_performance_sum: f64,
    /// The threshold the block reached.
    pub threshold: f64,
}

/// A transaction in a block.
#[derive(Debug, Serialize, ToSchema)]
pub struct Transaction {
    /// SHA-256 of the canonical transaction.
    pub id: String,
    /// `optimae_accepted`, `optimae_rejected`, `candidate_evaluated`, …
    pub tx_type: String,
    /// The domain it concerns.
    pub domain_id: String,
    /// The peer it concerns.
    pub peer_id: String,
    /// Type-specific content.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// ISO 8601 UTC timestamp.
    pub timestamp: String,
}

/// A task in the queue (`/tasks/*`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Task {
    /// Task id.
    pub id: String,
    /// `optimae_verification`, `inference_request`, …
    pub task_type: String,
    /// The domain.
    pub domain_id: String,
    /// `pending`, `claimed`, `completed`, …
    pub status: String,
    /// Who asked for it.
    pub requester_id: String,
    /// Who claimed it.
    pub evaluator_id: Option<String>,
    /// The parameters to evaluate.
    #[schema(value_type = Object)]
    pub parameters: serde_json::Value,
    /// The optimae it verifies.
    pub optimae_id: Option<String>,
    /// The optimizer's figure.
    pub reported_performance: Option<f64>,
    /// The optimizer's evidence.
    #[schema(value_type = Object)]
    pub metric_evidence: serde_json::Value,
    /// The evaluator's result.
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    /// The evaluator's figure.
    pub verified_performance: Option<f64>,
    /// When it was queued.
    pub created_at: String,
    /// When it was claimed.
    pub claimed_at: Option<String>,
    /// When it was completed.
    pub completed_at: Option<String>,
    /// Higher goes first.
    pub priority: i64,
}
