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
    sha256_hex_of(|buf| cjson::write_value(v, buf))
}

thread_local! {
    static PREIMAGE_BUF: std::cell::RefCell<String> = std::cell::RefCell::new(String::with_capacity(4096));
}

/// `sha256_hex` of the text `write` produces, written into a reused per-thread buffer so
/// that hashing a preimage allocates nothing but the returned hex.
pub fn sha256_hex_of(write: impl FnOnce(&mut String)) -> String {
    PREIMAGE_BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            write(&mut buf);
            let id = sha256_hex(buf.as_bytes());
            if buf.capacity() > 1 << 20 {
                *buf = String::with_capacity(4096);
            }
            id
        }
        // Re-entered from inside `write`: fall back to a fresh buffer.
        Err(_) => {
            let mut buf = String::new();
            write(&mut buf);
            sha256_hex(buf.as_bytes())
        }
    })
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
