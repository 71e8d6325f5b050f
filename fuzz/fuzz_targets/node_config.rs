//! The node's config file parser and its validation.
#![no_main]

use doin_node::config::NodeConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = NodeConfig::from_json(text, "fuzz");
    }
});
