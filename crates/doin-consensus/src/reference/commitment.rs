//! Commit–reveal commitments as the reference computes them (`models/commit_reveal.py`).
//!
//! `compute_commitment(params, nonce) = sha256_hex(CJSON(params) + ":" + nonce)`: plain
//! string concatenation, then SHA-256 of the UTF-8 text.
//!
//! Reference behaviour kept here, and fixed by DOIN's own rules elsewhere: the commitment
//! binds neither the optimizer nor the domain, so anyone who sees a reveal can re-commit
//! the same parameters as their own.

use doin_primitives::cjson::write_map;
use doin_primitives::hash::sha256_hex;
use doin_primitives::value::Map;

/// The commitment preimage: `CJSON(params) + ":" + nonce`.
pub fn commitment_preimage(params: &Map, nonce: &str) -> String {
    let mut s = String::with_capacity(64 + nonce.len());
    write_map(params, &mut s);
    s.push(':');
    s.push_str(nonce);
    s
}

/// The reference's `compute_commitment(params, nonce)`.
pub fn compute_commitment(params: &Map, nonce: &str) -> String {
    sha256_hex(commitment_preimage(params, nonce))
}

/// The reference's `verify_commitment`: whether `commitment` is the hash of the reveal.
pub fn verify_commitment(commitment: &str, params: &Map, nonce: &str) -> bool {
    compute_commitment(params, nonce) == commitment
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_value() {
        let params = doin_primitives::map! {"lr" => 0.001, "layers" => 3i64};
        assert_eq!(
            commitment_preimage(&params, "abc123"),
            r#"{"layers": 3, "lr": 0.001}:abc123"#
        );
        let c = compute_commitment(&params, "abc123");
        assert_eq!(
            c,
            "96a1cd5f772a9fb9fdcf285812b4961420e8751cdc988739922f80f23d38c523"
        );
        assert!(verify_commitment(&c, &params, "abc123"));
        assert!(!verify_commitment(&c, &params, "abc124"));
    }
}
