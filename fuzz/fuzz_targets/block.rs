//! Blocks as peers send them: parse, hash, Merkle root, content checks.
#![no_main]

use doin_primitives::models::{Block, WireModel};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(block) = Block::from_wire_json(text) else {
        return;
    };
    let _ = block.header.compute_hash();
    let _ = block.compute_merkle_root();
    let _ = block.validate_content();
    // Validated and applied on a fresh chain, as a node does with a peer's block 1.
    let mut params = doin_consensus::ChainParams::solo_default();
    params
        .domains
        .push(doin_consensus::DomainParams::new("d1", true).with_bound("x", -10.0, 10.0));
    let mut state = doin_consensus::ChainState::new(params);
    let _ = doin_consensus::validate::verify_block_signatures(&block);
    let _ = state.validate_block(&block);
    let _ = state.apply_block(&block);
    let again = Block::from_wire_json(&block.to_wire_json()).expect("our own wire JSON parses");
    assert_eq!(
        again.header.compute_hash(),
        block.header.compute_hash(),
        "hash survives a round trip"
    );
});
