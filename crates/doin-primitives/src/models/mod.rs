//! The protocol's data models, each with its reference id and its wire form.
//!
//! Every model reads its wire object leniently ([`crate::fields`]), writes the wire object
//! in the reference's field-declaration order ([`WireModel::to_value`]), and computes its
//! id from content exactly as the reference does. A claimed id received from a peer is kept
//! as received and checked against the recomputed one by the validators, never trusted.

mod block;
pub mod block_layout;
pub mod channel;
pub mod coin;
pub mod domain;
pub mod message;
pub mod optimae;
pub mod payload;
pub mod payment;
pub mod task;
mod transaction;
pub mod transfer;

pub use block::{Block, BlockError, BlockHeader, GENESIS_HASH};
pub use block_layout::{BlockLayout, ExtensionCommit, EXTENSION_COMMIT_TYPE};
pub use channel::{ChannelAction, ChannelOp, ChannelUpdate, CHANNEL_OPS_KEY};
pub use coin::{CoinbaseOutput, CoinbaseTransaction, TransferTransaction};
pub use domain::{Domain, DomainConfig};
pub use message::{InboundBody, Message, MessageType};
pub use optimae::{optimae_id, Optimae};
pub use payload::Payload;
pub use payment::{PaymentUpdate, PyNumber};
pub use task::{Task, TaskStatus, TaskType};
pub use transaction::{Transaction, TransactionType};
pub use transfer::{Transfer, TRANSFERS_KEY};

use crate::fields::ModelError;
use crate::value::Value;

/// A model that travels as JSON.
pub trait WireModel: Sized {
    /// Reads the model from a parsed wire value.
    fn from_value(v: &Value) -> Result<Self, ModelError>;

    /// The wire object, keys in the reference's declaration order.
    fn to_value(&self) -> Value;

    /// Parses the model from wire JSON text.
    fn from_wire_json(text: &str) -> Result<Self, ModelError> {
        Self::from_value(&crate::json::parse(text)?)
    }

    /// The compact wire JSON text.
    fn to_wire_json(&self) -> String {
        crate::json::to_wire_json(&self.to_value())
    }
}
