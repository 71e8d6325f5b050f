//! The payment seam of inference: a [`PaymentCheck`] the service asks before it queues a
//! request.
//!
//! A request may carry `payment`, opaque JSON to the inference service (a payment-channel
//! update voucher, once channels exist). The check sees the request's domain, client,
//! price and voucher and either accepts it with the amount it collects or refuses it with
//! a reason, which the client gets as `402 Payment Required`. The voucher of an accepted
//! request is recorded with it, for settlement.
//!
//! A node starts with [`super::ChannelPayment`]: a domain's `inference_price` is paid with
//! payment-channel vouchers. [`FreeInference`] accepts every request and collects nothing
//! (for an embedding application that charges otherwise).

use doin_primitives::Value;

/// What a payment check is asked about.
#[derive(Debug, Clone, Copy)]
pub struct PaymentRequest<'a> {
    /// The inference task the payment is for.
    pub task_id: &'a str,
    /// The domain served.
    pub domain_id: &'a str,
    /// Who asks (as the client names itself).
    pub client_id: &'a str,
    /// The domain's price per request, base units.
    pub price: u64,
    /// The request's `payment` field, when it has one.
    pub voucher: Option<&'a Value>,
}

/// A payment check's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentDecision {
    /// Serve the request; `amount` base units are collected for it.
    Accept {
        /// What the request pays, base units.
        amount: u64,
    },
    /// Do not serve it; the client is told `reason` (402).
    Refuse {
        /// Why, for the client.
        reason: String,
    },
}

/// Decides whether an inference request is paid for.
pub trait PaymentCheck: Send + Sync + 'static {
    /// The decision for one request (called once, before the request is queued; it may
    /// take time, e.g. to ask the chain, so it runs outside the log's lock).
    fn check(&self, request: &PaymentRequest<'_>) -> PaymentDecision;

    /// Books an accepted payment in `tx`, the transaction that records the request, under
    /// the log's lock: the final word, so that two concurrent requests cannot spend one
    /// voucher twice and a voucher is counted exactly when its request is recorded.
    /// `checked` is what [`PaymentCheck::check`] accepted; returns what is collected, or
    /// a refusal reason (402, nothing recorded). By default it books nothing.
    fn book(
        &self,
        request: &PaymentRequest<'_>,
        checked: u64,
        tx: &rusqlite::Transaction<'_>,
    ) -> Result<u64, String> {
        let _ = (request, tx);
        Ok(checked)
    }
}

/// The default check: every request is served free (amount 0), whatever its price.
#[derive(Debug, Clone, Copy, Default)]
pub struct FreeInference;

impl PaymentCheck for FreeInference {
    fn check(&self, _: &PaymentRequest<'_>) -> PaymentDecision {
        PaymentDecision::Accept { amount: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_serves_free_whatever_the_price() {
        let request = PaymentRequest {
            task_id: "t",
            domain_id: "d",
            client_id: "c",
            price: 500,
            voucher: None,
        };
        assert_eq!(
            FreeInference.check(&request),
            PaymentDecision::Accept { amount: 0 }
        );
    }
}
