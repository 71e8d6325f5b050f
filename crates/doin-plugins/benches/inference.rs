//! Inference requests served per second by the built-in wine quality domain, for each
//! polynomial degree: with the chain's best unchanged (the fitted model is reused) for one
//! and 100 wines per request, and with new hyperparameters every request (the ridge model
//! refitted on all 1,599 wines); next to the quadratic domain's objective at a point.
//!
//! `cargo bench -p doin-plugins --bench inference`.

use std::time::Instant;

use doin_plugins::wine::{wine_data, Hyperparameters, N_FEATURES};
use doin_plugins::{Evaluator, PluginRegistry};
use doin_primitives::{map, Map, Value};

fn wines(n: usize) -> Value {
    let d = wine_data();
    let list = (0..n)
        .map(|i| {
            let row = d.row(i);
            Value::Array(
                (0..N_FEATURES)
                    .map(|j| Value::Float(row[j] * d.sd[j] + d.mean[j]))
                    .collect(),
            )
        })
        .collect::<Vec<_>>();
    Value::Object(map! { "wines" => list })
}

fn rate(label: &str, ev: &mut dyn Evaluator, parameters: &Map, input: &Value, calls: u32) {
    ev.infer(parameters, input).expect("warm-up");
    let start = Instant::now();
    for _ in 0..calls {
        ev.infer(parameters, input).expect("inference");
    }
    report(label, calls, start.elapsed().as_secs_f64());
}

fn report(label: &str, calls: u32, took: f64) {
    println!(
        "{label:<44} {calls:>5} requests in {took:>7.3} s: {:>9.0} requests/s, {:>9.1} µs each",
        f64::from(calls) / took,
        took * 1e6 / f64::from(calls)
    );
}

fn main() {
    let registry = PluginRegistry::with_builtins();
    let mut wine = registry
        .evaluator("wine_quality", &Map::new())
        .expect("wine plugin");
    for degree in [1u8, 2] {
        let h = Hyperparameters {
            log10_alpha: -1.5,
            degree,
            clip: 3.0,
        }
        .to_parameters();
        for n in [1, 100] {
            let label = format!("wine degree {degree}, {n} wine(s), same model");
            rate(&label, wine.as_mut(), &h, &wines(n), 2000);
        }
        // A new best every request: alternate two penalties so that every call refits.
        let other = Hyperparameters {
            log10_alpha: -1.0,
            degree,
            clip: 3.0,
        }
        .to_parameters();
        let input = wines(1);
        let calls = 200u32;
        let start = Instant::now();
        for i in 0..calls {
            let p = if i % 2 == 0 { &h } else { &other };
            wine.infer(p, &input).expect("inference");
        }
        report(
            &format!("wine degree {degree}, 1 wine, refit each time"),
            calls,
            start.elapsed().as_secs_f64(),
        );
    }
    let mut quad = registry
        .evaluator("simple_quadratic", &Map::new())
        .expect("quadratic plugin");
    let x = map! { "x" => vec![Value::Float(0.5); 10] };
    let at = Value::Object(map! { "x" => vec![Value::Float(1.0); 10] });
    rate(
        "simple_quadratic, a point of 10",
        quad.as_mut(),
        &x,
        &at,
        20_000,
    );
}
