//! Payment channels on chain: the off-chain [`ChannelUpdate`] (a voucher the sender signs)
//! and the signed on-chain [`ChannelOp`] (open, close, dispute, settle), carried in the
//! block extension `"channel_ops"`.
//!
//! * A [`ChannelUpdate`] is the reference's `PaymentUpdate` in integer base units: its id
//!   is the reference's state hash of `{"channel_id", "nonce", "receiver_balance",
//!   "sender_balance"}` with the balances written as integers. The sender seals it
//!   ([`SealKind::PaymentUpdate`] over the state hash, fields `public_key` / `signature`);
//!   a cooperative close also carries the receiver's seal (`receiver_public_key` /
//!   `receiver_signature`).
//! * A [`ChannelOp`] wire form: `{"op": "open"|"close"|"dispute"|"settle", "actor", "fee",
//!   "nonce", ...fields of the op, "public_key", "signature"}`; open carries `receiver`,
//!   `deposit` (base units) and `dispute_period` (seconds of chain time); close carries
//!   `channel_id` and optionally `update`; dispute carries `update`; settle `channel_id`.
//!   Its id is `sha256_hex` of the CJSON of the wire object without the two seal fields
//!   (so the id covers the update's seals too); the actor seals it ([`SealKind::ChannelOp`]).
//!   An open operation's id is the channel's id.
//!
//! A block carrying channel operations lists them under `"channel_ops"`; their ids follow
//! the transfers' under the root its one `evaluation_served` transaction holds
//! ([`super::block_layout`]), so the block hash commits to them.

use crate::fields::{Fields, ModelError};
use crate::hash::content_id;
use crate::identity::Identity;
use crate::models::{Block, PaymentUpdate, PyNumber, WireModel};
use crate::seal::{Seal, SealKind};
use crate::value::{Map, Value};

/// The block extension key of a block's channel operations.
pub const CHANNEL_OPS_KEY: &str = "channel_ops";
/// Wire key of the receiver's public key on a countersigned update.
const RECEIVER_KEY_FIELD: &str = "receiver_public_key";
/// Wire key of the receiver's signature on a countersigned update.
const RECEIVER_SIG_FIELD: &str = "receiver_signature";

/// An off-chain state of a channel: what each side holds, sealed by the sender.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelUpdate {
    /// The channel (its open operation's id).
    pub channel_id: String,
    /// The update counter: a higher nonce supersedes a lower one.
    pub nonce: i64,
    /// Base units the sender keeps.
    pub sender_balance: i64,
    /// Base units paid to the receiver so far (cumulative).
    pub receiver_balance: i64,
    /// The sender's seal over the state hash.
    pub sender_seal: Option<Seal>,
    /// The receiver's seal over the state hash (a cooperative close).
    pub receiver_seal: Option<Seal>,
}

impl ChannelUpdate {
    /// An update sealed by the channel's `sender`.
    pub fn signed(
        sender: &Identity,
        channel_id: impl Into<String>,
        nonce: i64,
        sender_balance: i64,
        receiver_balance: i64,
    ) -> Self {
        let mut u = ChannelUpdate {
            channel_id: channel_id.into(),
            nonce,
            sender_balance,
            receiver_balance,
            sender_seal: None,
            receiver_seal: None,
        };
        u.sender_seal = Some(sender.seal(SealKind::PaymentUpdate, &u.state_hash()));
        u
    }

    /// Adds the receiver's seal (both parties agree: a close with it settles at once).
    pub fn countersign(&mut self, receiver: &Identity) {
        self.receiver_seal = Some(receiver.seal(SealKind::PaymentUpdate, &self.state_hash()));
    }

    /// The reference's update with the same state (balances as Python ints).
    pub fn to_reference(&self) -> PaymentUpdate {
        PaymentUpdate {
            channel_id: self.channel_id.clone(),
            nonce: self.nonce,
            sender_balance: PyNumber::Int(self.sender_balance),
            receiver_balance: PyNumber::Int(self.receiver_balance),
            timestamp: 0.0,
            sender_signature: String::new(),
            receiver_signature: String::new(),
        }
    }

