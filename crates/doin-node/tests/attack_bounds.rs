//! Resource bounds under attack on a live three-node network chain: optimae whose
//! parameters leave the domain's `param_bounds`, hold NaN, hold a string where numbers are
//! due, or exceed the size limit are refused by every node with the reason; the nodes keep
//! minting.

mod adversary;

use adversary::*;
use doin_consensus::bounds::MAX_PARAMETERS_BYTES;
use doin_primitives::value::Value;

#[test]
fn parameters_out_of_bounds_non_finite_mistyped_or_oversized_are_refused() {
    runtime().block_on(async {
        let arena = Arena::start(3, 1, 4).await;
        let attacker = Attacker::new();
        let (state, blocks) = arena.settled_chain().await;
        let (_, honest) = last_optimae(&blocks);
        let with_x = |x: Value| {
            let mut p = honest.parameters.clone();
            p.insert("x".into(), x);
            p
        };
        let mut oversized = honest.parameters.clone();
        oversized.insert("blob".into(), Value::Str("a".repeat(MAX_PARAMETERS_BYTES)));
        let cases = [
            (
                "a parameter outside its bounds",
                with_x(Value::Array(vec![Value::Float(0.5), Value::Float(25.0)])),
                "parameter x: 25 is outside [-20, 20]",
            ),
            (
                "a NaN parameter",
                with_x(Value::Array(vec![Value::Float(f64::NAN)])),
                "parameter x: NaN is not a finite number",
            ),
            (
                "a string where numbers are due",
                with_x(Value::Str("0.5".into())),
                "parameter x: expected a number, got string",
            ),
            (
                "an oversized parameter set",
                oversized,
                "more than the limit of 1048576",
            ),
        ];
        for (what, parameters, reason) in cases {
            let mine = attacker.commit(&honest, parameters, state.height());
            arena
                .refused_everywhere(
                    what,
                    attacker.forge_block(&state, vec![attacker.seal(&mine)]),
                    reason,
                )
                .await;
        }
        arena.keeps_minting(2).await;
        arena.net.shutdown().await;
    });
}
