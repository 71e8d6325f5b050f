//! The peer address book file, as a node reads it back at start-up.
#![no_main]

use doin_net::peers::PeerTable;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static DIR: std::path::PathBuf = {
            let d = std::env::temp_dir().join(format!("doin-fuzz-peers-{}", std::process::id()));
            std::fs::create_dir_all(&d).expect("temp dir");
            d
        };
    }
    let path = DIR.with(|d| d.join("peers.json"));
    std::fs::write(&path, data).expect("write peers file");
    if let Ok(table) = PeerTable::load(&path) {
        for e in table.iter() {
            assert!(doin_net::peers::valid_endpoint(&e.endpoint));
        }
        let _ = table.dialable(u64::MAX / 2);
        table.save().expect("a loaded table saves");
        let again = PeerTable::load(&path).expect("what we saved loads");
        assert_eq!(again.len(), table.len(), "save and load keep every entry");
    }
});