    /// The reference state hash of [`ChannelUpdate::to_reference`]; what the seals cover.
    pub fn state_hash(&self) -> String {
        self.to_reference().state_hash()
    }
}

impl WireModel for ChannelUpdate {
    fn from_value(v: &Value) -> Result<Self, ModelError> {
        let f = Fields::new("ChannelUpdate", v)?;
        let receiver_seal = match (
            f.opt_str(RECEIVER_KEY_FIELD)?,
            f.opt_str(RECEIVER_SIG_FIELD)?,
        ) {
            (None, None) => None,
            (Some(public_key), Some(signature)) => Some(Seal {
                public_key,
                signature,
            }),
            _ => {
                return Err(ModelError::Invalid {
                    model: "ChannelUpdate",
                    field: RECEIVER_SIG_FIELD,
                    reason: "receiver_public_key and receiver_signature must come together".into(),
                })
            }
        };
        Ok(ChannelUpdate {
            channel_id: f.str("channel_id")?,
            nonce: f.i64("nonce")?,
            sender_balance: f.i64("sender_balance")?,
            receiver_balance: f.i64("receiver_balance")?,
            sender_seal: Seal::read(&f)?,
            receiver_seal,
        })
    }

    fn to_value(&self) -> Value {
        let mut m = crate::map! {
            "channel_id" => self.channel_id.clone(),
            "nonce" => self.nonce,
            "sender_balance" => self.sender_balance,
            "receiver_balance" => self.receiver_balance,
        };
        if let Some(seal) = &self.sender_seal {
            seal.write(&mut m);
        }
        if let Some(seal) = &self.receiver_seal {
            m.insert(
                RECEIVER_KEY_FIELD.into(),
                Value::Str(seal.public_key.clone()),
            );
            m.insert(
                RECEIVER_SIG_FIELD.into(),
                Value::Str(seal.signature.clone()),
            );
        }
        Value::Object(m)
    }
}

/// What a channel operation does.
#[derive(Debug, Clone, PartialEq)]
pub enum ChannelAction {
    /// The actor (the sender) locks `deposit` toward `receiver`.
    Open {
        /// The paid party.
        receiver: String,
        /// Base units locked.
        deposit: i64,
        /// Seconds of chain time (header timestamps) a unilateral close waits.
        dispute_period: i64,
    },
    /// A participant closes with the latest update it holds (`None`: the opening state,
    /// everything back to the sender).
    Close {
        /// The channel.
        channel_id: String,
        /// The update, sealed by the sender (and by the receiver for a cooperative close).
        update: Option<ChannelUpdate>,
    },
    /// During the dispute period, a participant replaces the closing state with a newer
    /// update sealed by the sender.
    Dispute {
        /// The newer update (its `channel_id` names the channel).
        update: ChannelUpdate,
    },
    /// After the dispute period, a participant pays the closing state out.
    Settle {
        /// The channel.
        channel_id: String,
    },
}

impl ChannelAction {
    /// The operation's wire name.
    pub fn name(&self) -> &'static str {
        match self {
            ChannelAction::Open { .. } => "open",
            ChannelAction::Close { .. } => "close",
            ChannelAction::Dispute { .. } => "dispute",
            ChannelAction::Settle { .. } => "settle",
        }
    }

    /// The channel acted on (`None` for an open: its id is the operation's id).
    pub fn channel_id(&self) -> Option<&str> {
        match self {
            ChannelAction::Open { .. } => None,
            ChannelAction::Close { channel_id, .. } | ChannelAction::Settle { channel_id } => {
                Some(channel_id)
            }
            ChannelAction::Dispute { update } => Some(&update.channel_id),
        }
    }
}

