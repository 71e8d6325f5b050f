//! Peer identity: P-256 keys in PKCS#8 PEM, peer ids, DER ECDSA signatures.
//!
//! * A peer id is the first 40 hex characters of `sha256(DER SubjectPublicKeyInfo)`; for
//!   P-256 the SPKI is a fixed 26-byte prefix followed by the 65-byte point `04||X||Y`.
//! * Signatures are ECDSA P-256 over SHA-256 of the message bytes, ASN.1 DER encoded.
//!   Signing uses RFC 6979 nonces; verification accepts high-S and low-S as the reference
//!   does (the signature never enters an id, so malleability changes nothing).
//! * Only P-256 is accepted: a key on any other curve is refused with
//!   [`IdentityError::WrongCurve`] (the reference silently accepts secp256k1 and P-384).
//! * Key files are unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), written with
//!   mode 0600; SEC1 `EC PRIVATE KEY` PEM is read too, as the reference does.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use p256::{PublicKey, SecretKey};

use crate::hash::sha256_hex;
use crate::peer_id::PeerId;
use crate::seal::{signing_preimage, Seal, SealKind};

/// The DER prefix of a P-256 SubjectPublicKeyInfo, before the 65-byte point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// Why a key, an identity file or a signature was refused.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The identity file could not be read or written.
    #[error(
        "identity file {path}: {source} (check the path given by --identity or identity_file)"
    )]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The PEM holds a key on another curve.
    #[error("identity key is not a P-256 (secp256r1) key; DOIN identities are P-256 only")]
    WrongCurve,
    /// The text is not a PEM private key this node can read.
    #[error("identity key is not a PKCS#8 or SEC1 PEM P-256 private key: {0}")]
    BadPem(String),
    /// A public key is not a valid SEC1 P-256 point.
    #[error("public key is not a valid SEC1 P-256 point (expected 130 hex characters, 04||X||Y)")]
    BadPublicKey,
    /// A signature is not valid hex DER.
    #[error("signature is not hex-encoded ASN.1 DER")]
    BadSignatureEncoding,
    /// The public key does not hash to the claimed peer id.
    #[error("public key hashes to peer id {actual}, not to the claimed {claimed}")]
    PeerIdMismatch {
        /// The id the object claims.
        claimed: String,
        /// The id of the key it carries.
        actual: String,
    },
    /// The signature does not verify.
    #[error("signature does not verify for {kind} {id}")]
    InvalidSignature {
        /// The kind of object.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// An object that must be signed carries no signature.
    #[error("{kind} {id} is not signed")]
    Unsigned {
        /// The kind of object.
        kind: &'static str,
        /// Its id.
        id: String,
    },
}

/// A node's key pair and the peer id derived from it.
#[derive(Clone)]
pub struct Identity {
    secret: SecretKey,
    signing: SigningKey,
    public_key_hex: String,
    peer_id: PeerId,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("peer_id", &self.peer_id)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// A fresh random identity.
    pub fn generate() -> Self {
        Self::from_secret(SecretKey::random(&mut rand_core::OsRng))
    }

    /// The identity of a known secret key.
    pub fn from_secret(secret: SecretKey) -> Self {
        let public = secret.public_key();
        let public_key_hex = hex::encode(public.to_encoded_point(false).as_bytes());
        let peer_id = peer_id_of(&public);
        let signing = SigningKey::from(&secret);
        Identity {
            secret,
            signing,
            public_key_hex,
            peer_id,
        }
    }

    /// The identity of a 32-byte big-endian private scalar (tests and vectors).
    pub fn from_scalar_bytes(bytes: &[u8]) -> Result<Self, IdentityError> {
        SecretKey::from_slice(bytes)
            .map(Self::from_secret)
            .map_err(|e| IdentityError::BadPem(e.to_string()))
    }

    /// Reads a PKCS#8 (or SEC1) PEM P-256 private key.
    pub fn from_pem(pem: &str) -> Result<Self, IdentityError> {
        if pem.contains("BEGIN EC PRIVATE KEY") {
            return SecretKey::from_sec1_pem(pem)
                .map(Self::from_secret)
                .map_err(|_| IdentityError::WrongCurve);
        }
        match SecretKey::from_pkcs8_pem(pem) {
            Ok(secret) => Ok(Self::from_secret(secret)),
            Err(e) => {
                // A key on another curve is well-formed PKCS#8 naming another curve OID.
                if is_other_curve_ec_key(pem) {
                    Err(IdentityError::WrongCurve)
                } else {
                    Err(IdentityError::BadPem(e.to_string()))
                }
            }
        }
    }

