//! Other network answers: peer exchange, sync pages.
#![no_main]

use doin_net::transport::parse_pex;
use doin_node::sync::{parse_blocks_page, parse_chain_status};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(v) = doin_primitives::json::parse(text) else {
        return;
    };
    let _ = parse_pex(&v);
    let _ = parse_chain_status(&v);
    let _ = parse_blocks_page(&v);
});