/// A signed on-chain channel operation, paid for with a fee like a transfer.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelOp {
    /// The acting participant (its key seals the operation).
    pub actor: String,
    /// What it does.
    pub action: ChannelAction,
    /// Base units paid (base fee burned, the rest tips the generator).
    pub fee: i64,
    /// The actor's channel-operation counter: its previous one plus one, from 1.
    pub nonce: i64,
    /// The actor's key and signature over the id.
    pub seal: Option<Seal>,
}

impl ChannelOp {
    /// An operation by `actor`, sealed by it.
    pub fn signed(actor: &Identity, action: ChannelAction, fee: i64, nonce: i64) -> Self {
        let mut op = ChannelOp {
            actor: actor.peer_id().to_string(),
            action,
            fee,
            nonce,
            seal: None,
        };
        op.seal = Some(actor.seal(SealKind::ChannelOp, &op.compute_id()));
        op
    }

    fn unsealed_map(&self) -> Map {
        let mut m = crate::map! {
            "op" => self.action.name(),
            "actor" => self.actor.clone(),
            "fee" => self.fee,
            "nonce" => self.nonce,
        };
        match &self.action {
            ChannelAction::Open {
                receiver,
                deposit,
                dispute_period,
            } => {
                m.insert("receiver".into(), Value::Str(receiver.clone()));
                m.insert("deposit".into(), Value::Int(*deposit));
                m.insert("dispute_period".into(), Value::Int(*dispute_period));
            }
            ChannelAction::Close { channel_id, update } => {
                m.insert("channel_id".into(), Value::Str(channel_id.clone()));
                if let Some(u) = update {
                    m.insert("update".into(), u.to_value());
                }
            }
            ChannelAction::Dispute { update } => {
                m.insert("update".into(), update.to_value());
            }
            ChannelAction::Settle { channel_id } => {
                m.insert("channel_id".into(), Value::Str(channel_id.clone()));
            }
        }
        m
    }

    /// The id: `sha256_hex` of the CJSON of the wire object without its seal.
    pub fn compute_id(&self) -> String {
        content_id(&Value::Object(self.unsealed_map()))
    }

    /// Reads the `"channel_ops"` extension value of a block.
    pub fn read_list(v: &Value) -> Result<Vec<ChannelOp>, ModelError> {
        match v {
            Value::Array(items) => items.iter().map(ChannelOp::from_value).collect(),
            other => Err(ModelError::Invalid {
                model: "Block",
                field: CHANNEL_OPS_KEY,
                reason: format!("expected a list, got {}", other.type_name()),
            }),
        }
    }
}

fn read_update(f: &Fields<'_>) -> Result<ChannelUpdate, ModelError> {
    match f.get("update") {
        Some(v) => ChannelUpdate::from_value(v),
        None => Err(ModelError::Missing {
            model: "ChannelOp",
            field: "update",
        }),
    }
}

impl WireModel for ChannelOp {
    fn from_value(v: &Value) -> Result<Self, ModelError> {
        let f = Fields::new("ChannelOp", v)?;
        let action = match f.str("op")?.as_str() {
            "open" => ChannelAction::Open {
                receiver: f.str("receiver")?,
                deposit: f.i64("deposit")?,
                dispute_period: f.i64("dispute_period")?,
            },
            "close" => ChannelAction::Close {
                channel_id: f.str("channel_id")?,
                update: match f.get("update") {
                    None | Some(Value::Null) => None,
                    Some(_) => Some(read_update(&f)?),
                },
            },
            "dispute" => ChannelAction::Dispute {
                update: read_update(&f)?,
            },
            "settle" => ChannelAction::Settle {
                channel_id: f.str("channel_id")?,
            },
            other => {
                return Err(ModelError::Invalid {
                    model: "ChannelOp",
                    field: "op",
                    reason: format!("{other:?} is not open, close, dispute or settle"),
                })
            }
        };
        Ok(ChannelOp {
            actor: f.str("actor")?,
            action,
            fee: f.i64_or("fee", 0)?,
            nonce: f.i64("nonce")?,
            seal: Seal::read(&f)?,
        })
    }

