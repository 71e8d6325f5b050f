//! Commitments on chain: an optimizer's commitment to an optimae lands in a block before
//! anyone sees the parameters, and that block is the optimae's *commit block*.
//!
//! **The commitment.** An [`OptimaeCommitment`] names the optimizer, the domain and the
//! *bound commitment* [`bound_commitment`]`(optimizer_id, compute_commitment(parameters,
//! nonce))`, with a timestamp, sealed by the optimizer ([`SealKind::Commitment`] over
//! [`OptimaeCommitment::id`]). It reveals nothing: the parameters and the nonce stay with
//! the optimizer until the commitment is on chain, and the reference commitment they hash
//! to is not shown either, so nobody who sees the commitment gossiped can make one of its
//! own for the same reveal.
//! Blocks carry each commitment as an `optimae_announced` transaction
//! ([`OptimaeCommitment::to_tx`]: the optimizer as peer, the commitment's domain and
//! timestamp, the sealed commitment object as payload), so the block hash covers them
//! through the reference's merkle root ([`doin_primitives::models::block_layout`]).
//!
//! **Rules** ([`ChainState::check_commitments`]): at most [`MAX_COMMITMENTS_PER_BLOCK`] per
//! block; each sealed by the key of its optimizer id, for a domain of the chain, a bound
//! commitment of 64 lowercase hex digits, not carried already by a recent block or twice in
//! the block under the same optimizer, and never the very commitment an earlier block
//! carried, however old (its `optimae_announced` transaction id must stay unique in the
//! chain, as a reference node's store requires) ([`ConsensusError::CommitmentReused`]). A commitment
//! is recorded under its bound hash *and* its optimizer, so a node that puts a gossiped
//! commitment on chain first under its own id squats nothing: the honest optimizer's lands
//! beside it, and only the optimizer the bound hash names can reveal it.
//!
//! **What it binds** ([`ChainState::check_committed`]): an accepted optimae, and rejection
//! evidence, must name as its commit height the height of the block that carries its
//! commitment, under the same optimizer and domain
//! ([`ConsensusError::CommitmentNotOnChain`]); and no other optimizer may have bound the
//! same reference commitment in an earlier block ([`ConsensusError::CommitmentCopied`]):
//! a node that copies a reveal (parameters and nonce) and commits to it under its own id
//! does so after the reveal, so the first commitment wins even if the copier's quorum is
//! faster. The quorum and every evaluator's
//! synthetic-data seed derive from that block's hash ([`crate::quorum`]), which is chain
//! data made *after* the commitment was fixed: an optimizer cannot grind its nonce for a
//! favourable quorum or favourable data, and cannot pick among recent blocks either.
//!
//! **Liveness** ([`ChainState::check_weight`]): blocks come from accepted optimae, and
//! optimae now need a block before them. A block whose weighted sum is below the threshold
//! is valid as a *commitment block*: it accepts no optimae, carries at least one
//! commitment, and is timestamped at least one target block time after its parent (chain
//! time, which validators bound by their clock). It adds no work, pays no block reward
//! (the generator keeps the tips of what it carries), leaves the difficulty as it was, does
//! not make its generator a contributor (eligible for quorums) and does not end a stall
//! ([`ChainState::is_stalled`] counts from the last block that reached the threshold). A
//! new chain's first block is one, and so is the block that ends any quiet period.
//!
//! **Not covered.** The generator of the commit block can grind its hash (its timestamp),
//! so an optimizer that mints its own commit block picks among quorums and seeds; on a busy
//! network an honest block at that height outweighs it. A randomness beacon would close
//! it.

use std::collections::{BTreeMap, BTreeSet};

use doin_primitives::fields::{Fields, ModelError};
use doin_primitives::hash::content_id;
use doin_primitives::identity::Identity;
use doin_primitives::map;
use doin_primitives::models::{Block, Transaction, TransactionType};
use doin_primitives::seal::{Seal, SealKind};
use doin_primitives::timestamp::Timestamp;
use doin_primitives::value::Value;

