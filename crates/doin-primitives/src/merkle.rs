//! The reference's merkle root over transaction ids.
//!
//! `[]` gives 64 zeros, one leaf is the root itself; otherwise each odd level is padded by
//! duplicating its last entry and each pair becomes `sha256_hex(left_hex + right_hex)`,
//! hashing the hex *text*. The duplication makes `[A,B,C]` and `[A,B,C,C]` share a root
//! (CVE-2012-2459), so blocks with duplicate transaction ids are refused by
//! [`crate::models::Block::validate_content`] rather than here.

use sha2::{Digest, Sha256};

/// The 64-zero root of an empty list.
pub const EMPTY_ROOT: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The merkle root of `leaves` (lowercase hex ids), computed as the reference does.
pub fn merkle_root<S: AsRef<str>>(leaves: &[S]) -> String {
    match leaves.len() {
        0 => return EMPTY_ROOT.to_owned(),
        1 => return leaves[0].as_ref().to_owned(),
        _ => {}
    }
    // The first level pairs the leaves as given (any length); every level above holds
    // 64-byte hex texts, hashed in place.
    let mut level: Vec<[u8; 64]> = Vec::with_capacity(leaves.len().div_ceil(2));
    let n = leaves.len();
    for i in (0..n).step_by(2) {
        let left = leaves[i].as_ref().as_bytes();
        let right = leaves.get(i + 1).map_or(left, |r| r.as_ref().as_bytes());
        level.push(node(left, right));
    }
    while level.len() > 1 {
        let len = level.len();
        let mut w = 0;
        for i in (0..len).step_by(2) {
            let right = if i + 1 < len { level[i + 1] } else { level[i] };
            level[w] = node(&level[i], &right);
            w += 1;
        }
        level.truncate(w);
    }
    String::from_utf8(level[0].to_vec()).unwrap_or_default()
}

/// One interior node: the hex text of `sha256(left_text || right_text)`.
fn node(left: &[u8], right: &[u8]) -> [u8; 64] {
    let mut h = Sha256::new();
    h.update(left);
    h.update(right);
    let mut out = [0u8; 64];
    // Cannot fail: a 32-byte digest always fills a 64-byte buffer exactly.
    let _ = hex::encode_to_slice(h.finalize(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_examples() {
        let [a, b, c] = ["a", "b", "c"].map(|x| x.repeat(64));
        assert_eq!(merkle_root::<String>(&[]), EMPTY_ROOT);
        assert_eq!(merkle_root(std::slice::from_ref(&a)), a);
        assert_eq!(
            merkle_root(&[a.clone(), b.clone()]),
            "fa0dafbf43f1f551e536353e9d1a942a8e86e41a0b58dfeaf264ef217f6b862a"
        );
        assert_eq!(
            merkle_root(&[a.clone(), b.clone(), c.clone()]),
            "f372961e0178fea099eb05057b8b6a363a21f7ee2456e6e17a8f92990d01d1f9"
        );
        assert_eq!(
            merkle_root(&[a.clone(), b.clone(), c.clone()]),
            merkle_root(&[a, b, c.clone(), c])
        );
    }
}
