//! [`ChannelPayment`]: inference paid through payment channels, the check a node starts
//! with.
//!
//! A domain whose `inference_price` is 0 is served free, voucher or not. Otherwise the
//! request's `payment` must be a [`ChannelUpdate`] (its wire JSON, as `doin-node wallet
//! channel update` prints it) that
//! * the chain accepts ([`doin_consensus::ChainState::check_channel_update`]: the channel
//!   is open, the sender's seal holds, the balances sum to the deposit, the nonce is above
//!   the one on chain),
//! * pays this node: the channel's receiver is this node's address,
//! * follows the newest voucher this node holds for the channel
//!   ([`doin_consensus::channel::check_successor`]: a strictly higher nonce) and pays at
//!   least the price more than it.
//!
//! The first two are asked of the chain before the request is recorded; the last is the
//! booking, done under the log's lock in the transaction that records the request, where
//! the voucher becomes the channel's newest ([`super::vouchers`]). So a replayed or
//! concurrent copy of a voucher finds it already held and is refused. Each refusal
//! answers `402` with the rule broken.

use doin_consensus::channel::check_successor;
use doin_primitives::identity::peer_id_of_public_key;
use doin_primitives::models::{ChannelUpdate, WireModel};
use doin_primitives::{Timestamp, Value};

use super::vouchers::{self, HeldVoucher, MAX_UNSETTLED_CHANNELS};
use super::{PaymentCheck, PaymentDecision, PaymentRequest};
use crate::chain_service::WeakChainHandle;

/// Inference paid with payment-channel vouchers (module doc).
pub struct ChannelPayment {
    me: String,
    chain: WeakChainHandle,
    runtime: tokio::runtime::Handle,
}

impl ChannelPayment {
    /// The check of node `me`, asking `chain` (called from blocking threads of `runtime`).
    pub fn new(me: &str, chain: WeakChainHandle, runtime: tokio::runtime::Handle) -> Self {
        ChannelPayment {
            me: me.to_owned(),
            chain,
            runtime,
        }
    }
}

/// Reads a request's `payment` as a channel update.
fn voucher_of(v: &Value) -> Result<ChannelUpdate, String> {
    ChannelUpdate::from_value(v).map_err(|e| format!("payment is not a channel update: {e}"))
}

impl PaymentCheck for ChannelPayment {
    fn check(&self, r: &PaymentRequest<'_>) -> PaymentDecision {
        let refuse = |reason: String| PaymentDecision::Refuse { reason };
        if r.price == 0 {
            return PaymentDecision::Accept { amount: 0 };
        }
        let Some(voucher) = r.voucher else {
            return refuse(format!(
                "domain {} costs {} base units per request: send `payment`, a channel update \
                 paying this node ({}) at least that much more than your previous one",
                r.domain_id, r.price, self.me
            ));
        };
        let update = match voucher_of(voucher) {
            Ok(u) => u,
            Err(reason) => return refuse(reason),
        };
        let Some(chain) = self.chain.upgrade() else {
            return refuse("the node is stopping".into());
        };
        let checked = match self.runtime.block_on(chain.check_channel_update(update)) {
            Ok(c) => c,
            Err(None) => return refuse("the node is stopping".into()),
            Err(Some(e)) => return refuse(format!("voucher refused by the chain: {e}")),
        };
        if checked.channel.receiver != self.me {
            return refuse(format!(
                "voucher is for channel {} paying {}, not this node ({})",
                checked.channel.channel_id, checked.channel.receiver, self.me
            ));
        }
        PaymentDecision::Accept { amount: r.price }
    }

    fn book(
        &self,
        r: &PaymentRequest<'_>,
        _checked: u64,
        tx: &rusqlite::Transaction<'_>,
    ) -> Result<u64, String> {
        match r.voucher {
            Some(v) if r.price > 0 => {
                book_voucher(tx, &voucher_of(v)?, r.price, Timestamp::now_utc())
            }
            _ => Ok(0),
        }
    }
}

