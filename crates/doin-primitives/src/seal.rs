//! The signed-envelope extension: a signer's public key and signature riding beside an
//! object without changing its reference id.
//!
//! The reference signs nothing and its parsers drop unknown keys, so DOIN carries
//! authentication in two extra top-level fields of any signed object (message envelope,
//! transaction, block, vote, transfer...):
//!
//! ```json
//! {"...": "the object's own fields", "public_key": "04<X><Y> (130 hex)", "signature": "<DER hex>"}
//! ```
//!
//! * `public_key` is the SEC1 uncompressed P-256 point, lowercase hex. It must hash to the
//!   object's claimed signer: `sha256(SPKI-DER(public_key))[..40 hex] == peer id`.
//! * `signature` is the lowercase hex of an ASN.1 DER ECDSA-P256-SHA256 signature over the
//!   bytes of [`signing_preimage`]: the ASCII text `doin-sig-v1:<kind>:<id>`, where `kind`
//!   names the object type ([`SealKind`]) and `id` is the object's reference id (the 64-hex
//!   content id the reference computes: block hash, transaction id, message dedupe id...).
//!   The domain separation by kind keeps a signature on one kind of object from being
//!   replayed as another.
//!
//! Because the id is recomputed from content on receipt, the signature covers every field
//! the id covers, and nothing else: fields outside the id (a message's `ttl`, transport
//! keys) may change in transit.

use crate::fields::{Fields, ModelError};
use crate::value::{Map, Value};

/// Wire key of the signer's public key.
pub const PUBLIC_KEY_FIELD: &str = "public_key";
/// Wire key of the signature.
pub const SIGNATURE_FIELD: &str = "signature";

/// What kind of object a signature is for; part of the signed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SealKind {
    /// A gossip message envelope (id: the message dedupe id).
    Message,
    /// A transaction (id: the transaction id).
    Transaction,
    /// A block (id: the block hash).
    Block,
    /// A quorum vote (id: the vote id).
    Vote,
    /// A coin transfer (id: the transfer id).
    Transfer,
    /// A payment-channel update (id: the state hash).
    PaymentUpdate,
    /// A finality checkpoint (id: the checkpoint hash).
    Checkpoint,
    /// An optimizer's sealed claim on an optimae it submits for verification (id: the
    /// claim id).
    Claim,
    /// An on-chain payment-channel operation (id: the operation id).
    ChannelOp,
    /// An optimizer's commitment to an optimae, put on chain before its reveal (id: the
    /// commitment's id).
    Commitment,
    /// An optimizer's claim on its verified optimae, which lets any block generator carry
    /// it as an accepted-optimae transaction (id: the carried claim's id,
    /// `doin_consensus::carried`).
    CarriedClaim,
}

impl SealKind {
    /// The kind's name inside the signed bytes.
    pub fn as_str(self) -> &'static str {
        match self {
            SealKind::Message => "message",
            SealKind::Transaction => "transaction",
            SealKind::Block => "block",
            SealKind::Vote => "vote",
            SealKind::Transfer => "transfer",
            SealKind::PaymentUpdate => "payment_update",
            SealKind::Checkpoint => "checkpoint",
            SealKind::Claim => "optimae_claim",
            SealKind::ChannelOp => "channel_op",
            SealKind::Commitment => "optimae_commitment",
            SealKind::CarriedClaim => "optimae_carried_claim",
        }
    }
}

/// The exact bytes that are signed for an object of `kind` with reference id `id`.
pub fn signing_preimage(kind: SealKind, id: &str) -> Vec<u8> {
    format!("doin-sig-v1:{}:{}", kind.as_str(), id).into_bytes()
}

/// A public key and a signature, as carried in the two extra fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seal {
    /// SEC1 uncompressed P-256 public key, lowercase hex (130 characters).
    pub public_key: String,
    /// ASN.1 DER ECDSA signature, lowercase hex.
    pub signature: String,
}

impl Seal {
    /// Reads the two extra fields of a wire object; `None` when both are absent.
    pub fn read(f: &Fields<'_>) -> Result<Option<Seal>, ModelError> {
        let pk = f.opt_str(PUBLIC_KEY_FIELD)?;
        let sig = f.opt_str(SIGNATURE_FIELD)?;
        match (pk, sig) {
            (None, None) => Ok(None),
            (Some(public_key), Some(signature)) => Ok(Some(Seal {
                public_key,
                signature,
            })),
            _ => Err(ModelError::Invalid {
                model: "Seal",
                field: SIGNATURE_FIELD,
                reason: "public_key and signature must come together".into(),
            }),
        }
    }

    /// Writes the two extra fields into a wire object.
    pub fn write(&self, m: &mut Map) {
        m.insert(PUBLIC_KEY_FIELD.into(), Value::Str(self.public_key.clone()));
        m.insert(SIGNATURE_FIELD.into(), Value::Str(self.signature.clone()));
    }
}