use crate::error::ConsensusError;
use crate::state::ChainState;

/// Most commitments one block may carry.
pub const MAX_COMMITMENTS_PER_BLOCK: usize = 256;

/// The commitment an optimizer puts on chain for the reference commitment
/// `commitment_hash` (`compute_commitment(parameters, nonce)`): SHA-256 of
/// `"doin-commitment-v1:" + optimizer_id + ":" + commitment_hash`, lowercase hex. It binds
/// the reveal to its optimizer and hides the reference commitment.
pub fn bound_commitment(optimizer_id: &str, commitment_hash: &str) -> String {
    doin_primitives::hash::sha256_hex(format!(
        "doin-commitment-v1:{optimizer_id}:{commitment_hash}"
    ))
}

/// An optimizer's sealed commitment to an optimae it has not revealed yet.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimaeCommitment {
    /// The optimizer.
    pub optimizer_id: String,
    /// The domain.
    pub domain_id: String,
    /// [`bound_commitment`] of the optimizer and `compute_commitment(parameters, nonce)`.
    pub bound_commitment: String,
    /// When the optimizer committed.
    pub timestamp: Timestamp,
    /// The optimizer's key and signature over [`Self::id`].
    pub seal: Option<Seal>,
}

impl OptimaeCommitment {
    /// `optimizer`'s commitment, in `domain_id` at `timestamp`, to the reference commitment
    /// `commitment_hash` (`compute_commitment(parameters, nonce)`), bound and sealed.
    pub fn sealed(
        optimizer: &Identity,
        domain_id: &str,
        commitment_hash: &str,
        timestamp: Timestamp,
    ) -> Self {
        let mut c = OptimaeCommitment {
            optimizer_id: optimizer.peer_id().to_string(),
            domain_id: domain_id.to_owned(),
            bound_commitment: bound_commitment(optimizer.peer_id(), commitment_hash),
            timestamp,
            seal: None,
        };
        c.seal = Some(optimizer.seal(SealKind::Commitment, &c.id()));
        c
    }

    fn fields_value(&self, timestamp: String) -> Value {
        Value::Object(map! {
            "optimizer_id" => self.optimizer_id.clone(),
            "domain_id" => self.domain_id.clone(),
            "bound_commitment" => self.bound_commitment.clone(),
            "timestamp" => timestamp,
        })
    }

    /// The commitment's id: `content_id` of every field but the seal (timestamp as
    /// `isoformat`).
    pub fn id(&self) -> String {
        content_id(&self.fields_value(self.timestamp.isoformat()))
    }

    /// The wire object, seal included.
    pub fn to_value(&self) -> Value {
        let mut v = self.fields_value(self.timestamp.wire());
        if let (Value::Object(m), Some(seal)) = (&mut v, &self.seal) {
            seal.write(m);
        }
        v
    }

    /// Reads a wire object.
    pub fn from_value(v: &Value) -> Result<Self, ModelError> {
        let f = Fields::new("OptimaeCommitment", v)?;
        Ok(OptimaeCommitment {
            optimizer_id: f.str("optimizer_id")?,
            domain_id: f.str("domain_id")?,
            bound_commitment: f.str("bound_commitment")?,
            timestamp: f.timestamp("timestamp")?,
            seal: Seal::read(&f)?,
        })
    }

    /// The `optimae_announced` transaction that carries the commitment in a block: the
    /// optimizer as peer, the commitment's domain and timestamp, the sealed commitment
    /// object as payload; unsealed (the payload carries the optimizer's seal).
    pub fn to_tx(&self) -> Transaction {
        let payload = match self.to_value() {
            Value::Object(m) => m,
            _ => doin_primitives::value::Map::new(),
        };
        Transaction::new(
            TransactionType::OptimaeAnnounced,
            self.domain_id.clone(),
            self.optimizer_id.clone(),
            payload,
            self.timestamp,
        )
    }

