//! Lines an external plugin process writes: hello, replies, performances.
#![no_main]

use doin_plugins::external::protocol;
use doin_plugins::PluginKind;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    for kind in [
        PluginKind::Optimizer,
        PluginKind::Evaluator,
        PluginKind::SyntheticData,
    ] {
        let _ = protocol::check_hello(line, kind);
    }
    for id in [0, 1, u64::MAX] {
        if let Ok(protocol::Reply::Result(v)) = protocol::parse_reply(line, id) {
            let _ = protocol::performance(v.as_object().and_then(|m| m.get("performance")));
            let _ = protocol::performance(Some(&v));
        }
    }
});