    /// The unencrypted PKCS#8 PEM of the private key.
    pub fn to_pem(&self) -> String {
        self.secret
            .to_pkcs8_pem(LineEnding::LF)
            .map(|z| z.to_string())
            .unwrap_or_default()
    }

    /// Loads the identity at `path`, or generates one and writes it there (parent
    /// directories created, file mode 0600).
    pub fn load_or_generate(path: &Path) -> Result<Self, IdentityError> {
        let io = |source| IdentityError::Io {
            path: path.to_path_buf(),
            source,
        };
        if path.exists() {
            let text = fs::read_to_string(path).map_err(io)?;
            return Self::from_pem(&text);
        }
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() {
                fs::create_dir_all(parent).map_err(io)?;
            }
        }
        let identity = Self::generate();
        write_private(path, identity.to_pem().as_bytes()).map_err(io)?;
        Ok(identity)
    }

    /// The 40-hex peer id.
    pub fn peer_id(&self) -> &PeerId {
        &self.peer_id
    }

    /// The SEC1 uncompressed public key, lowercase hex.
    pub fn public_key_hex(&self) -> &str {
        &self.public_key_hex
    }

    /// The DER SubjectPublicKeyInfo of the public key.
    pub fn spki_der(&self) -> Vec<u8> {
        spki_der(&self.secret.public_key())
    }

    /// A DER ECDSA signature over `message` (SHA-256 inside).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let sig: Signature = self.signing.sign(message);
        sig.to_der().as_bytes().to_vec()
    }

    /// The seal of an object of `kind` whose reference id is `id`.
    pub fn seal(&self, kind: SealKind, id: &str) -> Seal {
        Seal {
            public_key: self.public_key_hex.clone(),
            signature: hex::encode(self.sign(&signing_preimage(kind, id))),
        }
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Whether the PEM is a well-formed PKCS#8 key of some other algorithm or curve.
fn is_other_curve_ec_key(pem: &str) -> bool {
    use p256::pkcs8::der::Decode;
    let Ok((_, doc)) = p256::pkcs8::SecretDocument::from_pem(pem) else {
        return false;
    };
    p256::pkcs8::PrivateKeyInfo::from_der(doc.as_bytes()).is_ok()
}

fn spki_der(public: &PublicKey) -> Vec<u8> {
    match public.to_public_key_der() {
        Ok(doc) => doc.as_bytes().to_vec(),
        Err(_) => {
            let mut v = P256_SPKI_PREFIX.to_vec();
            v.extend_from_slice(public.to_encoded_point(false).as_bytes());
            v
        }
    }
}

fn peer_id_of(public: &PublicKey) -> PeerId {
    PeerId::from_sha256_hex(sha256_hex(spki_der(public)))
}

/// Parses a SEC1 public key given as hex (uncompressed `04||X||Y` or compressed).
pub fn parse_public_key(hex_key: &str) -> Result<PublicKey, IdentityError> {
    let bytes = hex::decode(hex_key).map_err(|_| IdentityError::BadPublicKey)?;
    PublicKey::from_sec1_bytes(&bytes).map_err(|_| IdentityError::BadPublicKey)
}

/// The peer id of a SEC1 hex public key.
pub fn peer_id_of_public_key(hex_key: &str) -> Result<PeerId, IdentityError> {
    parse_public_key(hex_key).map(|pk| peer_id_of(&pk))
}

/// The peer id of a DER SubjectPublicKeyInfo (only P-256 keys are accepted).
pub fn peer_id_of_spki(der: &[u8]) -> Result<PeerId, IdentityError> {
    if der.len() != 91 || der[..26] != P256_SPKI_PREFIX {
        return Err(IdentityError::WrongCurve);
    }
    PublicKey::from_sec1_bytes(&der[26..]).map_err(|_| IdentityError::BadPublicKey)?;
    Ok(PeerId::from_sha256_hex(sha256_hex(der)))
}

/// Checks that `hex_key` hashes to `claimed_peer_id`.
pub fn key_matches_peer_id(hex_key: &str, claimed_peer_id: &str) -> Result<(), IdentityError> {
    let actual = peer_id_of_public_key(hex_key)?;
    if actual == claimed_peer_id {
        Ok(())
    } else {
        Err(IdentityError::PeerIdMismatch {
            claimed: claimed_peer_id.to_owned(),
            actual: actual.into(),
        })
    }
}

/// Verifies a DER ECDSA signature over `message` with a SEC1 public key.
///
/// Verification runs on `ring`'s constant-time P-256 (several times faster than a portable
/// implementation, which matters when a node checks every signature of a synced chain);
/// high-S signatures are accepted, as the reference accepts them.
pub fn verify(public: &PublicKey, message: &[u8], der_signature: &[u8]) -> bool {
    let point = public.to_encoded_point(false);
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_ASN1,
        point.as_bytes(),
    )
    .verify(message, der_signature)
    .is_ok()
}

