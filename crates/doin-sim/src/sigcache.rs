//! Signature checks done once per distinct block in the whole run.
//!
//! A block's signatures (generator, optimizers, votes, commitments) do not depend on
//! chain state ([`doin_consensus::validate::verify_block_signatures`]), so every node
//! would reach the same verdict; the real node checks them on receipt and then applies
//! the block with [`doin_consensus::ChainState::apply_stored_block`]. The simulator keys
//! the verdict by the SHA-256 of the block's whole wire JSON (seals included), so a copy
//! with a forged seal is a different key and is checked on its own.

use std::collections::BTreeMap;

use doin_primitives::hash::sha256_hex;
use doin_primitives::models::{Block, WireModel};

/// Verdicts of [`doin_consensus::validate::verify_block_signatures`], by block content.
#[derive(Default)]
pub struct SigCache {
    verdicts: BTreeMap<String, Result<(), String>>,
    /// Blocks actually verified (cache misses).
    pub verified: u64,
}

impl SigCache {
    /// Whether every signature `block` carries holds.
    pub fn check(&mut self, block: &Block) -> Result<(), String> {
        let key = sha256_hex(block.to_wire_json());
        if let Some(v) = self.verdicts.get(&key) {
            return v.clone();
        }
        self.verified += 1;
        let v = doin_consensus::validate::verify_block_signatures(block).map_err(|e| e.to_string());
        self.verdicts.insert(key, v.clone());
        v
    }
}
