//! The reference's chain validation: what a reference node checks of every block it
//! appends while syncing (doin-node `_sync_with_peer` through `Chain.append_block`), applied
//! to a whole chain, genesis first.
//!
//! For block `i` (genesis is block 0, hash [`GENESIS_HASH`]):
//! * `header.index == i`;
//! * `header.previous_hash` is the hash of block `i - 1`;
//! * `header.merkle_root == merkle_root([tx.id for tx in transactions])`;
//! * the block's `hash` is the hash of its header.
//!
//! Two checks go further than the reference, which neither recomputes transaction ids nor
//! looks for repeats (its SQLite store refuses a repeated id only on insert): every
//! transaction id must be the hash of its transaction, so that an edited payload is caught
//! rather than carried along under its old id, and no id may appear twice in the chain.
//! Reference nodes compute every id they create, so their chains pass both.
//!
//! Reference blocks carry no signatures: a chain that passes is consistent, not
//! authenticated.

use std::collections::HashSet;

use doin_primitives::merkle::merkle_root;
use doin_primitives::models::{Block, GENESIS_HASH};

/// Why a block fails the reference's validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceBlockFault {
    /// The chain has no blocks.
    #[error("the chain is empty (not even a genesis block)")]
    Empty,
    /// Block 0 is not the reference's genesis.
    #[error("block 0 is not the reference genesis: hash {found}, expected {GENESIS_HASH}")]
    NotGenesis {
        /// The hash its header has.
        found: String,
    },
    /// The header's index is not the block's position.
    #[error("its header says index {found}")]
    Index {
        /// The index in its header.
        found: i64,
    },
    /// `previous_hash` is not the hash of the block before.
    #[error("previous_hash {found} is not the hash of the block before ({expected})")]
    PreviousHash {
        /// The header's previous hash.
        found: String,
        /// The hash of the block before.
        expected: String,
    },
    /// The merkle root does not cover its transaction ids.
    #[error("merkle_root {found} does not match its transaction ids (root {expected})")]
    MerkleRoot {
        /// The header's root.
        found: String,
        /// The root of its transaction ids.
        expected: String,
    },
    /// The block's hash is not the hash of its header.
    #[error("hash {found} is not the hash of its header ({expected})")]
    HeaderHash {
        /// The hash the block carries.
        found: String,
        /// The hash of its header.
        expected: String,
    },
    /// A transaction id is not the hash of the transaction.
    #[error("transaction {position} has id {found}, but its content hashes to {expected}")]
    TransactionId {
        /// Its position in the block.
        position: usize,
        /// The id it carries.
        found: String,
        /// The hash of its content.
        expected: String,
    },
    /// A transaction id appears a second time in the chain.
    #[error("transaction {position} repeats the id {id}")]
    DuplicateTransaction {
        /// Its position in the block.
        position: usize,
        /// The repeated id.
        id: String,
    },
}

/// The first block of a chain that fails the reference's validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("block {index}: {fault}")]
pub struct ReferenceChainError {
    /// The position of the first bad block (0 = genesis).
    pub index: usize,
    /// What is wrong with it.
    pub fault: ReferenceBlockFault,
}

/// Checks `blocks` (genesis first) as a reference node syncing them would, plus the two
/// stricter checks in the module doc; the error names the first bad block.
pub fn verify_reference_chain(blocks: &[Block]) -> Result<(), ReferenceChainError> {
    let fail = |index: usize, fault| Err(ReferenceChainError { index, fault });
    let Some(genesis) = blocks.first() else {
        return fail(0, ReferenceBlockFault::Empty);
    };
    let genesis_hash = genesis.header.compute_hash();
    if genesis_hash != GENESIS_HASH || genesis.hash != GENESIS_HASH {
        return fail(
            0,
            ReferenceBlockFault::NotGenesis {
                found: genesis_hash,
            },
        );
    }
    let mut seen: HashSet<&str> = HashSet::new();
    for (i, pair) in blocks.windows(2).enumerate() {
        let (parent, block) = (&pair[0], &pair[1]);
        if let Err(fault) = verify_block(i + 1, parent, block, &mut seen) {
            return fail(i + 1, fault);
        }
    }
    Ok(())
}