/// The portable verification (p256), kept to cross-check `ring` in tests.
pub fn verify_portable(public: &PublicKey, message: &[u8], der_signature: &[u8]) -> bool {
    let Ok(sig) = DerSignature::from_bytes(der_signature) else {
        return false;
    };
    let Ok(sig) = Signature::try_from(sig) else {
        return false;
    };
    VerifyingKey::from(public).verify(message, &sig).is_ok()
}

/// Verifies the seal of an object of `kind` with reference id `id`, claimed to be signed
/// by `claimed_peer_id`: the key must hash to that id and the signature must hold. A seal
/// this process verified before is not verified again ([`crate::seal_cache`]).
pub fn verify_seal(
    seal: &Seal,
    kind: SealKind,
    id: &str,
    claimed_peer_id: &str,
) -> Result<(), IdentityError> {
    key_matches_peer_id(&seal.public_key, claimed_peer_id)?;
    let cache_key = crate::seal_cache::key(seal, kind, id);
    if crate::seal_cache::verified_before(&cache_key) {
        return Ok(());
    }
    let public = parse_public_key(&seal.public_key)?;
    let sig = hex::decode(&seal.signature).map_err(|_| IdentityError::BadSignatureEncoding)?;
    if verify(&public, &signing_preimage(kind, id), &sig) {
        crate::seal_cache::remember(cache_key);
        Ok(())
    } else {
        Err(IdentityError::InvalidSignature {
            kind: kind.as_str(),
            id: id.to_owned(),
        })
    }
}

/// Like [`verify_seal`] for an optional seal: an absent seal is [`IdentityError::Unsigned`].
pub fn require_seal(
    seal: Option<&Seal>,
    kind: SealKind,
    id: &str,
    claimed_peer_id: &str,
) -> Result<(), IdentityError> {
    match seal {
        Some(seal) => verify_seal(seal, kind, id, claimed_peer_id),
        None => Err(IdentityError::Unsigned {
            kind: kind.as_str(),
            id: id.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_one_is_the_reference_peer_id() {
        let mut scalar = [0u8; 32];
        scalar[31] = 1;
        let id = Identity::from_scalar_bytes(&scalar).expect("valid scalar");
        assert_eq!(id.peer_id(), "5cd252fb0ce8932436faf8ccd1040981b89ee4ad");
        assert_eq!(id.spki_der()[..26], P256_SPKI_PREFIX);
    }

    #[test]
    fn seal_round_trip_and_tamper() {
        let id = Identity::generate();
        let seal = id.seal(SealKind::Block, "abc");
        verify_seal(&seal, SealKind::Block, "abc", id.peer_id()).expect("verifies");
        assert!(verify_seal(&seal, SealKind::Transaction, "abc", id.peer_id()).is_err());
        assert!(verify_seal(&seal, SealKind::Block, "abd", id.peer_id()).is_err());
        let other = Identity::generate();
        assert!(matches!(
            verify_seal(&seal, SealKind::Block, "abc", other.peer_id()),
            Err(IdentityError::PeerIdMismatch { .. })
        ));
    }

    #[test]
    fn load_or_generate_writes_0600_and_reloads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys/identity.pem");
        let a = Identity::load_or_generate(&path).expect("generate");
        let b = Identity::load_or_generate(&path).expect("load");
        assert_eq!(a.peer_id(), b.peer_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
