//! Settlement by the receiver: the node turns the vouchers it was paid with
//! ([`super::vouchers`]) into coins on chain.
//!
//! * Close: the operator asks (`POST /inference/channels/{id}/close`) and the node closes
//!   the channel with the newest voucher it holds, a unilateral close sealed with its key.
//! * The watcher (task `settlement`): at every new tip it looks at each channel with an
//!   unsettled voucher. A channel closing on an update older than the newest voucher held
//!   (a client closing on a stale update) is disputed with the newest, automatically and
//!   at once, before the dispute period ends; a closing channel whose period has passed in
//!   chain time is settled (paid out); a channel paid out on chain is no longer watched.
//!   An operation not in the chain after [`RETRY_BLOCKS`] blocks is submitted again.
//!
//! Operations are signed with the node's key at its next channel-operation nonce (after
//! those pending in its pool) and a fee from the base fee: "high" for closes and
//! settlements, "urgent" for disputes, which must beat a deadline.

use std::collections::BTreeMap;
use std::sync::Arc;

use doin_consensus::channel::{Channel, ChannelStatus};
use doin_consensus::fee_market::suggested_fees;
use doin_primitives::identity::Identity;
use doin_primitives::models::{ChannelAction, ChannelOp};
use tokio::sync::watch;

use super::vouchers::HeldVoucher;
use super::InferenceService;
use crate::chain_service::WeakChainHandle;
use crate::view::ChainView;

/// Blocks after which an operation the watcher submitted, and that the chain does not
/// show yet, is submitted again (the pool may have dropped it).
pub const RETRY_BLOCKS: i64 = 5;
/// The pool source the node's own settlement operations are counted under.
const SOURCE: &str = "self:settlement";

/// Why a close was not submitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettleError {
    /// This node holds no voucher for the channel.
    #[error("this node holds no voucher for channel {0}")]
    NoVoucher(String),
    /// The channel is not open on chain (closing, closed, or not in this node's chain).
    #[error("{0}")]
    NotOpen(String),
    /// The channel pool refused the operation.
    #[error("channel operation refused: {0}")]
    Refused(String),
    /// The node is stopping.
    #[error("the node is stopping")]
    Stopped,
    /// The voucher book could not be read.
    #[error("{0}")]
    Storage(String),
}

/// A close the node submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// The operation's id.
    pub operation_id: String,
    /// The voucher's nonce.
    pub nonce: i64,
    /// What the voucher pays this node, base units.
    pub paid: u64,
    /// Seconds of chain time before the close can be settled.
    pub dispute_period_secs: u64,
}

/// What the watcher does next for a channel it holds a voucher of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Dispute with the newest voucher: the channel closes on an older update and the
    /// dispute period has not passed.
    Dispute,
    /// Settle: the channel is closing and its dispute period has passed (chain time).
    Settle,
    /// Stop watching: the channel is paid out.
    Forget,
}

/// The watcher's rule for channel `c` as the chain leaves it, with `held` the newest
/// voucher of it and `tip_time_micros` the tip's timestamp: dispute a close on an older
/// update before the deadline, settle a close after it, forget a closed channel, and
/// leave an open channel (or a close on the newest voucher still in its period) alone.
pub fn next_step(c: &Channel, held: &HeldVoucher, tip_time_micros: i64) -> Option<Step> {
    match c.status {
        ChannelStatus::Open => None,
        ChannelStatus::Closed => Some(Step::Forget),
        ChannelStatus::Closing {
            deadline_micros, ..
        } => {
            if tip_time_micros >= deadline_micros {
                Some(Step::Settle)
            } else if c.nonce < held.update.nonce.unsigned_abs() {
                Some(Step::Dispute)
            } else {
                None
            }
        }
    }
}

