//! The DOIN peer id as a type: [`PeerId`].
//!
//! A peer id is the first 40 characters of the lowercase hex SHA-256 of a P-256 key's DER
//! SubjectPublicKeyInfo ([`crate::identity`]). So every DOIN peer id is exactly 40
//! characters of `0-9a-f`; [`PeerId::parse`] refuses anything else (uppercase included:
//! the derivation never writes it, and two spellings of one id would be two peers).
//!
//! On the wire and in JSON a `PeerId` is the bare string, as `#[serde(transparent)]` would
//! make it, so every wire format stays byte-identical. It is not libp2p's `PeerId` (a multihash of a
//! libp2p public key): code that holds both names this one `doin_primitives::PeerId`.
//! Deserializing checks the text as [`PeerId::parse`] does.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Characters in a DOIN peer id.
pub const PEER_ID_LEN: usize = 40;

/// A DOIN peer id: 40 lowercase hex characters.
///
/// The text is held in an `Arc<str>`: ids are cloned far more often than they are made
/// (every map key, event, ban and score holds one), and a clone is then a reference count,
/// not an allocation. Ordering, equality and hashing are those of the text, so a
/// `BTreeMap<PeerId, _>` or `HashMap<PeerId, _>` can be looked up by `&str`.
///
/// Serde sees the plain string, as `#[serde(transparent)]` would give (written by hand
/// because serde implements nothing for `Arc<str>` without its `rc` feature, and because
/// deserializing must check the text as [`PeerId::parse`] does).
///
/// It derefs to `str`: reading an id as text is always sound (code keyed by address
/// strings, such as consensus, takes `&str`); only making one is checked.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(Arc<str>);

/// Why a text is not a DOIN peer id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerIdError {
    /// Not 40 characters long.
    #[error(
        "peer id has {len} characters; a DOIN peer id is {PEER_ID_LEN} lowercase hex characters"
    )]
    WrongLength {
        /// The length given (in bytes).
        len: usize,
    },
    /// A character other than `0-9a-f`.
    #[error(
        "peer id contains {found:?}; a DOIN peer id is {PEER_ID_LEN} lowercase hex characters"
    )]
    NotLowercaseHex {
        /// The first character refused.
        found: char,
    },
}

impl PeerId {
    /// Checks that `s` can be a DOIN peer id (40 lowercase hex characters) and takes it.
    /// Use this for every id that arrives from outside (wire, headers, files).
    pub fn parse(s: &str) -> Result<PeerId, PeerIdError> {
        if let Some(found) = s.chars().find(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
            return Err(PeerIdError::NotLowercaseHex { found });
        }
        if s.len() != PEER_ID_LEN {
            return Err(PeerIdError::WrongLength { len: s.len() });
        }
        Ok(PeerId(Arc::from(s)))
    }

    /// The id derived from a key's SHA-256 hex (the first 40 characters of it). Only
    /// [`crate::identity`] calls this, on a digest it has just computed.
    pub(crate) fn from_sha256_hex(mut digest_hex: String) -> PeerId {
        digest_hex.truncate(PEER_ID_LEN);
        debug_assert!(PeerId::parse(&digest_hex).is_ok(), "{digest_hex}");
        PeerId(Arc::from(digest_hex))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl AsRef<str> for PeerId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for PeerId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for PeerId {
    type Err = PeerIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PeerId::parse(s)
    }
}

impl TryFrom<&str> for PeerId {
    type Error = PeerIdError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        PeerId::parse(s)
    }
}

impl TryFrom<String> for PeerId {
    type Error = PeerIdError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        PeerId::parse(&s)
    }
}

impl From<PeerId> for String {
    fn from(id: PeerId) -> String {
        id.0.as_ref().to_owned()
    }
}

impl From<&PeerId> for String {
    fn from(id: &PeerId) -> String {
        id.0.as_ref().to_owned()
    }
}

