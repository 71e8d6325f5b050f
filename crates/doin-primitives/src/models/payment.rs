//! Payment-channel updates and their state hash.
//!
//! In the reference a `PaymentUpdate` is a Python dataclass, not a pydantic model: nothing
//! coerces its fields, so a balance built from an `int` stays an `int` and hashes as `1`,
//! not `1.0`. [`PyNumber`] keeps that distinction. The reference never sends updates between
//! nodes; the object form here is `dataclasses.asdict` order.
//!
//! [`PaymentUpdate::state_hash`] is `sha256_hex` of the CJSON of
//! `{"channel_id", "nonce", "receiver_balance", "sender_balance"}`; the timestamp and the two
//! signature fields are not covered.

use crate::cjson::{write_float, write_int, write_str};
use crate::fields::{Fields, ModelError};
use crate::hash::sha256_hex;
use crate::models::WireModel;
use crate::value::Value;

/// A number that keeps Python's int-versus-float distinction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PyNumber {
    /// A Python `int` (within 64 bits).
    Int(i64),
    /// A Python `float`.
    Float(f64),
}

impl PyNumber {
    /// The value as a float (Python's `float(x)`).
    pub fn as_f64(self) -> f64 {
        match self {
            PyNumber::Int(i) => i as f64,
            PyNumber::Float(f) => f,
        }
    }

    /// Appends the CJSON text (`1` for an int, Python repr for a float).
    pub fn write_cjson(self, out: &mut String) {
        match self {
            PyNumber::Int(i) => write_int(i, out),
            PyNumber::Float(f) => write_float(f, out),
        }
    }
}

impl From<f64> for PyNumber {
    fn from(f: f64) -> Self {
        PyNumber::Float(f)
    }
}

impl From<i64> for PyNumber {
    fn from(i: i64) -> Self {
        PyNumber::Int(i)
    }
}

impl From<PyNumber> for Value {
    fn from(n: PyNumber) -> Self {
        match n {
            PyNumber::Int(i) => Value::Int(i),
            PyNumber::Float(f) => Value::Float(f),
        }
    }
}

/// One off-chain state of a payment channel, signed by both parties.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentUpdate {
    /// The channel.
    pub channel_id: String,
    /// The update counter; a higher nonce supersedes a lower one.
    pub nonce: i64,
    /// What the sender keeps.
    pub sender_balance: PyNumber,
    /// What the receiver has been paid.
    pub receiver_balance: PyNumber,
    /// When it was made, in Unix seconds (not covered by the state hash).
    pub timestamp: f64,
    /// The sender's signature (the reference leaves it empty).
    pub sender_signature: String,
    /// The receiver's signature (the reference leaves it empty).
    pub receiver_signature: String,
}

impl PaymentUpdate {
    /// `sender_balance + receiver_balance`, as a float.
    pub fn total(&self) -> f64 {
        self.sender_balance.as_f64() + self.receiver_balance.as_f64()
    }

    /// The CJSON preimage of the state hash:
    /// `{"channel_id", "nonce", "receiver_balance", "sender_balance"}`.
    pub fn state_preimage(&self) -> String {
        let mut s = String::with_capacity(112 + self.channel_id.len());
        s.push_str("{\"channel_id\": ");
        write_str(&self.channel_id, &mut s);
        s.push_str(", \"nonce\": ");
        write_int(self.nonce, &mut s);
        s.push_str(", \"receiver_balance\": ");
        self.receiver_balance.write_cjson(&mut s);
        s.push_str(", \"sender_balance\": ");
        self.sender_balance.write_cjson(&mut s);
        s.push('}');
        s
    }

    /// The reference state hash: `sha256_hex(preimage)`.
    pub fn state_hash(&self) -> String {
        sha256_hex(self.state_preimage())
    }
}

fn read_number(f: &Fields<'_>, field: &'static str) -> Result<PyNumber, ModelError> {
    let invalid = |reason: String| ModelError::Invalid {
        model: "PaymentUpdate",
        field,
        reason,
    };
    match f.get(field) {
        None => Err(ModelError::Missing {
            model: "PaymentUpdate",
            field,
        }),
        Some(Value::Int(i)) => Ok(PyNumber::Int(*i)),
        Some(Value::Float(x)) if x.is_finite() => Ok(PyNumber::Float(*x)),
        Some(Value::Float(_)) => Err(invalid(
            "number is not finite (NaN and Infinity are refused)".into(),
        )),
        Some(Value::BigInt(_)) => Err(invalid("integer out of the 64-bit range".into())),
        Some(other) => Err(invalid(format!(
            "expected a number, got {}",
            other.type_name()
        ))),
    }
}

impl WireModel for PaymentUpdate {
    fn from_value(v: &Value) -> Result<Self, ModelError> {
        let f = Fields::new("PaymentUpdate", v)?;
        Ok(PaymentUpdate {
            channel_id: f.str("channel_id")?,
            nonce: f.i64("nonce")?,
            sender_balance: read_number(&f, "sender_balance")?,
            receiver_balance: read_number(&f, "receiver_balance")?,
            timestamp: f.f64("timestamp")?,
            sender_signature: f.str_or("sender_signature", "")?,
            receiver_signature: f.str_or("receiver_signature", "")?,
        })
    }

    fn to_value(&self) -> Value {
        Value::Object(crate::map! {
            "channel_id" => self.channel_id.clone(),
            "nonce" => self.nonce,
            "sender_balance" => self.sender_balance,
            "receiver_balance" => self.receiver_balance,
            "timestamp" => self.timestamp,
            "sender_signature" => self.sender_signature.clone(),
            "receiver_signature" => self.receiver_signature.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_and_int_balances() {
        let mut u = PaymentUpdate {
            channel_id: "ch-1".into(),
            nonce: 1,
            sender_balance: 90.0.into(),
            receiver_balance: 10.0.into(),
            timestamp: 0.0,
            sender_signature: String::new(),
            receiver_signature: String::new(),
        };
        assert_eq!(
            u.state_hash(),
            "a2b3c5acf5b13b568dadcea599f3121dc958884366af0a8ba0e0447ac545d0ec"
        );
        u.sender_balance = PyNumber::Int(90);
        assert!(u.state_preimage().ends_with("\"sender_balance\": 90}"));
        assert_eq!(u.total(), 100.0);
    }
}
