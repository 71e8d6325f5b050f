//! Coin objects: the coinbase that mints a block's reward and the peer-to-peer transfer.
//!
//! Amounts are `f64` here because the reference hashes them as Python floats; the ids below
//! are therefore only as stable as the float arithmetic that produced the amounts. The
//! reference sends neither object between nodes (they exist only inside one node), so
//! their wire form is pydantic's `model_dump_json` in field-declaration order.
//!
//! Ids, exactly as the reference computes them:
//! * [`CoinbaseTransaction::compute_id`]: CJSON of
//!   `{"block_index", "block_reward", "outputs": [{"amount", "recipient"}, ...]}`; the
//!   timestamp and each output's `reason` and `domain_id` are not covered.
//! * [`TransferTransaction::compute_id`]: CJSON of
//!   `{"amount", "fee", "nonce", "recipient", "sender"}`; the timestamp is not covered.

use crate::cjson::{write_float, write_int, write_str};
use crate::fields::{Fields, ModelError};
use crate::hash::sha256_hex;
use crate::models::WireModel;
use crate::seal::Seal;
use crate::timestamp::Timestamp;
use crate::value::Value;

/// One credit of a coinbase.
#[derive(Debug, Clone, PartialEq)]
pub struct CoinbaseOutput {
    /// The peer credited.
    pub recipient: String,
    /// The amount credited.
    pub amount: f64,
    /// Why (`"block_generator"`, `"optimizer"`, `"evaluator"`, or empty).
    pub reason: String,
    /// The domain the credit relates to (empty for the generator).
    pub domain_id: String,
}

impl CoinbaseOutput {
    /// An output with the given recipient, amount, reason and domain.
    pub fn new(
        recipient: impl Into<String>,
        amount: f64,
        reason: impl Into<String>,
        domain_id: impl Into<String>,
    ) -> Self {
        CoinbaseOutput {
            recipient: recipient.into(),
            amount,
            reason: reason.into(),
            domain_id: domain_id.into(),
        }
    }

    fn read(v: &Value) -> Result<Self, ModelError> {
        let f = Fields::new("CoinbaseOutput", v)?;
        Ok(CoinbaseOutput {
            recipient: f.str("recipient")?,
            amount: f.f64("amount")?,
            reason: f.str_or("reason", "")?,
            domain_id: f.str_or("domain_id", "")?,
        })
    }

    fn to_value(&self) -> Value {
        Value::Object(crate::map! {
            "recipient" => self.recipient.clone(),
            "amount" => self.amount,
            "reason" => self.reason.clone(),
            "domain_id" => self.domain_id.clone(),
        })
    }
}

/// The block-reward transaction: the only way coins are created.
#[derive(Debug, Clone, PartialEq)]
pub struct CoinbaseTransaction {
    /// The block it belongs to.
    pub block_index: i64,
    /// The amount minted (excludes transaction fees).
    pub block_reward: f64,
    /// The credits, in order.
    pub outputs: Vec<CoinbaseOutput>,
    /// When it was made (not covered by the id).
    pub timestamp: Timestamp,
}

impl CoinbaseTransaction {
    /// The sum of the outputs, added in order (Python's `sum` of floats before 3.12).
    pub fn total_distributed(&self) -> f64 {
        self.outputs.iter().fold(0.0, |acc, o| acc + o.amount)
    }

    /// The CJSON preimage of the id:
    /// `{"block_index", "block_reward", "outputs": [{"amount", "recipient"}, ...]}`.
    pub fn id_preimage(&self) -> String {
        let mut s = String::with_capacity(64 + 80 * self.outputs.len());
        s.push_str("{\"block_index\": ");
        write_int(self.block_index, &mut s);
        s.push_str(", \"block_reward\": ");
        write_float(self.block_reward, &mut s);
        s.push_str(", \"outputs\": [");
        for (i, o) in self.outputs.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            s.push_str("{\"amount\": ");
            write_float(o.amount, &mut s);
            s.push_str(", \"recipient\": ");
            write_str(&o.recipient, &mut s);
            s.push('}');
        }
        s.push_str("]}");
        s
    }

    /// The reference id: `sha256_hex(preimage)`.
    pub fn compute_id(&self) -> String {
        sha256_hex(self.id_preimage())
    }
}