impl PartialEq<str> for PeerId {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for PeerId {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for PeerId {
    fn eq(&self, other: &String) -> bool {
        &*self.0 == other.as_str()
    }
}

impl PartialEq<PeerId> for str {
    fn eq(&self, other: &PeerId) -> bool {
        self == &*other.0
    }
}

impl PartialEq<PeerId> for &str {
    fn eq(&self, other: &PeerId) -> bool {
        *self == &*other.0
    }
}

impl PartialEq<PeerId> for String {
    fn eq(&self, other: &PeerId) -> bool {
        self.as_str() == &*other.0
    }
}

impl std::ops::Deref for PeerId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl Serialize for PeerId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl PartialEq<String> for &PeerId {
    fn eq(&self, other: &String) -> bool {
        &*self.0 == other.as_str()
    }
}

impl PartialEq<&PeerId> for String {
    fn eq(&self, other: &&PeerId) -> bool {
        self.as_str() == &*other.0
    }
}

impl<'de> Deserialize<'de> for PeerId {
    /// Reads the plain string and checks it as [`PeerId::parse`] does.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        PeerId::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "5cd252fb0ce8932436faf8ccd1040981b89ee4ad";

    #[test]
    fn parse_takes_forty_lowercase_hex() {
        let id = PeerId::parse(ID).expect("valid");
        assert_eq!(id.as_str(), ID);
        assert_eq!(id.to_string(), ID);
        assert_eq!(format!("{id:?}"), format!("{ID:?}"));
        assert_eq!(id, ID);
        assert_eq!(ID.parse::<PeerId>(), Ok(id));
    }

    #[test]
    fn parse_refuses_wrong_length() {
        assert_eq!(
            PeerId::parse(&ID[..39]),
            Err(PeerIdError::WrongLength { len: 39 })
        );
        assert_eq!(
            PeerId::parse(&format!("{ID}0")),
            Err(PeerIdError::WrongLength { len: 41 })
        );
        assert_eq!(PeerId::parse(""), Err(PeerIdError::WrongLength { len: 0 }));
        // A full SHA-256 digest is not a peer id either.
        assert!(PeerId::parse(&"ab".repeat(32)).is_err());
    }

    #[test]
    fn parse_refuses_non_hex_and_uppercase() {
        let bad = format!("{}g", &ID[..39]);
        assert_eq!(
            PeerId::parse(&bad),
            Err(PeerIdError::NotLowercaseHex { found: 'g' })
        );
        assert_eq!(
            PeerId::parse(&ID.to_uppercase()),
            Err(PeerIdError::NotLowercaseHex { found: 'C' })
        );
        for placeholder in ["bootstrap-127.0.0.1:9000", "addr-127.0.0.1", "lan-x"] {
            assert!(PeerId::parse(placeholder).is_err(), "{placeholder}");
        }
        // Multi-byte characters are refused, not sliced.
        assert!(PeerId::parse(&format!("{}é", &ID[..38])).is_err());
    }

    #[test]
    fn serde_is_the_plain_string() {
        let id = PeerId::parse(ID).expect("valid");
        let json = serde_json::to_string(&id).expect("serializes");
        assert_eq!(json, format!("\"{ID}\""));
        let back: PeerId = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, id);
        let map: std::collections::BTreeMap<PeerId, u8> = [(id.clone(), 1)].into();
        assert_eq!(
            serde_json::to_string(&map).expect("serializes"),
            format!("{{\"{ID}\":1}}")
        );
        assert!(serde_json::from_str::<PeerId>("\"bootstrap-x:1\"").is_err());
        assert!(serde_json::from_str::<PeerId>("7").is_err());
    }

    #[test]
    fn maps_are_looked_up_by_str() {
        let id = PeerId::parse(ID).expect("valid");
        let mut tree = std::collections::BTreeMap::new();
        tree.insert(id.clone(), 1);
        assert_eq!(tree.get(ID), Some(&1));
        let mut hash = std::collections::HashMap::new();
        hash.insert(id, 2);
        assert_eq!(hash.get(ID), Some(&2));
    }
}
