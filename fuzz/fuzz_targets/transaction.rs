//! Transactions and their payloads: accepted optimae, coinbase, transfers, payments,
//! channel operations and channel updates.
#![no_main]

use doin_consensus::{AcceptedOptimae, Coinbase};
use doin_primitives::models::{
    ChannelOp, ChannelUpdate, CoinbaseTransaction, PaymentUpdate, Transaction,
    TransferTransaction, WireModel,
};
use doin_primitives::Value;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(v) = doin_primitives::json::parse(text) else {
        return;
    };
    if let Ok(tx) = Transaction::from_value(&v) {
        let _ = (tx.compute_id(), tx.id_is_valid());
        let _ = AcceptedOptimae::from_tx(&tx).map(|a| a.payload());
        let _ = Coinbase::from_value(&Value::Object(tx.payload.clone()));
    }
    let _ = Coinbase::from_value(&v).map(|c| c.to_value());
    let _ = CoinbaseTransaction::from_value(&v).map(|c| (c.compute_id(), c.total_distributed()));
    let _ = TransferTransaction::from_value(&v).map(|t| t.compute_id());
    let _ = PaymentUpdate::from_value(&v).map(|p| (p.state_hash(), p.total()));
    let _ = ChannelOp::from_value(&v).map(|o| (o.compute_id(), o.to_wire_json()));
    let _ = ChannelUpdate::from_value(&v).map(|u| u.state_hash());
});