/// The reference's checks of `block` at position `index` on top of `parent`.
fn verify_block<'a>(
    index: usize,
    parent: &Block,
    block: &'a Block,
    seen: &mut HashSet<&'a str>,
) -> Result<(), ReferenceBlockFault> {
    let h = &block.header;
    if usize::try_from(h.index).ok() != Some(index) {
        return Err(ReferenceBlockFault::Index { found: h.index });
    }
    if h.previous_hash != parent.hash {
        return Err(ReferenceBlockFault::PreviousHash {
            found: h.previous_hash.clone(),
            expected: parent.hash.clone(),
        });
    }
    let ids: Vec<&str> = block.transactions.iter().map(|t| t.id.as_str()).collect();
    let root = merkle_root(&ids);
    if h.merkle_root != root {
        return Err(ReferenceBlockFault::MerkleRoot {
            found: h.merkle_root.clone(),
            expected: root,
        });
    }
    let hash = h.compute_hash();
    if block.hash != hash {
        return Err(ReferenceBlockFault::HeaderHash {
            found: block.hash.clone(),
            expected: hash,
        });
    }
    for (position, tx) in block.transactions.iter().enumerate() {
        let expected = tx.compute_id();
        if tx.id != expected {
            return Err(ReferenceBlockFault::TransactionId {
                position,
                found: tx.id.clone(),
                expected,
            });
        }
        if !seen.insert(tx.id.as_str()) {
            return Err(ReferenceBlockFault::DuplicateTransaction {
                position,
                id: tx.id.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::models::{BlockHeader, Transaction, TransactionType, WireModel};
    use doin_primitives::{map, Timestamp};

    /// A reference-style chain of `n` blocks after genesis, one accepted optimae each.
    fn chain(n: i64) -> Vec<Block> {
        let mut blocks = vec![Block::genesis()];
        for i in 1..=n {
            let at = Timestamp::from_unix_micros(1_790_000_000_000_000 + i * 1_000_000);
            let tx = Transaction::new(
                TransactionType::OptimaeAccepted,
                "quadratic",
                "peer-1",
                map! { "optimae_id" => format!("opt-{i}"), "performance" => -1.0 / i as f64 },
                at,
            );
            let header = BlockHeader {
                index: i,
                previous_hash: blocks[blocks.len() - 1].hash.clone(),
                timestamp: at,
                merkle_root: merkle_root(std::slice::from_ref(&tx.id)),
                generator_id: "peer-1".into(),
                weighted_performance_sum: 1.5,
                threshold: 1.0,
            };
            blocks.push(Block::new(header, vec![tx]));
        }
        blocks
    }

    fn fault(blocks: &[Block]) -> (usize, ReferenceBlockFault) {
        let e = verify_reference_chain(blocks).expect_err("refused");
        (e.index, e.fault)
    }

    #[test]
    fn a_consistent_chain_passes() {
        verify_reference_chain(&chain(4)).expect("valid");
        verify_reference_chain(&chain(0)).expect("genesis alone");
    }

    #[test]
    fn the_served_reference_chain_passes() {
        let text = include_str!(
            "../../../../testdata/reference/wire-samples/api_chain_blocks_from_0_to_5.json"
        );
        let doc: doin_primitives::Value = doin_primitives::json::parse(text).expect("json");
        let blocks: Vec<Block> = doc
            .as_object()
            .and_then(|m| m.get("blocks"))
            .and_then(|b| b.as_array())
            .expect("blocks")
            .iter()
            .map(|b| Block::from_value(b).expect("block"))
            .collect();
        assert_eq!(blocks.len(), 6);
        verify_reference_chain(&blocks).expect("the reference's own chain");
    }

    #[test]
    fn each_fault_names_the_first_bad_block() {
        assert_eq!(fault(&[]).0, 0);
        let mut c = chain(3);
        c[0] = Block::genesis_with_generator("other");
        assert!(matches!(
            fault(&c),
            (0, ReferenceBlockFault::NotGenesis { .. })
        ));

        let mut c = chain(3);
        c[2].header.index = 7;
        assert!(matches!(
            fault(&c),
            (2, ReferenceBlockFault::Index { found: 7 })
        ));

        let mut c = chain(3);
        c[2].header.previous_hash = "ab".repeat(32);
        assert!(matches!(
            fault(&c),
            (2, ReferenceBlockFault::PreviousHash { .. })
        ));

        let mut c = chain(3);
        c[3].transactions[0].id = "cd".repeat(32);
        assert!(matches!(
            fault(&c),
            (3, ReferenceBlockFault::MerkleRoot { .. })
        ));

        let mut c = chain(3);
        c[1].header.weighted_performance_sum = 99.0;
        assert!(matches!(
            fault(&c),
            (1, ReferenceBlockFault::HeaderHash { .. })
        ));

        // An edited payload under its old id: the merkle root and the hashes still agree.
        let mut c = chain(3);
        c[2].transactions[0]
            .payload
            .insert("performance".into(), doin_primitives::Value::Float(5.0));
        assert!(matches!(
            fault(&c),
            (2, ReferenceBlockFault::TransactionId { position: 0, .. })
        ));

        // The same transaction in two blocks.
        let mut c = chain(2);
        let tx = c[1].transactions[0].clone();
        let header = BlockHeader {
            merkle_root: merkle_root(std::slice::from_ref(&tx.id)),
            ..c[2].header.clone()
        };
        c[2] = Block::new(header, vec![tx]);
        assert!(matches!(
            fault(&c),
            (
                2,
                ReferenceBlockFault::DuplicateTransaction { position: 0, .. }
            )
        ));
    }
}