    fn to_value(&self) -> Value {
        let mut m = self.unsealed_map();
        if let Some(seal) = &self.seal {
            seal.write(&mut m);
        }
        Value::Object(m)
    }
}

impl Block {
    /// The block's channel operations (the `"channel_ops"` extension; none when absent).
    pub fn channel_ops(&self) -> Result<Vec<ChannelOp>, ModelError> {
        match self.extensions.get(CHANNEL_OPS_KEY) {
            None => Ok(Vec::new()),
            Some(v) => ChannelOp::read_list(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::require_seal;

    fn key(n: u8) -> Identity {
        Identity::from_scalar_bytes(&[n; 32]).expect("scalar")
    }

    #[test]
    fn update_hash_is_the_reference_state_hash_with_int_balances() {
        let u = ChannelUpdate {
            channel_id: "ch-1".into(),
            nonce: 1,
            sender_balance: 90,
            receiver_balance: 10,
            sender_seal: None,
            receiver_seal: None,
        };
        assert_eq!(
            u.to_reference().state_preimage(),
            "{\"channel_id\": \"ch-1\", \"nonce\": 1, \"receiver_balance\": 10, \"sender_balance\": 90}"
        );
        assert_eq!(u.state_hash(), u.to_reference().state_hash());
    }

    #[test]
    fn updates_and_ops_round_trip_and_verify() {
        let (s, r) = (key(1), key(2));
        let mut u = ChannelUpdate::signed(&s, "c".repeat(64), 3, 70, 30);
        u.countersign(&r);
        let back = ChannelUpdate::from_wire_json(&u.to_wire_json()).expect("parses");
        assert_eq!(back, u);
        let hash = back.state_hash();
        assert!(require_seal(
            back.sender_seal.as_ref(),
            SealKind::PaymentUpdate,
            &hash,
            s.peer_id()
        )
        .is_ok());
        assert!(require_seal(
            back.receiver_seal.as_ref(),
            SealKind::PaymentUpdate,
            &hash,
            r.peer_id()
        )
        .is_ok());
        for action in [
            ChannelAction::Open {
                receiver: r.peer_id().into(),
                deposit: 100,
                dispute_period: 5,
            },
            ChannelAction::Close {
                channel_id: "c".repeat(64),
                update: Some(u.clone()),
            },
            ChannelAction::Close {
                channel_id: "c".repeat(64),
                update: None,
            },
            ChannelAction::Dispute { update: u.clone() },
            ChannelAction::Settle {
                channel_id: "c".repeat(64),
            },
        ] {
            let op = ChannelOp::signed(&s, action, 7, 2);
            let back = ChannelOp::from_wire_json(&op.to_wire_json()).expect("parses");
            assert_eq!(back, op);
            assert!(require_seal(
                back.seal.as_ref(),
                SealKind::ChannelOp,
                &back.compute_id(),
                s.peer_id()
            )
            .is_ok());
        }
    }

    #[test]
    fn the_op_id_covers_the_update_seals() {
        let (s, r) = (key(1), key(2));
        let mut u = ChannelUpdate::signed(&s, "c".repeat(64), 3, 70, 30);
        let plain = ChannelOp::signed(
            &r,
            ChannelAction::Close {
                channel_id: "c".repeat(64),
                update: Some(u.clone()),
            },
            1,
            1,
        );
        u.countersign(&r);
        let mut swapped = plain.clone();
        swapped.action = ChannelAction::Close {
            channel_id: "c".repeat(64),
            update: Some(u),
        };
        assert_ne!(plain.compute_id(), swapped.compute_id());
        let bad = crate::json::parse(r#"{"op":"burn","actor":"a","nonce":1}"#).expect("json");
        assert!(ChannelOp::from_value(&bad).is_err());
        assert!(ChannelOp::read_list(&Value::Int(1)).is_err());
    }
}