impl WireModel for CoinbaseTransaction {
    fn from_value(v: &Value) -> Result<Self, ModelError> {
        let f = Fields::new("CoinbaseTransaction", v)?;
        let outputs = f
            .list_or_empty("outputs")?
            .iter()
            .map(CoinbaseOutput::read)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CoinbaseTransaction {
            block_index: f.i64("block_index")?,
            block_reward: f.f64("block_reward")?,
            outputs,
            timestamp: f.timestamp("timestamp")?,
        })
    }

    fn to_value(&self) -> Value {
        Value::Object(crate::map! {
            "block_index" => self.block_index,
            "block_reward" => self.block_reward,
            "outputs" => self.outputs.iter().map(CoinbaseOutput::to_value).collect::<Vec<_>>(),
            "timestamp" => self.timestamp.wire(),
        })
    }
}

/// A peer-to-peer coin transfer (account model, replay-protected by `nonce`).
#[derive(Debug, Clone, PartialEq)]
pub struct TransferTransaction {
    /// The paying peer.
    pub sender: String,
    /// The paid peer.
    pub recipient: String,
    /// The amount moved.
    pub amount: f64,
    /// The fee on top of the amount.
    pub fee: f64,
    /// The sender's transfer counter (the first transfer uses 1).
    pub nonce: i64,
    /// When it was made (not covered by the id).
    pub timestamp: Timestamp,
    /// The sender's key and signature over the id (DOIN extension).
    pub seal: Option<Seal>,
}

impl TransferTransaction {
    /// The CJSON preimage of the id: `{"amount", "fee", "nonce", "recipient", "sender"}`.
    pub fn id_preimage(&self) -> String {
        let mut s = String::with_capacity(96 + self.sender.len() + self.recipient.len());
        s.push_str("{\"amount\": ");
        write_float(self.amount, &mut s);
        s.push_str(", \"fee\": ");
        write_float(self.fee, &mut s);
        s.push_str(", \"nonce\": ");
        write_int(self.nonce, &mut s);
        s.push_str(", \"recipient\": ");
        write_str(&self.recipient, &mut s);
        s.push_str(", \"sender\": ");
        write_str(&self.sender, &mut s);
        s.push('}');
        s
    }

    /// The reference id: `sha256_hex(preimage)`.
    pub fn compute_id(&self) -> String {
        sha256_hex(self.id_preimage())
    }
}

impl WireModel for TransferTransaction {
    fn from_value(v: &Value) -> Result<Self, ModelError> {
        let f = Fields::new("TransferTransaction", v)?;
        Ok(TransferTransaction {
            sender: f.str("sender")?,
            recipient: f.str("recipient")?,
            amount: f.f64("amount")?,
            fee: f.f64_or("fee", 0.0)?,
            nonce: f.i64_or("nonce", 0)?,
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
    fn spec_examples() {
        let cb = CoinbaseTransaction {
            block_index: 1,
            block_reward: 50.0,
            outputs: vec![CoinbaseOutput::new("alice", 50.0, "", "")],
            timestamp: Timestamp::EPOCH,
        };
        assert_eq!(
            cb.compute_id(),
            "9b01b47cc547bededc3ef2363b3e71798e1d77b6ce0d3053a3c9ee18dd89f694"
        );
        let tx = TransferTransaction {
            sender: "alice".into(),
            recipient: "bob".into(),
            amount: 20.0,
            fee: 0.0,
            nonce: 1,
            timestamp: Timestamp::EPOCH,
            seal: None,
        };
        assert_eq!(
            tx.compute_id(),
            "3e14a370f9db69e1bb802a9d6fed010bdc6ad1184658f89d6072dfe4dda29d76"
        );
    }

    #[test]
    fn refuses_non_finite_and_missing() {
        let v = crate::json::parse(r#"{"sender":"a","recipient":"b","timestamp":0}"#)
            .expect("valid JSON");
        assert!(matches!(
            TransferTransaction::from_value(&v),
            Err(ModelError::Missing {
                field: "amount",
                ..
            })
        ));
        let v = crate::json::parse(
            r#"{"block_index":1,"block_reward":"nan","outputs":[],"timestamp":0}"#,
        )
        .expect("valid JSON");
        assert!(CoinbaseTransaction::from_value(&v).is_err());
    }
}