    /// Reads the commitment an `optimae_announced` transaction carries; refuses a
    /// transaction that is not the one [`Self::to_tx`] gives
    /// ([`ConsensusError::CarrierMismatch`]).
    pub fn from_tx(tx: &Transaction) -> Result<Self, ConsensusError> {
        let c = OptimaeCommitment::from_value(&Value::Object(tx.payload.clone()))?;
        let expected = c.to_tx();
        if expected.id != tx.compute_id() || tx.seal.is_some() {
            return Err(ConsensusError::CarrierMismatch {
                kind: TransactionType::OptimaeAnnounced.as_str(),
                expected: expected.id,
                got: tx.id.clone(),
            });
        }
        Ok(c)
    }

    /// The commitments a block carries (its `optimae_announced` transactions, in order).
    pub fn read_block(block: &Block) -> Result<Vec<OptimaeCommitment>, ConsensusError> {
        block
            .layout()?
            .announced
            .iter()
            .enumerate()
            .map(|(index, tx)| {
                OptimaeCommitment::from_tx(tx).map_err(|e| ConsensusError::InCommitment {
                    index,
                    source: Box::new(e),
                })
            })
            .collect()
    }

    /// Rule: the commitment is sealed by the key its optimizer id hashes from
    /// ([`ConsensusError::BadCommitmentSeal`]) and its bound hash is 64 lowercase hex
    /// digits ([`ConsensusError::MalformedCommitment`]).
    pub fn check(&self) -> Result<(), ConsensusError> {
        let h = &self.bound_commitment;
        if h.len() != 64 || !h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(ConsensusError::MalformedCommitment(format!(
                "bound_commitment must be 64 lowercase hex digits, got {h:?}"
            )));
        }
        doin_primitives::identity::require_seal(
            self.seal.as_ref(),
            SealKind::Commitment,
            &self.id(),
            &self.optimizer_id,
        )
        .map_err(|e| ConsensusError::BadCommitmentSeal(e.to_string()))
    }
}

impl doin_primitives::models::WireModel for OptimaeCommitment {
    fn from_value(v: &Value) -> Result<Self, ModelError> {
        OptimaeCommitment::from_value(v)
    }

    fn to_value(&self) -> Value {
        OptimaeCommitment::to_value(self)
    }
}

/// A commitment as a recent block records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnChainCommitment {
    /// The optimizer that committed.
    pub optimizer_id: String,
    /// The domain.
    pub domain_id: String,
}

impl ChainState {
    /// Where `optimizer_id`'s commitment to the reference commitment `commitment_hash` is on
    /// chain among the recent blocks: the height of the block that carries it and its
    /// domain.
    pub fn committed_at(
        &self,
        commitment_hash: &str,
        optimizer_id: &str,
    ) -> Option<(u64, &OnChainCommitment)> {
        self.bound_committed_at(
            &bound_commitment(optimizer_id, commitment_hash),
            optimizer_id,
        )
    }

    /// Whether this very commitment (by its id) was carried by a block of the chain, however
    /// old: it can never land again ([`ChainState::check_commitments`]).
    pub fn commitment_landed(&self, c: &OptimaeCommitment) -> bool {
        self.announced.contains(&c.id())
    }

    /// The optimizers whose commitments the last `blocks` blocks carry (the tip among
    /// them), each once: those about to reveal. Node policy reads it (who takes a turn to
    /// mint the next work block); no rule does.
    pub fn recent_committers(&self, blocks: usize) -> std::collections::BTreeSet<&str> {
        self.recent
            .iter()
            .rev()
            .take(blocks)
            .flat_map(|b| b.commitments.values().map(|c| c.optimizer_id.as_str()))
            .collect()
    }

