//! BlockHeader and Block: the 7-field header hash and the reference's merkle root over the
//! transaction ids. DOIN's extensions ride in the transaction list
//! ([`super::block_layout`]).

use std::collections::HashSet;

use crate::cjson::{write_float, write_int, write_str};
use crate::fields::{Fields, ModelError};
use crate::merkle::{merkle_root, EMPTY_ROOT};
use crate::models::transfer::{Transfer, TRANSFERS_KEY};
#[cfg(test)]
use crate::models::TransactionType;
use crate::models::{Transaction, WireModel};
use crate::seal::Seal;
use crate::timestamp::Timestamp;
use crate::value::{Map, Value};

/// Top-level block keys that are not extensions.
const BLOCK_CORE_FIELDS: [&str; 5] = [
    "header",
    "transactions",
    "hash",
    crate::seal::PUBLIC_KEY_FIELD,
    crate::seal::SIGNATURE_FIELD,
];

/// The hash of the reference's genesis block.
pub const GENESIS_HASH: &str = "4e19257e8941caec2ec6a4d581a981a533ab5728c11e58c3d13040049e3cd6d5";

/// A block header: the seven fields the block hash covers.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockHeader {
    /// Height; genesis is 0.
    pub index: i64,
    /// Hash of the parent block.
    pub previous_hash: String,
    /// When the block was made.
    pub timestamp: Timestamp,
    /// Merkle root over the transaction ids.
    pub merkle_root: String,
    /// The peer that made the block.
    pub generator_id: String,
    /// Sum of the weighted increments the block carries.
    pub weighted_performance_sum: f64,
    /// The threshold the sum had to reach.
    pub threshold: f64,
}

impl BlockHeader {
    /// The CJSON preimage of the block hash (keys in sorted order).
    pub fn hash_preimage(&self) -> String {
        let mut s = String::with_capacity(256);
        self.write_hash_preimage(&mut s);
        s
    }

    /// Appends the preimage to `s`.
    pub fn write_hash_preimage(&self, s: &mut String) {
        s.push_str("{\"generator_id\": ");
        write_str(&self.generator_id, s);
        s.push_str(", \"index\": ");
        write_int(self.index, s);
        s.push_str(", \"merkle_root\": ");
        write_str(&self.merkle_root, s);
        s.push_str(", \"previous_hash\": ");
        write_str(&self.previous_hash, s);
        s.push_str(", \"threshold\": ");
        write_float(self.threshold, s);
        s.push_str(", \"timestamp\": \"");
        self.timestamp.write_iso(s, false);
        s.push_str("\", \"weighted_performance_sum\": ");
        write_float(self.weighted_performance_sum, s);
        s.push('}');
    }

    /// The block hash.
    pub fn compute_hash(&self) -> String {
        crate::hash::sha256_hex_of(|buf| self.write_hash_preimage(buf))
    }

    fn read(v: &Value) -> Result<Self, ModelError> {
        let f = Fields::new("BlockHeader", v)?;
        Ok(BlockHeader {
            index: f.i64("index")?,
            previous_hash: f.str("previous_hash")?,
            timestamp: f.timestamp("timestamp")?,
            merkle_root: f.str("merkle_root")?,
            generator_id: f.str("generator_id")?,
            weighted_performance_sum: f.f64("weighted_performance_sum")?,
            threshold: f.f64("threshold")?,
        })
    }

    fn to_value(&self) -> Value {
        Value::Object(crate::map! {
            "index" => self.index,
            "previous_hash" => self.previous_hash.clone(),
            "timestamp" => self.timestamp.wire(),
            "merkle_root" => self.merkle_root.clone(),
            "generator_id" => self.generator_id.clone(),
            "weighted_performance_sum" => self.weighted_performance_sum,
            "threshold" => self.threshold,
        })
    }
}

