//! The pools beside the chain: pending transfers ([`Mempool`]), channel operations
//! ([`ChannelPool`]), sealed commitments ([`CommitmentPool`]) and the claims and votes of
//! rejection evidence ([`RejectionPool`]), each admitting against the state at the tip.
//! What is submitted with `relay` is also queued for the network to gossip; a full relay
//! queue only costs gossip, as this node's blocks still carry what it admitted.

use std::sync::Arc;

use doin_consensus::carried::VerifiedOptimae;
use doin_consensus::commitment::OptimaeCommitment;
use doin_consensus::state::ChainState;
use doin_primitives::models::{ChannelOp, Transfer};
use tokio::sync::mpsc;

use super::handle::{AccountInfo, Relay};
use super::RELAY_QUEUE;
use crate::channel_pool::{ChannelInfo, ChannelPool, ChannelPoolError};
use crate::commitment_pool::{CommitmentPool, CommitmentPoolError};
use crate::evidence::RejectionPool;
use crate::mempool::{Mempool, MempoolConfig, MempoolError};

/// The chain service's pools and the sending ends of their relay queues.
pub(super) struct Pools {
    /// Transfers waiting for a block.
    pub(super) mempool: Mempool,
    relay: mpsc::Sender<Transfer>,
    /// Claims and votes for rejection evidence ([`crate::evidence`]).
    pub(super) rejections: Arc<RejectionPool>,
    /// Channel operations waiting for a block.
    pub(super) channel_pool: ChannelPool,
    channel_relay: mpsc::Sender<ChannelOp>,
    /// Commitments waiting for a block.
    pub(super) commitments: CommitmentPool,
    commitment_relay: mpsc::Sender<OptimaeCommitment>,
    optimae_relay: mpsc::Sender<VerifiedOptimae>,
}

/// The receiving ends of the relay queues, for the handle to give to the network.
pub(super) struct Relays {
    /// Transfers submitted with `relay`.
    pub(super) transfers: Relay<Transfer>,
    /// Channel operations submitted with `relay`.
    pub(super) channel_ops: Relay<ChannelOp>,
    /// Commitments submitted with `relay`.
    pub(super) commitments: Relay<OptimaeCommitment>,
    /// This node's verified optimae, for any minter to carry.
    pub(super) optimae: Relay<VerifiedOptimae>,
}

/// A bounded relay queue: the service's sender and the receiver the network takes.
fn relay_queue<T>() -> (mpsc::Sender<T>, Relay<T>) {
    let (tx, rx) = mpsc::channel(RELAY_QUEUE);
    (tx, Arc::new(std::sync::Mutex::new(Some(rx))))
}

impl Pools {
    /// Empty pools, the mempool (and the channel pool's rate limit) per `mempool`.
    pub(super) fn new(mempool: MempoolConfig) -> (Pools, Relays) {
        let (relay, transfers) = relay_queue();
        let (channel_relay, channel_ops) = relay_queue();
        let (commitment_relay, commitments) = relay_queue();
        let (optimae_relay, optimae) = relay_queue();
        let pools = Pools {
            channel_pool: ChannelPool::new(
                crate::channel_pool::DEFAULT_CHANNEL_POOL_CAPACITY,
                mempool.rate_limit,
            ),
            mempool: Mempool::new(mempool),
            relay,
            rejections: Arc::new(RejectionPool::new()),
            channel_relay,
            commitments: CommitmentPool::new(crate::commitment_pool::DEFAULT_CAPACITY),
            commitment_relay,
            optimae_relay,
        };
        let relays = Relays {
            transfers,
            channel_ops,
            commitments,
            optimae,
        };
        (pools, relays)
    }

    /// Drops what no longer fits the tip of `state` from every pool (`now_micros` judges
    /// channel deadlines).
    pub(super) fn prune(&mut self, state: &ChainState, now_micros: i64) {
        self.mempool.prune(state);
        self.rejections.prune(state);
        self.channel_pool.prune(state, now_micros);
        self.commitments.prune(state, now_micros);
    }

    /// Admits a transfer from peer `source` to the mempool; returns its id.
    pub(super) fn submit_transfer(
        &mut self,
        transfer: Transfer,
        source: &str,
        relay: bool,
        state: &ChainState,
    ) -> Result<String, MempoolError> {
        let copy = relay.then(|| transfer.clone());
        let outcome = self
            .mempool
            .insert(transfer, source, state, std::time::Instant::now());
        if let (Ok(_), Some(t)) = (&outcome, copy) {
            let _ = self.relay.try_send(t);
        }
        outcome
    }

    /// Admits a channel operation from peer `source` to the channel pool; returns its id.
    pub(super) fn submit_channel_op(
        &mut self,
        op: ChannelOp,
        source: &str,
        relay: bool,
        state: &ChainState,
        now_micros: i64,
    ) -> Result<String, ChannelPoolError> {
        let copy = relay.then(|| op.clone());
        let outcome =
            self.channel_pool
                .insert(op, source, state, now_micros, std::time::Instant::now());
        if let (Ok(_), Some(op)) = (&outcome, copy) {
            let _ = self.channel_relay.try_send(op);
        }
        outcome
    }

    /// Queues this node's verified optimae for gossip ([`crate::optimae_gossip`]).
    pub(super) fn relay_optimae(&self, optimae: VerifiedOptimae) {
        let _ = self.optimae_relay.try_send(optimae);
    }

    /// Admits a sealed commitment to the commitment pool at `now_micros`.
    pub(super) fn submit_commitment(
        &mut self,
        commitment: OptimaeCommitment,
        relay: bool,
        state: &ChainState,
        now_micros: i64,
    ) -> Result<(), CommitmentPoolError> {
        let copy = relay.then(|| commitment.clone());
        let outcome = self.commitments.insert(commitment, state, now_micros);
        if let (Ok(()), Some(c)) = (&outcome, copy) {
            let _ = self.commitment_relay.try_send(c);
        }
        outcome
    }

    /// An address's account at the tip of `state`, with its pending transfers.
    pub(super) fn account(&self, state: &ChainState, address: &str) -> AccountInfo {
        AccountInfo {
            account: state.account(address),
            pending: self.mempool.pending_of(address),
            next_nonce: self.mempool.next_nonce(state, address),
        }
    }

    /// A channel, the channel totals and an address's channel-operation nonces.
    pub(super) fn channel_info(
        &self,
        state: &ChainState,
        channel_id: Option<&str>,
        address: Option<&str>,
    ) -> ChannelInfo {
        ChannelInfo::read(state, &self.channel_pool, channel_id, address)
    }
}