    /// Where `optimizer_id`'s bound commitment `bound` is on chain among the recent blocks.
    pub fn bound_committed_at(
        &self,
        bound: &str,
        optimizer_id: &str,
    ) -> Option<(u64, &OnChainCommitment)> {
        let key = (bound.to_owned(), optimizer_id.to_owned());
        self.recent
            .iter()
            .find_map(|b| b.commitments.get(&key).map(|c| (b.height, c)))
    }

    /// Rule: an optimae committed at `commit_height` must have its commitment (bound to
    /// `optimizer_id`) carried by the block at that height, in `domain_id`
    /// ([`ConsensusError::CommitmentNotOnChain`]), and no other optimizer may have bound the
    /// same reference commitment in an earlier recent block
    /// ([`ConsensusError::CommitmentCopied`]). The window of commit heights is checked
    /// apart ([`ChainState::seed_block_hash`]).
    pub fn check_committed(
        &self,
        commitment_hash: &str,
        optimizer_id: &str,
        domain_id: &str,
        commit_height: u64,
    ) -> Result<(), ConsensusError> {
        let key = (
            bound_commitment(optimizer_id, commitment_hash),
            optimizer_id.to_owned(),
        );
        let found = self
            .recent_block(commit_height)
            .and_then(|b| b.commitments.get(&key));
        match found {
            Some(c) if c.domain_id == domain_id => {}
            _ => {
                return Err(ConsensusError::CommitmentNotOnChain {
                    commitment: commitment_hash.to_owned(),
                    commit_height,
                })
            }
        }
        // The copy each other optimizer would have put on chain, hashed once per optimizer
        // (not once per commitment: this runs for every optimae of every block).
        let earlier = || self.recent.iter().filter(|b| b.height < commit_height);
        let others: BTreeSet<&str> = earlier()
            .flat_map(|b| b.commitments.keys().map(|(_, o)| o.as_str()))
            .filter(|o| *o != optimizer_id)
            .collect();
        let copies: BTreeMap<String, &str> = others
            .into_iter()
            .map(|o| (bound_commitment(o, commitment_hash), o))
            .collect();
        for b in earlier() {
            for (bound, other) in b.commitments.keys() {
                if copies.get(bound) == Some(&other.as_str()) {
                    return Err(ConsensusError::CommitmentCopied {
                        commitment: commitment_hash.to_owned(),
                        first: other.clone(),
                        height: b.height,
                    });
                }
            }
        }
        Ok(())
    }

    /// Checks the commitments of the next block (see the module doc for the rules).
    pub fn check_commitments(
        &self,
        commitments: &[OptimaeCommitment],
    ) -> Result<(), ConsensusError> {
        if commitments.len() > MAX_COMMITMENTS_PER_BLOCK {
            return Err(ConsensusError::TooManyCommitments {
                count: commitments.len(),
                max: MAX_COMMITMENTS_PER_BLOCK,
            });
        }
        let mut seen: BTreeSet<(&str, &str)> = BTreeSet::new();
        for (index, c) in commitments.iter().enumerate() {
            let in_commitment = |e| ConsensusError::InCommitment {
                index,
                source: Box::new(e),
            };
            if self.params.domain(&c.domain_id).is_none() {
                return Err(in_commitment(ConsensusError::UnknownDomain(
                    c.domain_id.clone(),
                )));
            }
            let h = c.bound_commitment.as_str();
            if self.bound_committed_at(h, &c.optimizer_id).is_some()
                || self.commitment_landed(c)
                || !seen.insert((h, c.optimizer_id.as_str()))
            {
                return Err(in_commitment(ConsensusError::CommitmentReused(
                    h.to_owned(),
                )));
            }
            if self.trust_stored_seals {
                c.seal
                    .as_ref()
                    .ok_or_else(|| "no seal".to_owned())
                    .and_then(|s| {
                        doin_primitives::identity::key_matches_peer_id(
                            &s.public_key,
                            &c.optimizer_id,
                        )
                        .map_err(|e| e.to_string())
                    })
                    .map_err(|e| in_commitment(ConsensusError::BadCommitmentSeal(e)))?;
            } else {
                c.check().map_err(in_commitment)?;
            }
        }
        Ok(())
    }

