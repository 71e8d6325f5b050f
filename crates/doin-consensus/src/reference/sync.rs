//! The reference node's block sync, as pure functions: how a reference node parses a block
//! it fetched from a peer (`GET /chain/blocks`) with its models, appends it to its chain,
//! and what its derived state then reads from the block's transactions.
//!
//! * **Models** ([`parse_block`]): the reference's pydantic `Block` (`header`,
//!   `transactions` default `[]`, `hash` default: the header hash), `BlockHeader` (7
//!   typed fields) and `Transaction` (`tx_type` one of its 11 values, `domain_id` and
//!   `peer_id` strings, `payload` an object, `timestamp` a datetime, `id` default: the
//!   content id). Unknown keys are dropped, as pydantic does.
//! * **Append** ([`ReferenceFollower::append`]): its chain store's rule. The index is the
//!   height, `previous_hash` the tip's hash, `merkle_root ==
//!   compute_merkle_root([tx.id for tx in transactions])` over the *claimed* ids, the
//!   claimed hash equals the recomputed header hash, and no transaction id is already in
//!   the chain (its `transactions.tx_id` primary key). One check is stricter than the
//!   reference: a claimed transaction id must be the reference's id of its content, so that
//!   a reference node computing the id itself would agree.
//! * **Derived state** ([`ReferenceDerived`]): what `ReputationTracker.rebuild_from_chain`
//!   counts per peer (`optimae_accepted`, `optimae_rejected`, `task_completed`), what
//!   `ForkChoiceRule.score_chain` sums (|`effective_increment`| and the count of
//!   `optimae_accepted`), and the rows `collect_chain_metrics` reads.
//!
//! A reference node serves the blocks it stores as its models dump them
//! ([`ReferenceBlock::to_value`]): the same header, transactions and hash, without any key
//! its models do not know.

use std::collections::{BTreeMap, HashSet};

use doin_primitives::merkle::merkle_root;
use doin_primitives::models::{BlockHeader, Transaction, TransactionType, GENESIS_HASH};
use doin_primitives::timestamp::Timestamp;
use doin_primitives::value::{Map, Value};

/// Why a reference node refuses a block in sync.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReferenceSyncError {
    /// The block does not parse with the reference's models (a pydantic validation error).
    #[error("reference models refuse {field}: {reason}")]
    Model {
        /// The field, as a path (`header.index`, `transactions[2].tx_type`).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The block's index is not the follower's height.
    #[error("block index {got} is not the height {expected}")]
    WrongIndex {
        /// The follower's height.
        expected: i64,
        /// The block's index.
        got: i64,
    },
    /// The block's `previous_hash` is not the tip's hash.
    #[error("previous_hash {got} is not the tip {expected}")]
    WrongPrevious {
        /// The tip's hash.
        expected: String,
        /// The block's `previous_hash`.
        got: String,
    },
    /// The merkle root is not the root of the claimed transaction ids.
    #[error("merkle_root {claimed} is not the root of the transaction ids ({computed})")]
    MerkleMismatch {
        /// The header's root.
        claimed: String,
        /// The root of the claimed ids.
        computed: String,
    },
    /// The claimed block hash is not the header's hash.
    #[error("block hash {claimed} is not the header's hash ({computed})")]
    HashMismatch {
        /// The claimed hash.
        claimed: String,
        /// The header's hash.
        computed: String,
    },
    /// A transaction id is already in the chain (or twice in the block).
    #[error("transaction id {0} is already stored (tx_id primary key)")]
    DuplicateTxId(String),
    /// A claimed transaction id is not the reference id of its content.
    #[error("transaction {index} claims id {claimed}, its content gives {computed}")]
    TxIdNotReference {
        /// Position in the block.
        index: usize,
        /// The claimed id.
        claimed: String,
        /// The reference id of its content.
        computed: String,
    },
}

/// A block as the reference's models hold it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceBlock {
    /// The header.
    pub header: BlockHeader,
    /// The transactions (no seal: the reference's model has none).
    pub transactions: Vec<Transaction>,
    /// The claimed (or computed) hash.
    pub hash: String,
}