/// Why a block's content does not match its claims.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The claimed hash is not the hash of the header.
    #[error("block hash {claimed} does not match its header (computed {computed})")]
    HashMismatch {
        /// Hash as received.
        claimed: String,
        /// Hash recomputed from the header.
        computed: String,
    },
    /// A transaction's claimed id is not the id of its content.
    #[error("transaction {index} claims id {claimed} but its content hashes to {computed}")]
    TransactionIdMismatch {
        /// Position in the block.
        index: usize,
        /// Id as received.
        claimed: String,
        /// Id recomputed.
        computed: String,
    },
    /// Two transactions share an id (the merkle duplication attack).
    #[error("duplicate transaction id {0} in block")]
    DuplicateTransaction(String),
    /// The `"transfers"` extension is not a list of transfers.
    #[error("malformed \"transfers\" extension: {0}")]
    MalformedTransfers(String),
    /// The `"channel_ops"` extension is not a list of channel operations.
    #[error("malformed \"channel_ops\" extension: {0}")]
    MalformedChannelOps(String),
    /// A transaction breaks the block layout (type or order, see
    /// [`super::block_layout`]).
    #[error("transaction {index} breaks the block layout: {reason}")]
    Layout {
        /// Position in the block.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// The block has a key of the earlier layout, which reference nodes refuse.
    #[error("block carries a \"{0}\" key of the earlier block layout (refused: commitments and rejections now ride as optimae_announced and optimae_rejected transactions; a chain of that layout is restarted with `doin-node --reset-chain`)")]
    OldLayout(String),
    /// The block has transfers or channel operations but no transaction commits to them.
    #[error("block carries transfers or channel operations without the evaluation_served transaction that commits to their root (rule: extensions are committed through the transaction list)")]
    ExtensionsNotCommitted,
    /// An extension-commit transaction in a block without transfers or channel operations.
    #[error("extension-commit transaction {0} in a block without transfers or channel operations")]
    UnexpectedExtensionCommit(String),
    /// The extension-commit transaction is not the one the block's extension data gives.
    #[error("extension-commit transaction {got} does not match the block's transfers and channel operations (expected {expected})")]
    ExtensionCommitMismatch {
        /// The transaction id the data gives (or why none is expected).
        expected: String,
        /// The transaction id carried.
        got: String,
    },
    /// The header's merkle root is not the root of the transaction ids.
    #[error("merkle root {claimed} does not match the transactions (computed {computed})")]
    MerkleMismatch {
        /// Root in the header.
        claimed: String,
        /// Root recomputed.
        computed: String,
    },
}

/// A block: header, transactions and the header's hash.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The header.
    pub header: BlockHeader,
    /// The transactions, in merkle order.
    pub transactions: Vec<Transaction>,
    /// The block hash as received or computed.
    pub hash: String,
    /// Every other top-level wire field (DOIN extension objects such as `"coinbase"`), kept
    /// as received. The block hash does not cover them; consensus recomputes what they claim.
    pub extensions: Map,
    /// The generator's key and signature over the hash (DOIN extension).
    pub seal: Option<Seal>,
}

impl Block {
    /// The reference's genesis block (generator `"genesis"`, Unix epoch, zero roots).
    pub fn genesis() -> Self {
        Self::genesis_with_generator("genesis")
    }

    /// The reference's `Block.genesis(generator_id)`.
    pub fn genesis_with_generator(generator_id: &str) -> Self {
        let header = BlockHeader {
            index: 0,
            previous_hash: EMPTY_ROOT.to_owned(),
            timestamp: Timestamp::EPOCH,
            merkle_root: EMPTY_ROOT.to_owned(),
            generator_id: generator_id.to_owned(),
            weighted_performance_sum: 0.0,
            threshold: 0.0,
        };
        Block::new(header, Vec::new())
    }

    /// A block with its hash computed from the header.
    pub fn new(header: BlockHeader, transactions: Vec<Transaction>) -> Self {
        let hash = header.compute_hash();
        Block {
            header,
            transactions,
            hash,
            extensions: Map::new(),
            seal: None,
        }
    }

    /// The block's transfers (the `"transfers"` extension; none when absent).
    pub fn transfers(&self) -> Result<Vec<Transfer>, ModelError> {
        match self.extensions.get(TRANSFERS_KEY) {
            None => Ok(Vec::new()),
            Some(v) => Transfer::read_list(v),
        }
    }

    /// The merkle leaves: the transactions' recomputed ids, in order (the reference's
    /// leaves; extensions are committed through the transactions).
    pub fn merkle_leaves(&self) -> Vec<String> {
        self.transactions
            .iter()
            .map(Transaction::compute_id)
            .collect()
    }

    /// The merkle root of [`Block::merkle_leaves`].
    pub fn compute_merkle_root(&self) -> String {
        merkle_root(&self.merkle_leaves())
    }

