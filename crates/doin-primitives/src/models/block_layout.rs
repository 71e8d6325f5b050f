//! How a DOIN block carries its extensions inside the reference's transaction list, so that
//! a reference node accepts the block and the block hash still commits to all of it.
//!
//! A reference node checks `merkle_root == merkle([tx.id for tx in transactions])` and
//! parses every transaction with its 11 types, so DOIN's data rides in reference
//! transactions, in this order ([`Block::layout`]):
//!
//! | position | `tx_type` | one per | `peer_id` | payload |
//! |---|---|---|---|---|
//! | 1 | `optimae_accepted` | accepted optimae | optimizer | the optimae (see the consensus crate) |
//! | 2 | `optimae_announced` | on-chain commitment | optimizer | the sealed commitment object |
//! | 3 | `optimae_rejected` | rejection evidence | optimizer | `optimae_id`, `reason`, the sealed claim and votes |
//! | 4 | `evaluation_served` | block with transfers or channel operations | generator | [`ExtensionCommit`]: the root of that data |
//!
//! The reference's derived state reads them as it reads its own: reputation counts
//! `optimae_accepted` for and `optimae_rejected` against the transaction's peer (the
//! optimizer in both cases); fork choice and chain metrics read only `optimae_accepted`;
//! nothing in the reference reads `optimae_announced` or `evaluation_served` from a block.
//!
//! Transfers and channel operations stay in the block's `"transfers"` and `"channel_ops"`
//! keys (the reference drops unknown keys); the one `evaluation_served` transaction commits
//! to them by holding the merkle root of their ids, and [`Block::validate_content`] refuses
//! a block whose data and commitment disagree. The coinbase needs no commitment: validators
//! recompute it from the chain.
//!
//! Blocks of the earlier layout, whose merkle root took extension leaves and which carried
//! `"commitments"` and `"rejections"` keys, are refused with [`BlockError::OldLayout`] or
//! [`BlockError::ExtensionsNotCommitted`]; an extension-commit transaction in a block
//! without transfers or channel operations is [`BlockError::UnexpectedExtensionCommit`].

use crate::map;
use crate::merkle::merkle_root;
use crate::models::{Block, BlockError, BlockHeader, Transaction, TransactionType};
use crate::models::{ChannelOp, Transfer};

/// Keys that carried commitments and rejections in the earlier block layout; a block that
/// has one is refused ([`BlockError::OldLayout`]).
pub const OLD_LAYOUT_KEYS: [&str; 2] = ["commitments", "rejections"];

/// Payload key of the extension-commit transaction that holds the extensions' root.
pub const EXTENSIONS_ROOT_KEY: &str = "doin_extensions_root";

/// The transaction type of the one extension-commit transaction of a block: a type every
/// reference reader of chain data ignores.
pub const EXTENSION_COMMIT_TYPE: TransactionType = TransactionType::EvaluationServed;

/// A block's transactions split by the part of the layout they belong to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockLayout<'a> {
    /// The `optimae_accepted` transactions (they carry the block's work).
    pub accepted: &'a [Transaction],
    /// The `optimae_announced` transactions (commitments).
    pub announced: &'a [Transaction],
    /// The `optimae_rejected` transactions (rejection evidence).
    pub rejected: &'a [Transaction],
    /// The extension-commit transaction, present exactly when the block has transfers or
    /// channel operations.
    pub extension_commit: Option<&'a Transaction>,
}

/// What the extension-commit transaction of a block must say.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtensionCommit {
    /// Merkle root (the reference's rule) of the transfer ids, then the channel operation ids.
    pub root: String,
    /// Number of transfers.
    pub transfers: usize,
    /// Number of channel operations.
    pub channel_ops: usize,
}

impl ExtensionCommit {
    /// The transaction that commits to this data in the block with `header`: type
    /// [`EXTENSION_COMMIT_TYPE`], no domain, the generator as peer, the header's timestamp,
    /// and a payload naming the block's height and parent, so that its id is unique in the
    /// chain (a reference node refuses a repeated transaction id).
    pub fn to_tx(&self, header: &BlockHeader) -> Transaction {
        Transaction::new(
            EXTENSION_COMMIT_TYPE,
            "",
            header.generator_id.clone(),
            map! {
                EXTENSIONS_ROOT_KEY => self.root.clone(),
                "block_index" => header.index,
                "previous_hash" => header.previous_hash.clone(),
                "transfers" => self.transfers as i64,
                "channel_ops" => self.channel_ops as i64,
            },
            header.timestamp,
        )
    }
}

fn part(tx_type: TransactionType) -> Option<usize> {
    match tx_type {
        TransactionType::OptimaeAccepted => Some(0),
        TransactionType::OptimaeAnnounced => Some(1),
        TransactionType::OptimaeRejected => Some(2),
        t if t == EXTENSION_COMMIT_TYPE => Some(3),
        _ => None,
    }
}

fn leaves(transfers: &[Transfer], channel_ops: &[ChannelOp]) -> Vec<String> {
    transfers
        .iter()
        .map(Transfer::compute_id)
        .chain(channel_ops.iter().map(ChannelOp::compute_id))
        .collect()
}