fn model_err(field: impl Into<String>, reason: impl Into<String>) -> ReferenceSyncError {
    ReferenceSyncError::Model {
        field: field.into(),
        reason: reason.into(),
    }
}

struct Obj<'a> {
    path: String,
    map: &'a Map,
}

impl<'a> Obj<'a> {
    fn new(path: &str, v: &'a Value) -> Result<Self, ReferenceSyncError> {
        match v {
            Value::Object(map) => Ok(Obj {
                path: path.to_owned(),
                map,
            }),
            other => Err(model_err(
                path,
                format!("expected an object, got {}", other.type_name()),
            )),
        }
    }

    fn at(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn get(&self, key: &str) -> Result<&'a Value, ReferenceSyncError> {
        self.map
            .get(key)
            .ok_or_else(|| model_err(self.at(key), "field required"))
    }

    fn str(&self, key: &str) -> Result<String, ReferenceSyncError> {
        match self.get(key)? {
            Value::Str(s) => Ok(s.clone()),
            other => Err(model_err(
                self.at(key),
                format!("expected a string, got {}", other.type_name()),
            )),
        }
    }

    fn str_or_empty(&self, key: &str) -> Result<String, ReferenceSyncError> {
        if self.map.contains_key(key) {
            self.str(key)
        } else {
            Ok(String::new())
        }
    }

    fn int(&self, key: &str) -> Result<i64, ReferenceSyncError> {
        match self.get(key)? {
            Value::Int(i) => Ok(*i),
            other => Err(model_err(
                self.at(key),
                format!("expected an integer, got {}", other.type_name()),
            )),
        }
    }

    fn float(&self, key: &str) -> Result<f64, ReferenceSyncError> {
        match self.get(key)? {
            Value::Float(f) => Ok(*f),
            Value::Int(i) => Ok(*i as f64),
            other => Err(model_err(
                self.at(key),
                format!("expected a number, got {}", other.type_name()),
            )),
        }
    }

    fn datetime(&self, key: &str) -> Result<Timestamp, ReferenceSyncError> {
        Timestamp::parse_wire(self.get(key)?).map_err(|e| model_err(self.at(key), e.to_string()))
    }
}

fn parse_tx(path: &str, v: &Value) -> Result<Transaction, ReferenceSyncError> {
    let o = Obj::new(path, v)?;
    let type_name = o.str("tx_type")?;
    let tx_type = TransactionType::parse(&type_name).ok_or_else(|| {
        model_err(
            o.at("tx_type"),
            format!("{type_name:?} is not one of the reference's 11 transaction types"),
        )
    })?;
    let payload = match o.map.get("payload") {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(other) => {
            return Err(model_err(
                o.at("payload"),
                format!("expected an object, got {}", other.type_name()),
            ))
        }
    };
    let mut tx = Transaction::new(
        tx_type,
        o.str("domain_id")?,
        o.str("peer_id")?,
        payload,
        o.datetime("timestamp")?,
    );
    let claimed = o.str_or_empty("id")?;
    if !claimed.is_empty() {
        tx.id = claimed;
    }
    Ok(tx)
}

/// Parses a block's wire object with the reference's models (see the module doc).
pub fn parse_block(v: &Value) -> Result<ReferenceBlock, ReferenceSyncError> {
    let b = Obj::new("", v)?;
    let h = Obj::new("header", b.get("header")?)?;
    let header = BlockHeader {
        index: h.int("index")?,
        previous_hash: h.str("previous_hash")?,
        timestamp: h.datetime("timestamp")?,
        merkle_root: h.str("merkle_root")?,
        generator_id: h.str("generator_id")?,
        weighted_performance_sum: h.float("weighted_performance_sum")?,
        threshold: h.float("threshold")?,
    };
    let transactions = match b.map.get("transactions") {
        None => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, t)| parse_tx(&format!("transactions[{i}]"), t))
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(model_err(
                "transactions",
                format!("expected a list, got {}", other.type_name()),
            ))
        }
    };
    let mut hash = b.str_or_empty("hash")?;
    if hash.is_empty() {
        hash = header.compute_hash();
    }
    Ok(ReferenceBlock {
        header,
        transactions,
        hash,
    })
}