    /// Recomputes every id and hash the block claims, as a reference node's sync does and
    /// stricter: transaction ids (recomputed, not trusted), no duplicate among the
    /// transaction, transfer and channel-operation ids, the merkle root of the transaction
    /// ids, and the block hash. DOIN's validators add [`Block::check_layout`]; a reference
    /// block of any transaction types passes this check alone.
    ///
    /// Each transaction id is computed once, both checked against the claimed id and used
    /// as a merkle leaf: every synced block passes here, and an id is the canonical JSON
    /// and SHA-256 of the whole payload.
    pub fn validate_content(&self) -> Result<(), BlockError> {
        let ids = self.merkle_leaves();
        for (index, (tx, computed)) in self.transactions.iter().zip(&ids).enumerate() {
            if *computed != tx.id {
                return Err(BlockError::TransactionIdMismatch {
                    index,
                    claimed: tx.id.clone(),
                    computed: computed.clone(),
                });
            }
        }
        let extension_ids = self.extension_leaves()?;
        let mut seen = HashSet::with_capacity(ids.len() + extension_ids.len());
        for id in ids.iter().chain(&extension_ids) {
            if !seen.insert(id.as_str()) {
                return Err(BlockError::DuplicateTransaction(id.clone()));
            }
        }
        let root = merkle_root(&ids);
        if root != self.header.merkle_root {
            return Err(BlockError::MerkleMismatch {
                claimed: self.header.merkle_root.clone(),
                computed: root,
            });
        }
        let computed = self.header.compute_hash();
        if computed != self.hash {
            return Err(BlockError::HashMismatch {
                claimed: self.hash.clone(),
                computed,
            });
        }
        Ok(())
    }
}

impl WireModel for Block {
    fn from_value(v: &Value) -> Result<Self, ModelError> {
        let f = Fields::new("Block", v)?;
        let header = match f.get("header") {
            Some(h) => BlockHeader::read(h)?,
            None => {
                return Err(ModelError::Missing {
                    model: "Block",
                    field: "header",
                })
            }
        };
        let transactions = f
            .list_or_empty("transactions")?
            .iter()
            .map(Transaction::from_value)
            .collect::<Result<Vec<_>, _>>()?;
        let mut hash = f.str_or("hash", "")?;
        if hash.is_empty() {
            hash = header.compute_hash();
        }
        let extensions = f
            .map()
            .iter()
            .filter(|(k, _)| !BLOCK_CORE_FIELDS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Block {
            header,
            transactions,
            hash,
            extensions,
            seal: Seal::read(&f)?,
        })
    }

    fn to_value(&self) -> Value {
        let mut m = crate::map! {
            "header" => self.header.to_value(),
            "transactions" => self.transactions.iter().map(WireModel::to_value).collect::<Vec<_>>(),
            "hash" => self.hash.clone(),
        };
        for (k, v) in &self.extensions {
            if !BLOCK_CORE_FIELDS.contains(&k.as_str()) {
                m.insert(k.clone(), v.clone());
            }
        }
        if let Some(seal) = &self.seal {
            seal.write(&mut m);
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_hash_is_the_reference_one() {
        assert_eq!(Block::genesis().hash, GENESIS_HASH);
        assert_eq!(
            Block::genesis_with_generator("node-1").hash,
            "ece3f8d28e5624d05add0fe9ff23dcfd68b18d3cfe577fa9084f736055667418"
        );
    }

    #[test]
    fn extensions_round_trip_between_hash_and_seal() {
        let id = crate::identity::Identity::from_scalar_bytes(&[7u8; 32]).expect("valid scalar");
        let mut block = Block::genesis_with_generator(id.peer_id());
        block.extensions.insert(
            "coinbase".into(),
            Value::Object(crate::map! { "block_index" => 0i64, "outputs" => Vec::<Value>::new() }),
        );
        block.extensions.insert("z_later".into(), Value::Bool(true));
        block.seal = Some(id.seal(crate::seal::SealKind::Block, &block.hash));
        let value = block.to_value();
        let keys: Vec<&str> = value
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "header",
                "transactions",
                "hash",
                "coinbase",
                "z_later",
                "public_key",
                "signature"
            ]
        );
        let back = Block::from_wire_json(&block.to_wire_json()).expect("parses");
        assert_eq!(back, block);
        assert!(Block::genesis().extensions.is_empty());
        assert_eq!(
            Block::from_value(&Block::genesis().to_value()).expect("parses"),
            Block::genesis()
        );
    }

