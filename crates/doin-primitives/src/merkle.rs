//! The reference's merkle root over transaction ids.
//!
//! `[]` gives 64 zeros, one leaf is the root itself; otherwise each odd level is padded by
//! duplicating its last entry and each pair becomes `sha256_hex(left_hex + right_hex)`,
//! hashing the hex *text*. The duplication makes `[A,B,C]` and `[A,B,C,C]` share a root
//! (CVE-2012-2459), so blocks with duplicate transaction ids are refused by
//! [`crate::models::Block::validate_merkle`] rather than here.

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
    // Work on raw 64-byte hex texts to avoid reallocating strings per node.
    let mut level: Vec<Vec<u8>> = leaves
        .iter()
        .map(|l| l.as_ref().as_bytes().to_vec())
        .collect();
    let mut hex_buf = [0u8; 64];
    while level.len() > 1 {
        if level.len() % 2 == 1 {
            let last = level[level.len() - 1].clone();
            level.push(last);
        }
        let mut next = Vec::with_capacity(level.len() / 2);
        for pair in level.chunks_exact(2) {
            let mut h = Sha256::new();
            h.update(&pair[0]);
            h.update(&pair[1]);
            let digest = h.finalize();
            // hex::encode_to_slice cannot fail for a 32-byte input and a 64-byte buffer.
            let _ = hex::encode_to_slice(digest, &mut hex_buf);
            next.push(hex_buf.to_vec());
        }
        level = next;
    }
    String::from_utf8(level.swap_remove(0)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_examples() {
        let [a, b, c] = ["a", "b", "c"].map(|x| x.repeat(64));
        assert_eq!(merkle_root::<String>(&[]), EMPTY_ROOT);
        assert_eq!(merkle_root(&[a.clone()]), a);
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