impl ReferenceBlock {
    /// The block as a reference node serves it: its models' dump (header, transactions
    /// with `id, tx_type, domain_id, peer_id, payload, timestamp`, hash), nothing else.
    pub fn to_value(&self) -> Value {
        let h = &self.header;
        let txs: Vec<Value> = self
            .transactions
            .iter()
            .map(|t| {
                Value::Object(doin_primitives::map! {
                    "id" => t.id.clone(),
                    "tx_type" => t.tx_type.as_str(),
                    "domain_id" => t.domain_id.clone(),
                    "peer_id" => t.peer_id.clone(),
                    "payload" => t.payload.clone(),
                    "timestamp" => t.timestamp.wire(),
                })
            })
            .collect();
        Value::Object(doin_primitives::map! {
            "header" => Value::Object(doin_primitives::map! {
                "index" => h.index,
                "previous_hash" => h.previous_hash.clone(),
                "timestamp" => h.timestamp.wire(),
                "merkle_root" => h.merkle_root.clone(),
                "generator_id" => h.generator_id.clone(),
                "weighted_performance_sum" => h.weighted_performance_sum,
                "threshold" => h.threshold,
            }),
            "transactions" => txs,
            "hash" => self.hash.clone(),
        })
    }
}

/// One row of the reference's `collect_chain_metrics`: the keys it reads from an
/// `optimae_accepted` payload (`None` where the payload lacks the key).
#[derive(Debug, Clone, PartialEq)]
pub struct ChainMetricsRow {
    /// The block's height.
    pub block_height: i64,
    /// The transaction's domain.
    pub domain_id: String,
    /// The transaction's peer (the optimizer).
    pub optimizer_id: String,
    /// `optimae_id`.
    pub optimae_id: Option<Value>,
    /// `experiment_id` (the reference reads the metrics only when it is present).
    pub experiment_id: Option<Value>,
    /// `round_number`.
    pub round_number: Option<Value>,
    /// `time_to_this_result_seconds`.
    pub time_to_this_result_seconds: Option<Value>,
    /// `optimization_config_hash`.
    pub optimization_config_hash: Option<Value>,
    /// `data_hash`.
    pub data_hash: Option<Value>,
    /// `verified_performance`.
    pub verified_performance: Option<Value>,
    /// `effective_increment`.
    pub effective_increment: Option<Value>,
    /// `quorum_agree_fraction`.
    pub quorum_agree_fraction: Option<Value>,
}

/// What the reference's derived state reads from the chain it followed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReferenceDerived {
    /// `optimae_accepted` transactions per peer (reputation +1 each).
    pub accepted: BTreeMap<String, u64>,
    /// `optimae_rejected` transactions per peer (reputation −3 each).
    pub rejected: BTreeMap<String, u64>,
    /// `task_completed` transactions per peer (evaluations).
    pub evaluations: BTreeMap<String, u64>,
    /// Fork choice: Σ |`effective_increment`| over `optimae_accepted` transactions.
    pub cumulative_increment: f64,
    /// Fork choice: number of `optimae_accepted` transactions.
    pub accepted_count: u64,
    /// Chain metrics rows, in chain order.
    pub chain_metrics: Vec<ChainMetricsRow>,
    /// Transactions stored, per `tx_type` value.
    pub stored: BTreeMap<&'static str, u64>,
}