    /// DOIN's content rules: the layout, then the ids and hashes.
    fn full(b: &Block) -> Result<(), BlockError> {
        b.validate_doin_content().map(|_| ())
    }

    #[test]
    fn transfers_are_committed_through_one_evaluation_served_transaction() {
        use crate::models::block_layout::EXTENSION_COMMIT_TYPE;
        let id = crate::identity::Identity::from_scalar_bytes(&[9u8; 32]).expect("scalar");
        let t = Transfer::signed(&id, "r", 5, 1, 1, Timestamp::EPOCH);
        let mut block = Block::genesis();
        block.extensions.insert(
            TRANSFERS_KEY.into(),
            Value::Array(vec![t.to_value(), t.to_value()]),
        );
        block.commit_extensions().expect("well-formed");
        // A duplicate transfer is refused whatever the commitment.
        assert!(matches!(
            full(&block),
            Err(BlockError::DuplicateTransaction(_))
        ));
        block
            .extensions
            .insert(TRANSFERS_KEY.into(), Value::Array(vec![t.to_value()]));
        // The old commitment no longer matches the data.
        assert!(matches!(
            full(&block),
            Err(BlockError::ExtensionCommitMismatch { .. })
        ));
        block.commit_extensions().expect("well-formed");
        assert_eq!(full(&block), Ok(()));
        // The merkle root is the reference's: over the transaction ids only.
        assert_eq!(block.transactions.len(), 1);
        assert_eq!(block.transactions[0].tx_type, EXTENSION_COMMIT_TYPE);
        assert_eq!(
            block.header.merkle_root,
            crate::merkle::merkle_root(&[block.transactions[0].id.clone()])
        );
        // Stripped data, or a stripped commitment, is caught.
        let mut stripped = block.clone();
        stripped.extensions.shift_remove(TRANSFERS_KEY);
        assert!(matches!(
            full(&stripped),
            Err(BlockError::UnexpectedExtensionCommit(_))
        ));
        let mut uncommitted = block.clone();
        uncommitted.transactions.clear();
        uncommitted.header.merkle_root = uncommitted.compute_merkle_root();
        uncommitted.hash = uncommitted.header.compute_hash();
        assert_eq!(full(&uncommitted), Err(BlockError::ExtensionsNotCommitted));
        block
            .extensions
            .insert(TRANSFERS_KEY.into(), Value::Str("x".into()));
        assert!(matches!(
            full(&block),
            Err(BlockError::MalformedTransfers(_))
        ));
    }

    #[test]
    fn blocks_of_the_earlier_layout_are_refused_by_name() {
        for key in crate::models::block_layout::OLD_LAYOUT_KEYS {
            let mut block = Block::genesis();
            block
                .extensions
                .insert(key.into(), Value::Array(Vec::new()));
            assert_eq!(full(&block), Err(BlockError::OldLayout(key.to_owned())));
            assert!(full(&block)
                .expect_err("refused")
                .to_string()
                .contains("earlier block layout"));
        }
    }

    #[test]
    fn transactions_out_of_layout_order_are_refused() {
        let tx = |t: TransactionType| Transaction::new(t, "d", "p", Map::new(), Timestamp::EPOCH);
        let mut block = Block::genesis();
        block.transactions = vec![
            tx(TransactionType::OptimaeAccepted),
            tx(TransactionType::OptimaeAnnounced),
            tx(TransactionType::OptimaeRejected),
        ];
        let layout = block.layout().expect("in order");
        assert_eq!(
            (
                layout.accepted.len(),
                layout.announced.len(),
                layout.rejected.len()
            ),
            (1, 1, 1)
        );
        assert!(layout.extension_commit.is_none());
        block.transactions.swap(0, 1);
        assert!(matches!(
            block.layout(),
            Err(BlockError::Layout { index: 1, .. })
        ));
        block.transactions = vec![tx(TransactionType::TaskCreated)];
        assert!(matches!(
            block.layout(),
            Err(BlockError::Layout { index: 0, .. })
        ));
        block.transactions = vec![
            tx(TransactionType::EvaluationServed),
            tx(TransactionType::EvaluationServed),
        ];
        assert!(matches!(
            block.layout(),
            Err(BlockError::Layout { index: 1, .. })
        ));
    }
}
