//! [`Transfer`]: DOIN's signed coin transfer, in integer base units (1 DOIN = 10^8 units),
//! and the block extension that carries transfers.
//!
//! Wire form (compact JSON, keys in this order):
//! `{"sender", "recipient", "amount", "fee", "nonce", "timestamp", "public_key", "signature"}`
//! where `amount` and `fee` are integers in base units and `nonce` counts the sender's
//! transfers from 1. The id is the reference's [`TransferTransaction`] id of the same
//! transfer expressed in DOIN: CJSON of `{"amount", "fee", "nonce", "recipient", "sender"}`
//! with `amount` and `fee` written as the float `units / 10^8` (20 DOIN → `20.0`). Up to
//! the total supply (2.1 · 10^15 units) distinct unit amounts give distinct floats, so the
//! id (and the sender's seal over it, [`SealKind::Transfer`]) binds the exact units.
//!
//! A block carries its transfers in the extension `"transfers"` (a list of wire transfers).
//! The block hash commits to them through its transactions: the transfer ids (then the
//! channel operations') are the leaves of the root its one `evaluation_served`
//! transaction holds ([`super::block_layout`]).

use crate::cjson::{write_float, write_int, write_str};
use crate::fields::{Fields, ModelError};
use crate::hash::sha256_hex;
use crate::identity::Identity;
use crate::models::{TransferTransaction, WireModel};
use crate::seal::{Seal, SealKind};
use crate::timestamp::Timestamp;
use crate::value::Value;

/// The block extension key of a block's transfers.
pub const TRANSFERS_KEY: &str = "transfers";

/// Base units per DOIN.
pub const UNITS_PER_DOIN: u64 = 100_000_000;

/// The amount in DOIN as the reference's float: `units / 10^8`, correctly rounded.
pub fn units_to_doin(units: i64) -> f64 {
    units as f64 / UNITS_PER_DOIN as f64
}

/// A signed transfer of base units from one peer to another.
#[derive(Debug, Clone, PartialEq)]
pub struct Transfer {
    /// The paying peer (its key signs the transfer).
    pub sender: String,
    /// The paid peer.
    pub recipient: String,
    /// Base units moved to the recipient.
    pub amount: i64,
    /// Base units paid on top of the amount (base fee burned, the rest tips the generator).
    pub fee: i64,
    /// The sender's transfer counter: its previous nonce plus one, starting at 1.
    pub nonce: i64,
    /// When the sender made it (not covered by the id).
    pub timestamp: Timestamp,
    /// The sender's key and signature over the id.
    pub seal: Option<Seal>,
}

impl Transfer {
    /// A transfer from `sender`'s identity, sealed by it.
    pub fn signed(
        sender: &Identity,
        recipient: impl Into<String>,
        amount: i64,
        fee: i64,
        nonce: i64,
        timestamp: Timestamp,
    ) -> Self {
        let mut t = Transfer {
            sender: sender.peer_id().to_string(),
            recipient: recipient.into(),
            amount,
            fee,
            nonce,
            timestamp,
            seal: None,
        };
        t.seal = Some(sender.seal(SealKind::Transfer, &t.compute_id()));
        t
    }

    /// The CJSON preimage of the id (the reference's, amounts in DOIN floats).
    pub fn id_preimage(&self) -> String {
        let mut s = String::with_capacity(96 + self.sender.len() + self.recipient.len());
        s.push_str("{\"amount\": ");
        write_float(units_to_doin(self.amount), &mut s);
        s.push_str(", \"fee\": ");
        write_float(units_to_doin(self.fee), &mut s);
        s.push_str(", \"nonce\": ");
        write_int(self.nonce, &mut s);
        s.push_str(", \"recipient\": ");
        write_str(&self.recipient, &mut s);
        s.push_str(", \"sender\": ");
        write_str(&self.sender, &mut s);
        s.push('}');
        s
    }