/// What the watcher last submitted for a channel (the operation's name), and at which tip.
type Attempt = (&'static str, i64);

/// The node's settlement side: its key, its chain, its voucher book.
#[derive(Clone)]
pub struct Settlement {
    identity: Arc<Identity>,
    chain: WeakChainHandle,
    view: watch::Receiver<Arc<ChainView>>,
    service: Arc<InferenceService>,
}

impl Settlement {
    /// The settlement side of a node.
    pub fn new(
        identity: Arc<Identity>,
        chain: WeakChainHandle,
        view: watch::Receiver<Arc<ChainView>>,
        service: Arc<InferenceService>,
    ) -> Self {
        Settlement {
            identity,
            chain,
            view,
            service,
        }
    }

    /// The voucher book (for the API).
    pub fn service(&self) -> &Arc<InferenceService> {
        &self.service
    }

    async fn held(&self, channel_id: &str) -> Result<Option<HeldVoucher>, SettleError> {
        let service = self.service.clone();
        let id = channel_id.to_owned();
        tokio::task::spawn_blocking(move || service.held_voucher(&id))
            .await
            .map_err(|e| SettleError::Storage(e.to_string()))?
            .map_err(|e| SettleError::Storage(e.to_string()))
    }

    async fn channel(&self, channel_id: &str) -> Result<(Option<Channel>, i64), SettleError> {
        let chain = self.chain.upgrade().ok_or(SettleError::Stopped)?;
        let info = chain
            .channel_info(Some(channel_id), None)
            .await
            .map_err(|_| SettleError::Stopped)?;
        Ok((info.channel, info.tip_time_micros))
    }

    /// Signs `action` at the node's next channel-operation nonce with the fee of
    /// `priority` and hands it to the pool (and the network).
    async fn submit(&self, action: ChannelAction, priority: &str) -> Result<String, SettleError> {
        let chain = self.chain.upgrade().ok_or(SettleError::Stopped)?;
        let me = self.identity.peer_id();
        let info = chain
            .channel_info(None, Some(me))
            .await
            .map_err(|_| SettleError::Stopped)?;
        let nonce = info.nonces.map_or(1, |(_, next)| next);
        let fee = suggested_fees(self.view.borrow().base_fee)
            .iter()
            .find(|(name, _, _)| *name == priority)
            .map_or(0, |(_, _, total)| *total);
        let op = ChannelOp::signed(
            &self.identity,
            action,
            i64::try_from(fee).unwrap_or(i64::MAX),
            i64::try_from(nonce).unwrap_or(i64::MAX),
        );
        chain
            .submit_channel_op(op, SOURCE, true)
            .await
            .map_err(|e| {
                e.map_or(SettleError::Stopped, |e| {
                    SettleError::Refused(e.to_string())
                })
            })
    }

    /// Closes `channel_id` with the newest voucher held (the watcher settles it once the
    /// dispute period has passed).
    pub async fn close(&self, channel_id: &str) -> Result<Submitted, SettleError> {
        let held = self
            .held(channel_id)
            .await?
            .ok_or_else(|| SettleError::NoVoucher(channel_id.to_owned()))?;
        let (channel, _) = self.channel(channel_id).await?;
        let channel = channel.ok_or_else(|| {
            SettleError::NotOpen(format!("channel {channel_id} is not in this node's chain"))
        })?;
        if channel.status != ChannelStatus::Open {
            return Err(SettleError::NotOpen(format!(
                "channel {channel_id} is {}: the watcher disputes or settles it",
                channel.status.name()
            )));
        }
        let action = ChannelAction::Close {
            channel_id: channel_id.to_owned(),
            update: Some(held.update.clone()),
        };
        let operation_id = self.submit(action, "high").await?;
        tracing::info!(channel = %channel_id, nonce = held.update.nonce, paid = held.paid(), "closing a paid channel with the newest voucher");
        Ok(Submitted {
            operation_id,
            nonce: held.update.nonce,
            paid: held.paid(),
            dispute_period_secs: channel.dispute_period_secs,
        })
    }

    /// One look at every channel with an unsettled voucher (module doc), at tip `tip`.
    async fn watch_once(&self, tip: i64, attempts: &mut BTreeMap<String, Attempt>) {
        let service = self.service.clone();
        let held = match tokio::task::spawn_blocking(move || service.unsettled_vouchers()).await {
            Ok(Ok(h)) => h,
            Ok(Err(e)) => return tracing::warn!("settlement: {e}"),
            Err(e) => return tracing::warn!("settlement: {e}"),
        };
        attempts.retain(|id, _| held.iter().any(|h| &h.update.channel_id == id));
        for h in held {
            let id = h.update.channel_id.clone();
            let Ok((Some(c), tip_time)) = self.channel(&id).await else {
                continue;
            };
            let step = match next_step(&c, &h, tip_time) {
                Some(Step::Forget) => {
                    if c.receiver_balance < h.paid() {
                        tracing::warn!(channel = %id, paid_out = c.receiver_balance, held = h.paid(), "a channel was paid out below the newest voucher held");
                    }
                    let service = self.service.clone();
                    let _ = tokio::task::spawn_blocking(move || service.mark_settled(&id)).await;
                    continue;
                }
                Some(step) => step,
                None => continue,
            };
            let (action, priority, what) = match step {
                Step::Dispute => {
                    let update = h.update.clone();
                    let action = ChannelAction::Dispute { update };
                    (action, "urgent", "disputing a close on a stale update")
                }
                _ => {
                    let action = ChannelAction::Settle {
                        channel_id: id.clone(),
                    };
                    (action, "high", "settling a closed channel")
                }
            };
            let kind = action.name();
            if attempts
                .get(&id)
                .is_some_and(|(k, at)| *k == kind && tip < at + RETRY_BLOCKS)
            {
                continue;
            }
            match self.submit(action, priority).await {
                Ok(op) => {
                    tracing::info!(channel = %id, on_chain = c.nonce, newest = h.update.nonce, operation = %op, "{what}")
                }
                Err(e) => tracing::warn!(channel = %id, "settlement: {kind} not submitted: {e}"),
            }
            attempts.insert(id, (kind, tip));
        }
    }

    /// The watcher: a look at every new tip until `stop` fires.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut view = self.view.clone();
        let mut attempts = BTreeMap::new();
        let mut last = None;
        loop {
            let tip = view.borrow_and_update().tip_index;
            if last != Some(tip) {
                last = Some(tip);
                self.watch_once(tip, &mut attempts).await;
            }
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                changed = view.changed() => if changed.is_err() { return },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::models::ChannelUpdate;
    use doin_primitives::Timestamp;

    #[test]
    fn the_watcher_disputes_a_stale_close_in_time_and_settles_after_the_period() {
        let key = Identity::from_scalar_bytes(&[3; 32]).expect("key");
        let held = HeldVoucher {
            sender: key.peer_id().to_string(),
            deposit: 100,
            update: ChannelUpdate::signed(&key, "c", 3, 70, 30),
            requests: 3,
            updated_at: Timestamp::from_unix_micros(0),
            settled: false,
        };
        let channel = |status, nonce| Channel {
            channel_id: "c".into(),
            sender: key.peer_id().to_string(),
            receiver: "r".into(),
            deposit: 100,
            dispute_period_secs: 5,
            opened_height: 1,
            status,
            nonce,
            sender_balance: 90,
            receiver_balance: 10,
        };
        let closing = ChannelStatus::Closing {
            closer: "s".into(),
            deadline_micros: 1_000,
        };
        let step = |status: &ChannelStatus, nonce, at| {
            next_step(&channel(status.clone(), nonce), &held, at)
        };
        assert_eq!(step(&ChannelStatus::Open, 0, 5_000), None);
        assert_eq!(step(&closing, 1, 999), Some(Step::Dispute));
        assert_eq!(step(&closing, 3, 999), None, "closed on the newest: wait");
        assert_eq!(
            step(&closing, 1, 1_000),
            Some(Step::Settle),
            "too late to dispute"
        );
        assert_eq!(step(&closing, 3, 1_000), Some(Step::Settle));
        assert_eq!(step(&ChannelStatus::Closed, 1, 0), Some(Step::Forget));
    }
}