/// Books `update` (already checked against the chain) as its channel's newest voucher if
/// it follows the one held (or the opening state) and pays at least `price` more; returns
/// the base units it newly pays.
pub fn book_voucher(
    conn: &rusqlite::Connection,
    update: &ChannelUpdate,
    price: u64,
    now: Timestamp,
) -> Result<u64, String> {
    let storage = |e: rusqlite::Error| format!("the voucher book could not be read: {e}");
    let held = vouchers::newest(conn, &update.channel_id).map_err(storage)?;
    // The chain checked that the balances sum to the deposit and that the seal is the
    // channel's sender's, so both can be read off the update.
    let deposit = (i128::from(update.sender_balance) + i128::from(update.receiver_balance))
        .try_into()
        .unwrap_or(0u64);
    let sender = update
        .sender_seal
        .as_ref()
        .and_then(|s| peer_id_of_public_key(&s.public_key).ok())
        .map(String::from)
        .ok_or("voucher has no sender seal")?;
    let previous = match &held {
        Some(h) if h.settled => {
            return Err(format!(
                "channel {} is already paid out to this node",
                update.channel_id
            ))
        }
        Some(h) => h.update.clone(),
        None => {
            let open = vouchers::count_unsettled(conn).map_err(storage)?;
            if open >= MAX_UNSETTLED_CHANNELS {
                return Err(format!(
                    "this node holds vouchers of {open} unsettled channels (at most \
                     {MAX_UNSETTLED_CHANNELS}); retry once some are settled"
                ));
            }
            // An open channel's state on chain is its opening state.
            ChannelUpdate {
                channel_id: update.channel_id.clone(),
                nonce: 0,
                sender_balance: update.sender_balance + update.receiver_balance,
                receiver_balance: 0,
                sender_seal: None,
                receiver_seal: None,
            }
        }
    };
    let newly = check_successor(&previous, update).map_err(|e| {
        format!(
            "voucher refused: {e} (this node holds nonce {} paying {} base units)",
            previous.nonce, previous.receiver_balance
        )
    })?;
    if newly < price {
        return Err(format!(
            "voucher pays {newly} base units more than the one held (nonce {}), the price is \
             {price}",
            previous.nonce
        ));
    }
    let next = HeldVoucher {
        sender,
        deposit,
        update: update.clone(),
        requests: held.map_or(0, |h| h.requests) + 1,
        updated_at: now,
        settled: false,
    };
    match vouchers::hold(conn, &next) {
        Ok(true) => Ok(newly),
        Ok(false) => Err(format!(
            "voucher refused: a voucher with nonce {} or newer is held",
            update.nonce
        )),
        Err(e) => Err(format!("the voucher book could not be written: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::identity::Identity;

    #[test]
    fn a_voucher_books_once_and_must_pay_the_price_more_than_the_one_held() {
        let conn = rusqlite::Connection::open_in_memory().expect("db");
        conn.execute_batch(vouchers::SCHEMA).expect("schema");
        let key = Identity::from_scalar_bytes(&[9; 32]).expect("key");
        let id = "d".repeat(64);
        let v = |nonce, paid| ChannelUpdate::signed(&key, &id, nonce, 1_000 - paid, paid);
        let now = Timestamp::from_unix_micros(1_767_225_600_000_000);
        assert_eq!(book_voucher(&conn, &v(1, 10), 10, now), Ok(10));
        let replay = book_voucher(&conn, &v(1, 10), 10, now).unwrap_err();
        assert!(replay.contains("not newer"), "{replay}");
        let under = book_voucher(&conn, &v(2, 15), 10, now).unwrap_err();
        assert!(under.contains("pays 5 base units more"), "{under}");
        let less = book_voucher(&conn, &v(3, 5), 10, now).unwrap_err();
        assert!(less.contains("less than the previous"), "{less}");
        assert_eq!(book_voucher(&conn, &v(5, 35), 10, now), Ok(25));
        let held = vouchers::newest(&conn, &id).expect("read").expect("held");
        assert_eq!((held.update.nonce, held.paid(), held.requests), (5, 35, 2));
        assert_eq!(
            (held.sender.as_str(), held.deposit),
            (key.peer_id().as_str(), 1_000)
        );
        vouchers::mark_settled(&conn, &id).expect("mark");
        let late = book_voucher(&conn, &v(6, 45), 10, now).unwrap_err();
        assert!(late.contains("already paid out"), "{late}");
    }
}