    /// The id: `sha256_hex(preimage)`, equal to the reference's id of
    /// [`Transfer::to_reference`].
    pub fn compute_id(&self) -> String {
        sha256_hex(self.id_preimage())
    }

    /// The reference's transfer object for the same transfer (amounts in DOIN floats).
    pub fn to_reference(&self) -> TransferTransaction {
        TransferTransaction {
            sender: self.sender.clone(),
            recipient: self.recipient.clone(),
            amount: units_to_doin(self.amount),
            fee: units_to_doin(self.fee),
            nonce: self.nonce,
            timestamp: self.timestamp,
            seal: self.seal.clone(),
        }
    }

    /// Reads the `"transfers"` extension value of a block.
    pub fn read_list(v: &Value) -> Result<Vec<Transfer>, ModelError> {
        match v {
            Value::Array(items) => items.iter().map(Transfer::from_value).collect(),
            other => Err(ModelError::Invalid {
                model: "Block",
                field: TRANSFERS_KEY,
                reason: format!("expected a list, got {}", other.type_name()),
            }),
        }
    }
}

impl WireModel for Transfer {
    fn from_value(v: &Value) -> Result<Self, ModelError> {
        let f = Fields::new("Transfer", v)?;
        Ok(Transfer {
            sender: f.str("sender")?,
            recipient: f.str("recipient")?,
            amount: f.i64("amount")?,
            fee: f.i64_or("fee", 0)?,
            nonce: f.i64("nonce")?,
            timestamp: f.timestamp("timestamp")?,
            seal: Seal::read(&f)?,
        })
    }

    fn to_value(&self) -> Value {
        let mut m = crate::map! {
            "sender" => self.sender.clone(),
            "recipient" => self.recipient.clone(),
            "amount" => self.amount,
            "fee" => self.fee,
            "nonce" => self.nonce,
            "timestamp" => self.timestamp.wire(),
        };
        if let Some(seal) = &self.seal {
            seal.write(&mut m);
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_is_the_reference_id_of_the_amount_in_doin() {
        let t = Transfer {
            sender: "alice".into(),
            recipient: "bob".into(),
            amount: 20 * UNITS_PER_DOIN as i64,
            fee: 0,
            nonce: 1,
            timestamp: Timestamp::EPOCH,
            seal: None,
        };
        // The reference vector: alice → bob 20.0 DOIN, fee 0.0, nonce 1.
        assert_eq!(
            t.compute_id(),
            "3e14a370f9db69e1bb802a9d6fed010bdc6ad1184658f89d6072dfe4dda29d76"
        );
        assert_eq!(t.to_reference().compute_id(), t.compute_id());
        let tenth = Transfer {
            amount: 10_000_000,
            ..t
        };
        assert!(tenth.id_preimage().starts_with("{\"amount\": 0.1, "));
    }

    #[test]
    fn distinct_units_up_to_the_supply_give_distinct_ids() {
        let supply: i64 = 21_000_000 * UNITS_PER_DOIN as i64;
        for u in [1, 7, 99_999_999, supply / 3, supply - 1, supply - 2] {
            assert_ne!(
                units_to_doin(u).to_bits(),
                units_to_doin(u + 1).to_bits(),
                "{u}"
            );
        }
    }

    #[test]
    fn signed_round_trips_and_verifies() {
        let id = Identity::from_scalar_bytes(&[3u8; 32]).expect("scalar");
        let t = Transfer::signed(&id, "b".repeat(40), 5, 1, 1, Timestamp::EPOCH);
        let back = Transfer::from_wire_json(&t.to_wire_json()).expect("parses");
        assert_eq!(back, t);
        assert!(crate::identity::require_seal(
            back.seal.as_ref(),
            SealKind::Transfer,
            &back.compute_id(),
            &back.sender
        )
        .is_ok());
        let bad = crate::json::parse(
            r#"[{"sender":"a","recipient":"b","amount":1.5,"nonce":1,"timestamp":0}]"#,
        )
        .expect("json");
        assert!(Transfer::read_list(&bad).is_err());
    }
}
