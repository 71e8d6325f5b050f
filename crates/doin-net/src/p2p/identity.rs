//! One key: the node's P-256 identity is its libp2p identity, and the DOIN peer id of an
//! authenticated connection follows from the key that connection proved.
//!
//! A libp2p [`PeerId`] of an ECDSA key is the SHA-256 multihash of the key's protobuf
//! encoding, so the key cannot be read back from it. The key arrives in the remote's
//! `identify` record; [`doin_peer_id_of_connection`] accepts it only when it hashes to the
//! connection's (noise- or TLS-authenticated) [`PeerId`], and then derives the DOIN id from
//! the key's DER SubjectPublicKeyInfo exactly as [`Identity::peer_id`] does. A relay cannot
//! set either: the `PeerId` is the one the handshake proved.

use doin_primitives::identity::{peer_id_of_spki, Identity};
use doin_primitives::PeerId as DoinPeerId;
use libp2p::identity::{ecdsa, Keypair, PublicKey};
use libp2p::PeerId;
use p256::pkcs8::DecodePrivateKey;

/// Why a key could not serve as, or be mapped to, a DOIN identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum P2pIdentityError {
    /// The node's key could not be turned into a libp2p key (a corrupt identity file).
    #[error("the node key cannot be used as a libp2p key: {0}; regenerate the identity file")]
    BadNodeKey(String),
    /// The remote's key is not a P-256 ECDSA key: it is no DOIN node.
    #[error("the peer's key is not a P-256 ECDSA key; DOIN nodes use P-256 identities")]
    NotP256,
    /// The key in the identify record does not hash to the connection's peer id.
    #[error("the peer's announced key does not match the key its connection proved")]
    KeyMismatch,
}

/// The libp2p keypair of the node's identity (the same P-256 secret).
pub fn keypair_of(identity: &Identity) -> Result<Keypair, P2pIdentityError> {
    let secret = p256::SecretKey::from_pkcs8_pem(&identity.to_pem())
        .map_err(|e| P2pIdentityError::BadNodeKey(e.to_string()))?;
    let scalar = secret.to_bytes();
    let secret = ecdsa::SecretKey::try_from_bytes(&scalar[..])
        .map_err(|e| P2pIdentityError::BadNodeKey(e.to_string()))?;
    let keypair = Keypair::from(ecdsa::Keypair::from(secret));
    // The two derivations must agree, or scores would follow the wrong id.
    if doin_peer_id(&keypair.public())? != *identity.peer_id() {
        return Err(P2pIdentityError::BadNodeKey(
            "libp2p and DOIN derive different public keys".into(),
        ));
    }
    Ok(keypair)
}

/// The DOIN peer id (40 hex) of a libp2p public key: only P-256 ECDSA keys have one.
pub fn doin_peer_id(key: &PublicKey) -> Result<DoinPeerId, P2pIdentityError> {
    let ecdsa = key
        .clone()
        .try_into_ecdsa()
        .map_err(|_| P2pIdentityError::NotP256)?;
    peer_id_of_spki(&ecdsa.encode_der()).map_err(|_| P2pIdentityError::NotP256)
}

/// The DOIN peer id of the remote of an authenticated connection to `peer`, given the key
/// it announced: refused unless that key is the one the connection proved.
pub fn doin_peer_id_of_connection(
    peer: &PeerId,
    announced: &PublicKey,
) -> Result<DoinPeerId, P2pIdentityError> {
    if announced.to_peer_id() != *peer {
        return Err(P2pIdentityError::KeyMismatch);
    }
    doin_peer_id(announced)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libp2p_key_keeps_the_doin_peer_id() {
        let id = Identity::generate();
        let kp = keypair_of(&id).expect("P-256 identity");
        assert_eq!(&doin_peer_id(&kp.public()).expect("ecdsa"), id.peer_id());
        let peer = kp.public().to_peer_id();
        assert_eq!(
            &doin_peer_id_of_connection(&peer, &kp.public()).expect("own key"),
            id.peer_id()
        );
    }

    #[test]
    fn a_key_that_is_not_the_connections_is_refused() {
        let a = keypair_of(&Identity::generate()).expect("key");
        let b = keypair_of(&Identity::generate()).expect("key");
        let err = doin_peer_id_of_connection(&a.public().to_peer_id(), &b.public());
        assert_eq!(err, Err(P2pIdentityError::KeyMismatch));
    }

    #[test]
    fn a_non_p256_key_has_no_doin_id() {
        let other = Keypair::generate_ed25519();
        assert_eq!(
            doin_peer_id(&other.public()),
            Err(P2pIdentityError::NotP256)
        );
    }
}
