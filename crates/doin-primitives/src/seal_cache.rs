//! Seals this process has already verified: a bounded, least-recently-used set.
//!
//! The same seal is checked many times over: a vote when it arrives, again each time the
//! pending optimae carrying it are scored for the next block, again in the block that
//! carries it and in every rival block carrying the same optimae; a commitment when it is
//! gossiped and in its block. Whether a signature holds is a pure function of the public
//! key, the signed bytes and the signature, so a positive answer can be remembered (the
//! signature cache of other chains' nodes, which lets a block whose transactions came
//! through the mempool validate without verifying them again).
//!
//! The key is SHA-256 over the three (length-prefixed, so no two inputs share one), so a
//! hit needs the very key, message and signature that verified. Only successes are kept:
//! a seal that fails is verified again each time it comes, as before. The set holds
//! [`CAPACITY`] entries (about 3 MiB), the least recently used going first.

use std::num::NonZeroUsize;
use std::sync::{Mutex, OnceLock, PoisonError};

use lru::LruCache;
use sha2::{Digest, Sha256};

use crate::seal::{Seal, SealKind};

/// Verified seals kept.
pub const CAPACITY: usize = 65_536;

/// What identifies one verification: the hash of the key, the signed object and the
/// signature.
pub(crate) type SealKey = [u8; 32];

fn cache() -> &'static Mutex<LruCache<SealKey, ()>> {
    static CACHE: OnceLock<Mutex<LruCache<SealKey, ()>>> = OnceLock::new();
    CACHE.get_or_init(|| {
        let capacity = NonZeroUsize::new(CAPACITY).unwrap_or(NonZeroUsize::MIN);
        Mutex::new(LruCache::new(capacity))
    })
}

/// The cache key of `seal` over the object of `kind` with id `id`.
pub(crate) fn key(seal: &Seal, kind: SealKind, id: &str) -> SealKey {
    let mut h = Sha256::new();
    for part in [
        seal.public_key.as_bytes(),
        kind.as_str().as_bytes(),
        id.as_bytes(),
        seal.signature.as_bytes(),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// Whether this verification succeeded before (and is still kept).
pub(crate) fn verified_before(key: &SealKey) -> bool {
    let mut c = cache().lock().unwrap_or_else(PoisonError::into_inner);
    c.get(key).is_some()
}

/// Remembers a verification that succeeded.
pub(crate) fn remember(key: SealKey) {
    let mut c = cache().lock().unwrap_or_else(PoisonError::into_inner);
    c.put(key, ());
}

/// Forgets every verified seal: for benchmarks that measure verification itself (a chain
/// built in the same process would otherwise validate from the cache).
pub fn clear() {
    cache()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(pk: &str, sig: &str) -> Seal {
        Seal {
            public_key: pk.into(),
            signature: sig.into(),
        }
    }

    #[test]
    fn every_part_of_a_verification_is_in_its_key() {
        let base = key(&seal("04ab", "3045"), SealKind::Block, "id");
        assert_ne!(base, key(&seal("04ac", "3045"), SealKind::Block, "id"));
        assert_ne!(base, key(&seal("04ab", "3046"), SealKind::Block, "id"));
        assert_ne!(base, key(&seal("04ab", "3045"), SealKind::Block, "ie"));
        assert_ne!(base, key(&seal("04ab", "3045"), SealKind::Commitment, "id"));
        // Lengths are part of the key: moving a character between parts changes it.
        assert_ne!(
            key(&seal("04ab", "3045"), SealKind::Block, "id"),
            key(&seal("04a", "3045"), SealKind::Block, "bid")
        );
        assert_eq!(base, key(&seal("04ab", "3045"), SealKind::Block, "id"));
    }
}