impl Block {
    /// Splits the transactions into the layout's parts; refuses a transaction of another
    /// type, parts out of order, or more than one extension-commit transaction
    /// ([`BlockError::Layout`]).
    pub fn layout(&self) -> Result<BlockLayout<'_>, BlockError> {
        let txs = &self.transactions;
        let mut counts = [0usize; 4];
        let mut last = 0;
        for (index, tx) in txs.iter().enumerate() {
            let p = part(tx.tx_type).ok_or_else(|| BlockError::Layout {
                index,
                reason: format!(
                    "a DOIN block carries no {} transaction",
                    tx.tx_type.as_str()
                ),
            })?;
            if p < last || (p == 3 && counts[3] > 0) {
                return Err(BlockError::Layout {
                    index,
                    reason: format!(
                        "{} is out of order (optimae_accepted, optimae_announced, \
                         optimae_rejected, then at most one {})",
                        tx.tx_type.as_str(),
                        EXTENSION_COMMIT_TYPE.as_str()
                    ),
                });
            }
            counts[p] += 1;
            last = p;
        }
        let a = counts[0];
        let b = a + counts[1];
        let c = b + counts[2];
        Ok(BlockLayout {
            accepted: &txs[..a],
            announced: &txs[a..b],
            rejected: &txs[b..c],
            extension_commit: txs.get(c),
        })
    }

    /// What the block's extension-commit transaction must say: `None` when the block has
    /// no transfers and no channel operations.
    pub fn extension_commit(&self) -> Result<Option<ExtensionCommit>, BlockError> {
        let (transfers, channel_ops) = self.extension_data()?;
        if transfers.is_empty() && channel_ops.is_empty() {
            return Ok(None);
        }
        Ok(Some(ExtensionCommit {
            root: merkle_root(&leaves(&transfers, &channel_ops)),
            transfers: transfers.len(),
            channel_ops: channel_ops.len(),
        }))
    }

    /// The ids the extension root covers: the transfers', then the channel operations'.
    pub fn extension_leaves(&self) -> Result<Vec<String>, BlockError> {
        let (transfers, channel_ops) = self.extension_data()?;
        Ok(leaves(&transfers, &channel_ops))
    }

    fn extension_data(&self) -> Result<(Vec<Transfer>, Vec<ChannelOp>), BlockError> {
        let transfers = self
            .transfers()
            .map_err(|e| BlockError::MalformedTransfers(e.to_string()))?;
        let channel_ops = self
            .channel_ops()
            .map_err(|e| BlockError::MalformedChannelOps(e.to_string()))?;
        Ok((transfers, channel_ops))
    }

    /// Rule: no key of the earlier layout ([`BlockError::OldLayout`]), the transactions in
    /// layout order, and the extension-commit transaction present exactly when the block
    /// has transfers or channel operations, and equal to the one they give
    /// ([`BlockError::ExtensionsNotCommitted`], [`BlockError::ExtensionCommitMismatch`]).
    pub fn check_layout(&self) -> Result<BlockLayout<'_>, BlockError> {
        if let Some(key) = OLD_LAYOUT_KEYS
            .iter()
            .find(|k| self.extensions.contains_key(**k))
        {
            return Err(BlockError::OldLayout((*key).to_owned()));
        }
        let layout = self.layout()?;
        match (self.extension_commit()?, layout.extension_commit) {
            (None, None) => {}
            (Some(_), None) => return Err(BlockError::ExtensionsNotCommitted),
            (None, Some(tx)) => return Err(BlockError::UnexpectedExtensionCommit(tx.id.clone())),
            (Some(commit), Some(tx)) => {
                let expected = commit.to_tx(&self.header);
                if expected.id != tx.compute_id() || tx.seal.is_some() {
                    return Err(BlockError::ExtensionCommitMismatch {
                        expected: expected.id,
                        got: tx.id.clone(),
                    });
                }
            }
        }
        Ok(layout)
    }

    /// DOIN's content rules for a block: its layout ([`Block::check_layout`], first, so a
    /// block of the earlier layout is refused by that rule's name), then every id and hash
    /// ([`Block::validate_content`]).
    pub fn validate_doin_content(&self) -> Result<BlockLayout<'_>, BlockError> {
        let layout = self.check_layout()?;
        self.validate_content()?;
        Ok(layout)
    }

    /// Puts the block's extension-commit transaction in place (after the other
    /// transactions, replacing any earlier one; none without transfers or channel
    /// operations), then recomputes the merkle root and the hash. The generator seals the
    /// block afterwards.
    pub fn commit_extensions(&mut self) -> Result<(), BlockError> {
        self.transactions
            .retain(|tx| tx.tx_type != EXTENSION_COMMIT_TYPE);
        if let Some(commit) = self.extension_commit()? {
            self.transactions.push(commit.to_tx(&self.header));
        }
        self.header.merkle_root = self.compute_merkle_root();
        self.hash = self.header.compute_hash();
        Ok(())
    }
}