    /// How long after its parent (chain time, µs) a commitment block may come: one target
    /// block time.
    pub fn commitment_block_micros(&self) -> i64 {
        (self.params.target_block_time_secs * 1e6) as i64
    }

    /// Rule: the next block (timestamped `time_micros`) reaches the threshold with its
    /// weighted `sum`, or it is a commitment block: no accepted optimae
    /// (`accepted == 0`), at least one commitment, and at least
    /// [`ChainState::commitment_block_micros`] after its parent
    /// ([`ConsensusError::BelowThreshold`] otherwise).
    pub fn check_weight(
        &self,
        sum: f64,
        accepted: usize,
        commitments: usize,
        time_micros: i64,
    ) -> Result<(), ConsensusError> {
        let threshold = self.next_threshold();
        if sum >= threshold {
            return Ok(());
        }
        if accepted == 0 && commitments > 0 && self.commitment_block_due(time_micros) {
            return Ok(());
        }
        Err(ConsensusError::BelowThreshold { sum, threshold })
    }

    /// Whether a commitment block timestamped `time_micros` would be valid now (if it
    /// carried a commitment).
    pub fn commitment_block_due(&self, time_micros: i64) -> bool {
        time_micros.saturating_sub(self.tip_time_micros) >= self.commitment_block_micros()
    }
}

/// Verifies the seals of a block's commitments, none of which depends on chain state (see
/// [`crate::validate::verify_block_signatures`]).
pub fn verify_commitment_signatures(block: &Block) -> Result<(), ConsensusError> {
    let Ok(commitments) = OptimaeCommitment::read_block(block) else {
        // Malformed commitments fail validation with their reason.
        return Ok(());
    };
    for (index, c) in commitments.iter().enumerate() {
        c.check().map_err(|e| ConsensusError::InCommitment {
            index,
            source: Box::new(e),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(byte: u8) -> Identity {
        Identity::from_scalar_bytes(&[byte; 32]).expect("valid scalar")
    }

    #[test]
    fn a_commitment_round_trips_and_its_seal_binds_every_field() {
        let me = identity(3);
        let c = OptimaeCommitment::sealed(
            &me,
            "quadratic",
            &"ab".repeat(32),
            Timestamp::from_unix_secs(1_767_225_600),
        );
        assert!(c.check().is_ok());
        assert_eq!(
            c.bound_commitment,
            bound_commitment(me.peer_id(), &"ab".repeat(32))
        );
        assert_ne!(
            c.bound_commitment,
            bound_commitment(identity(4).peer_id(), &"ab".repeat(32))
        );
        let back = OptimaeCommitment::from_value(&c.to_value()).unwrap();
        assert_eq!(back, c);
        let tx = c.to_tx();
        assert_eq!(tx.tx_type, TransactionType::OptimaeAnnounced);
        assert_eq!(tx.peer_id, me.peer_id());
        assert_eq!(OptimaeCommitment::from_tx(&tx).unwrap(), c);
        let mut moved = tx.clone();
        moved.domain_id = "wine".into();
        moved.id = moved.compute_id();
        assert!(matches!(
            OptimaeCommitment::from_tx(&moved),
            Err(ConsensusError::CarrierMismatch { .. })
        ));
        let mut other = c.clone();
        other.domain_id = "wine".into();
        assert!(matches!(
            other.check(),
            Err(ConsensusError::BadCommitmentSeal(_))
        ));
        let mut stolen = c.clone();
        stolen.optimizer_id = identity(4).peer_id().to_string();
        assert!(stolen.check().is_err());
        let mut bad = c.clone();
        bad.bound_commitment = "AB".into();
        assert!(matches!(
            bad.check(),
            Err(ConsensusError::MalformedCommitment(_))
        ));
    }
}
