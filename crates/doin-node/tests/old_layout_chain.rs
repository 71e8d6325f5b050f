//! A `chain.db` of the earlier block layout (commitments in a `"commitments"` key whose ids
//! were merkle leaves) is refused at start-up with an error naming the rule and the way out,
//! and a block of that layout from a peer is refused for the same rule.

use doin_consensus::commitment::OptimaeCommitment;
use doin_consensus::{ChainParams, ChainState, ConsensusError, DomainParams};
use doin_node::chain_service::{open_chain, OpenChainError};
use doin_primitives::hash::{content_id, sha256_hex};
use doin_primitives::identity::Identity;
use doin_primitives::merkle::merkle_root;
use doin_primitives::models::{Block, BlockError};
use doin_primitives::seal::SealKind;
use doin_primitives::{Timestamp, Value};

fn params() -> ChainParams {
    let mut p = ChainParams::solo_default();
    p.domains = vec![DomainParams::new("quadratic", true)];
    p
}

/// A commitment block as the earlier layout made it: the commitment object in the block's
/// `"commitments"` key, its `content_id` the merkle leaf, no transaction.
fn old_layout_commitment_block(generator: &Identity) -> Block {
    let at = Timestamp::from_unix_secs(1_767_225_600);
    let c = OptimaeCommitment::sealed(generator, "quadratic", &sha256_hex("params:nonce"), at);
    let mut block = ChainState::new(params())
        .build_block_with_commitments(generator, Vec::new(), Vec::new(), Vec::new(), &[c], at)
        .expect("a commitment block builds");
    let objects: Vec<Value> = block
        .transactions
        .drain(..)
        .map(|tx| Value::Object(tx.payload))
        .collect();
    let leaves: Vec<String> = objects.iter().map(content_id).collect();
    block
        .extensions
        .insert("commitments".into(), Value::Array(objects));
    block.header.merkle_root = merkle_root(&leaves);
    block.hash = block.header.compute_hash();
    block.seal = Some(generator.seal(SealKind::Block, &block.hash));
    block
}

#[test]
fn an_old_layout_chain_is_refused_at_start_up_naming_the_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("chain.db");
    let generator = Identity::from_scalar_bytes(&[3; 32]).expect("scalar");
    let old = old_layout_commitment_block(&generator);
    {
        let mut store = doin_store::ChainStore::open(&path).expect("store");
        store
            .append(&old)
            .expect("the store keeps what it is given");
    }
    match open_chain(&path, &params()) {
        Err(OpenChainError::InvalidStoredBlock { index, reason, .. }) => {
            assert_eq!(index, 1);
            assert!(reason.contains("earlier block layout"), "{reason}");
            assert!(reason.contains("--reset-chain"), "{reason}");
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("an old-layout chain was opened"),
    }
    // The same block offered by a peer is refused for the same rule.
    assert_eq!(
        ChainState::new(params()).validate_block(&old),
        Err(ConsensusError::Content(BlockError::OldLayout(
            "commitments".into()
        )))
    );
}
