//! `POST /inference` bodies as clients send them, and the inputs the built-in domains'
//! inference plugins read: parse, check, never panic.
#![no_main]

use doin_plugins::PluginRegistry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = doin_node::api::inference::parse_request(data) else {
        return;
    };
    let input = doin_primitives::Value::Object(request.input);
    let registry = PluginRegistry::with_builtins();
    for name in ["wine_quality", "simple_quadratic"] {
        let ev = registry
            .evaluator(name, &doin_primitives::Map::new())
            .expect("built-in plugin");
        let _ = ev.check_input(&input);
    }
});