impl ReferenceDerived {
    fn read(&mut self, block: &ReferenceBlock) {
        for tx in &block.transactions {
            *self.stored.entry(tx.tx_type.as_str()).or_default() += 1;
            let p = &tx.payload;
            let count = |m: &mut BTreeMap<String, u64>| {
                if !tx.peer_id.is_empty() {
                    *m.entry(tx.peer_id.clone()).or_default() += 1;
                }
            };
            match tx.tx_type {
                TransactionType::OptimaeAccepted => {
                    count(&mut self.accepted);
                    self.accepted_count += 1;
                    let eff = p
                        .get("effective_increment")
                        .and_then(Value::as_f64)
                        .unwrap_or(0.0);
                    self.cumulative_increment += eff.abs();
                    let has_metrics = p.contains_key("experiment_id");
                    let metric = |k: &str| if has_metrics { p.get(k).cloned() } else { None };
                    self.chain_metrics.push(ChainMetricsRow {
                        block_height: block.header.index,
                        domain_id: tx.domain_id.clone(),
                        optimizer_id: tx.peer_id.clone(),
                        optimae_id: p.get("optimae_id").cloned(),
                        experiment_id: metric("experiment_id"),
                        round_number: metric("round_number"),
                        time_to_this_result_seconds: metric("time_to_this_result_seconds"),
                        optimization_config_hash: metric("optimization_config_hash"),
                        data_hash: metric("data_hash"),
                        verified_performance: p.get("verified_performance").cloned(),
                        effective_increment: p.get("effective_increment").cloned(),
                        quorum_agree_fraction: p.get("quorum_agree_fraction").cloned(),
                    });
                }
                TransactionType::OptimaeRejected => count(&mut self.rejected),
                TransactionType::TaskCompleted => count(&mut self.evaluations),
                _ => {}
            }
        }
    }
}

/// A reference node following a chain from its genesis: its height, tip, stored
/// transaction ids and derived state.
#[derive(Debug, Clone)]
pub struct ReferenceFollower {
    height: i64,
    tip_hash: String,
    tx_ids: HashSet<String>,
    derived: ReferenceDerived,
}

impl Default for ReferenceFollower {
    fn default() -> Self {
        Self::new()
    }
}

impl ReferenceFollower {
    /// A fresh reference node: the genesis block stored, height 1.
    pub fn new() -> Self {
        ReferenceFollower {
            height: 1,
            tip_hash: GENESIS_HASH.to_owned(),
            tx_ids: HashSet::new(),
            derived: ReferenceDerived::default(),
        }
    }

    /// Number of blocks stored (genesis included): the next index it accepts.
    pub fn height(&self) -> i64 {
        self.height
    }

    /// The hash of the last block stored.
    pub fn tip_hash(&self) -> &str {
        &self.tip_hash
    }

    /// What its derived state read so far.
    pub fn derived(&self) -> &ReferenceDerived {
        &self.derived
    }

    /// Parses and appends a block's wire object as the reference's sync does (see the
    /// module doc); on error nothing changes.
    pub fn append(&mut self, v: &Value) -> Result<ReferenceBlock, ReferenceSyncError> {
        let block = parse_block(v)?;
        let h = &block.header;
        if h.index != self.height {
            return Err(ReferenceSyncError::WrongIndex {
                expected: self.height,
                got: h.index,
            });
        }
        if h.previous_hash != self.tip_hash {
            return Err(ReferenceSyncError::WrongPrevious {
                expected: self.tip_hash.clone(),
                got: h.previous_hash.clone(),
            });
        }
        let ids: Vec<&str> = block.transactions.iter().map(|t| t.id.as_str()).collect();
        let computed = merkle_root(&ids);
        if computed != h.merkle_root {
            return Err(ReferenceSyncError::MerkleMismatch {
                claimed: h.merkle_root.clone(),
                computed,
            });
        }
        let computed = h.compute_hash();
        if computed != block.hash {
            return Err(ReferenceSyncError::HashMismatch {
                claimed: block.hash.clone(),
                computed,
            });
        }
        let mut seen = HashSet::new();
        for (index, tx) in block.transactions.iter().enumerate() {
            let computed = tx.compute_id();
            if computed != tx.id {
                return Err(ReferenceSyncError::TxIdNotReference {
                    index,
                    claimed: tx.id.clone(),
                    computed,
                });
            }
            if self.tx_ids.contains(&tx.id) || !seen.insert(tx.id.as_str()) {
                return Err(ReferenceSyncError::DuplicateTxId(tx.id.clone()));
            }
        }
        self.tx_ids
            .extend(block.transactions.iter().map(|t| t.id.clone()));
        self.height += 1;
        self.tip_hash = block.hash.clone();
        self.derived.read(&block);
        Ok(block)
    }
}
