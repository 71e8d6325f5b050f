//! SHA-256 as the protocol uses it: lowercase hex of the digest of UTF-8 text.

use sha2::{Digest, Sha256};

use crate::cjson;
use crate::value::Value;

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: impl AsRef<[u8]>) -> String {
    hex::encode(Sha256::digest(data.as_ref()))
}

/// The raw SHA-256 digest of `data`.
pub fn sha256(data: impl AsRef<[u8]>) -> [u8; 32] {
    Sha256::digest(data.as_ref()).into()
}

/// A content id: `sha256_hex(CJSON(v))`.
pub fn content_id(v: &Value) -> String {
    sha256_hex(cjson::to_cjson(v))
}

/// The chain state hash of the reference's external anchors: `sha256_hex(":".join(hashes))`.
pub fn chain_state_hash<S: AsRef<str>>(block_hashes: &[S]) -> String {
    let mut h = Sha256::new();
    for (i, b) in block_hashes.iter().enumerate() {
        if i > 0 {
            h.update(b":");
        }
        h.update(b.as_ref().as_bytes());
    }
    hex::encode(h.finalize())
}
