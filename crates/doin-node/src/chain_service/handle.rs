//! The chain service's handle: the requests other components send to the actor, each a
//! [`Command`] over the bounded command channel with a oneshot reply.

use std::sync::Arc;

use doin_consensus::carried::VerifiedOptimae;
use doin_consensus::channel::{ChannelError, VoucherCheck};
use doin_consensus::commitment::OptimaeCommitment;
use doin_consensus::transfer::Account;
use doin_consensus::CheckedBlock;
use doin_primitives::models::{Block, ChannelOp, ChannelUpdate, Transfer};
use tokio::sync::{mpsc, oneshot, watch};

use super::{CommittedAt, ImportError, ImportOutcome, Proposal, QuorumPlan, SubmitOutcome};
use crate::channel_pool::{ChannelInfo, ChannelPoolError};
use crate::clock::SharedClock;
use crate::commitment_pool::CommitmentPoolError;
use crate::mempool::MempoolError;
use crate::view::ChainView;

#[cfg(doc)]
use doin_consensus::state::ChainState;

/// A request to the chain service, with where its answer goes.
pub(super) enum Command {
    Import {
        blocks: Vec<CheckedBlock>,
        reply: oneshot::Sender<Result<ImportOutcome, ImportError>>,
    },
    Submit {
        proposal: Box<Proposal>,
        reply: oneshot::Sender<Result<SubmitOutcome, String>>,
    },
    AdmitOptimae {
        optimae: Box<VerifiedOptimae>,
        reply: oneshot::Sender<Result<f64, crate::pending_optimae::PendingError>>,
    },
    PlanQuorum {
        domain_id: String,
        optimizer_id: String,
        commit_height: u64,
        reply: oneshot::Sender<Result<QuorumPlan, String>>,
    },
    SubmitCommitment {
        commitment: Box<OptimaeCommitment>,
        relay: bool,
        reply: oneshot::Sender<Result<(), CommitmentPoolError>>,
    },
    CommitBlock {
        bound: String,
        optimizer_id: String,
        reply: oneshot::Sender<Option<CommittedAt>>,
    },
    Tick,
    SubmitTransfer {
        transfer: Box<Transfer>,
        source: String,
        relay: bool,
        reply: oneshot::Sender<Result<String, MempoolError>>,
    },
    Account {
        address: String,
        reply: oneshot::Sender<AccountInfo>,
    },
    SubmitChannelOp {
        op: Box<ChannelOp>,
        source: String,
        relay: bool,
        reply: oneshot::Sender<Result<String, ChannelPoolError>>,
    },
    ChannelInfo {
        channel_id: Option<String>,
        address: Option<String>,
        reply: oneshot::Sender<ChannelInfo>,
    },
    CheckChannelUpdate {
        update: Box<ChannelUpdate>,
        reply: oneshot::Sender<Result<VoucherCheck, ChannelError>>,
    },
}

/// An address's account as the chain and the mempool see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    /// Balance and last used nonce at the tip.
    pub account: Account,
    /// Its transfers pending in the mempool.
    pub pending: usize,
    /// The nonce its next transfer should use.
    pub next_nonce: u64,
}

/// Why the chain service did not take a transfer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitTransferError {
    /// The mempool refused it.
    #[error(transparent)]
    Refused(#[from] MempoolError),
    /// The chain service has stopped.
    #[error("the chain service has stopped")]
    Stopped,
}

/// A cheap-to-clone handle to the chain service.
#[derive(Clone)]
pub struct ChainHandle {
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) view: watch::Receiver<Arc<ChainView>>,
    pub(super) relay: TransferRelay,
    pub(super) rejections: Arc<crate::evidence::RejectionPool>,
    pub(super) channel_relay: ChannelRelay,
    pub(super) commitment_relay: CommitmentRelay,
    pub(super) optimae_relay: Relay<VerifiedOptimae>,
    pub(super) clock: SharedClock,
}

/// The receiving end of a relay queue, until the network takes it.
pub(super) type Relay<T> = Arc<std::sync::Mutex<Option<mpsc::Receiver<T>>>>;
type TransferRelay = Relay<Transfer>;
type CommitmentRelay = Relay<OptimaeCommitment>;
type ChannelRelay = Relay<ChannelOp>;

/// A handle that does not keep the chain service running (the HTTP API holds one, so that
/// shutting the service down never waits for the server).
#[derive(Clone)]
pub struct WeakChainHandle {
    commands: mpsc::WeakSender<Command>,
    view: watch::Receiver<Arc<ChainView>>,
    relay: TransferRelay,
    rejections: Arc<crate::evidence::RejectionPool>,
    channel_relay: ChannelRelay,
    commitment_relay: CommitmentRelay,
    optimae_relay: Relay<VerifiedOptimae>,
    clock: SharedClock,
}

impl WeakChainHandle {
    /// The pool of claims and votes (see [`ChainHandle::rejections`]).
    pub fn rejections(&self) -> &Arc<crate::evidence::RejectionPool> {
        &self.rejections
    }

    /// The handle, while the service runs.
    pub fn upgrade(&self) -> Option<ChainHandle> {
        Some(ChainHandle {
            commands: self.commands.upgrade()?,
            view: self.view.clone(),
            relay: self.relay.clone(),
            rejections: self.rejections.clone(),
            channel_relay: self.channel_relay.clone(),
            commitment_relay: self.commitment_relay.clone(),
            optimae_relay: self.optimae_relay.clone(),
            clock: self.clock.clone(),
        })
    }
}

impl ChainHandle {
    /// A handle that does not keep the service running.
    pub fn downgrade(&self) -> WeakChainHandle {
        WeakChainHandle {
            commands: self.commands.downgrade(),
            view: self.view.clone(),
            relay: self.relay.clone(),
            rejections: self.rejections.clone(),
            channel_relay: self.channel_relay.clone(),
            commitment_relay: self.commitment_relay.clone(),
            optimae_relay: self.optimae_relay.clone(),
            clock: self.clock.clone(),
        }
    }

    /// The clock the service reads wall time from (components that judge the chain's
    /// timestamps use it too).
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The pool of claims and votes this node's blocks draw rejection evidence from.
    pub fn rejections(&self) -> &Arc<crate::evidence::RejectionPool> {
        &self.rejections
    }

    /// The latest chain snapshot.
    pub fn view(&self) -> Arc<ChainView> {
        self.view.borrow().clone()
    }

    /// A receiver of chain snapshots.
    pub fn watch(&self) -> watch::Receiver<Arc<ChainView>> {
        self.view.clone()
    }

    /// Hands a verified optimae to the chain: scored, sealed and kept pending if the rules
    /// accept it, minted into a block once the pending sum reaches the threshold.
    pub async fn submit(&self, proposal: Proposal) -> Result<SubmitOutcome, String> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Submit {
                proposal: Box::new(proposal),
                reply,
            })
            .await
            .map_err(|_| "the chain service has stopped".to_owned())?;
        rx.await
            .map_err(|_| "the chain service has stopped".to_owned())?
    }

    /// Offers another optimizer's verified optimae (heard over gossip) to the pending
    /// optimae this node carries in the blocks it mints
    /// ([`crate::pending_optimae::PendingOptimae::admit`]); its effective increment.
    /// `Err(None)` when the service has stopped.
    pub async fn admit_optimae(
        &self,
        optimae: VerifiedOptimae,
    ) -> Result<f64, Option<crate::pending_optimae::PendingError>> {
        let (reply, rx) = oneshot::channel();
        let cmd = Command::AdmitOptimae {
            optimae: Box::new(optimae),
            reply,
        };
        self.commands.send(cmd).await.map_err(|_| None)?;
        rx.await.map_err(|_| None)?.map_err(Some)
    }

    /// This node's verified optimae, for the network to gossip (only the first caller gets
    /// the receiver).
    pub fn take_optimae_relay(&self) -> Option<mpsc::Receiver<VerifiedOptimae>> {
        self.optimae_relay
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Imports a contiguous segment of blocks received from a peer: each is fully
    /// validated; a segment that forks from our chain is adopted only if its branch is
    /// heavier (weight computed from the validated blocks) and the fork point is not below
    /// the finalized height. The stateless checks run first on every core
    /// ([`super::checks`]); the blocks before one that fails them are imported, then its
    /// refusal is returned.
    pub async fn import(&self, blocks: Vec<Block>) -> Result<ImportOutcome, ImportError> {
        let (checked, refusal) = super::checks::check_blocks_off_thread(blocks).await;
        let outcome = self.import_checked(checked).await;
        match refusal {
            Some(e) => outcome.and(Err(e)),
            None => outcome,
        }
    }

    /// [`ChainHandle::import`] for blocks whose stateless rules were checked already (a
    /// sync checks its next page while this one is imported).
    pub async fn import_checked(
        &self,
        blocks: Vec<CheckedBlock>,
    ) -> Result<ImportOutcome, ImportError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Import { blocks, reply })
            .await
            .map_err(|_| ImportError::Stopped)?;
        rx.await.map_err(|_| ImportError::Stopped)?
    }

    /// Offers a transfer to the mempool, from peer `source` (a gossip peer id, or the
    /// HTTP client's address); returns its id once admitted. With `relay`, an admitted
    /// transfer is also handed to the network for gossip.
    pub async fn submit_transfer(
        &self,
        transfer: Transfer,
        source: &str,
        relay: bool,
    ) -> Result<String, SubmitTransferError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::SubmitTransfer {
                transfer: Box::new(transfer),
                source: source.to_owned(),
                relay,
                reply,
            })
            .await
            .map_err(|_| SubmitTransferError::Stopped)?;
        Ok(rx.await.map_err(|_| SubmitTransferError::Stopped)??)
    }

    /// An address's balance, nonce and pending transfers.
    pub async fn account(&self, address: &str) -> Result<AccountInfo, String> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Account {
                address: address.to_owned(),
                reply,
            })
            .await
            .map_err(|_| "the chain service has stopped".to_owned())?;
        rx.await
            .map_err(|_| "the chain service has stopped".to_owned())
    }

    /// The transfers submitted with `relay`, for the network to gossip (only the first
    /// caller gets the receiver).
    pub fn take_transfer_relay(&self) -> Option<mpsc::Receiver<Transfer>> {
        self.relay.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Offers a channel operation to the channel pool, from peer `source`; returns its id
    /// once admitted (with `relay`, also handed to the network for gossip). `Err(None)`
    /// when the service has stopped.
    pub async fn submit_channel_op(
        &self,
        op: ChannelOp,
        source: &str,
        relay: bool,
    ) -> Result<String, Option<ChannelPoolError>> {
        let (reply, rx) = oneshot::channel();
        let cmd = Command::SubmitChannelOp {
            op: Box::new(op),
            source: source.to_owned(),
            relay,
            reply,
        };
        self.commands.send(cmd).await.map_err(|_| None)?;
        rx.await.map_err(|_| None)?.map_err(Some)
    }

    /// A channel (when `channel_id` names one), the channel totals, and an address's
    /// channel-operation nonces (when given).
    pub async fn channel_info(
        &self,
        channel_id: Option<&str>,
        address: Option<&str>,
    ) -> Result<ChannelInfo, String> {
        let (reply, rx) = oneshot::channel();
        let cmd = Command::ChannelInfo {
            channel_id: channel_id.map(str::to_owned),
            address: address.map(str::to_owned),
            reply,
        };
        let stopped = |_| "the chain service has stopped".to_owned();
        self.commands.send(cmd).await.map_err(|_| stopped(()))?;
        rx.await.map_err(|_| stopped(()))
    }

    /// A receiver's check of an off-chain channel update against the tip
    /// ([`ChainState::check_channel_update`]): what it pays, or why it is worthless.
    /// `Err(None)` when the service has stopped.
    pub async fn check_channel_update(
        &self,
        update: ChannelUpdate,
    ) -> Result<VoucherCheck, Option<ChannelError>> {
        let (reply, rx) = oneshot::channel();
        let cmd = Command::CheckChannelUpdate {
            update: Box::new(update),
            reply,
        };
        self.commands.send(cmd).await.map_err(|_| None)?;
        rx.await.map_err(|_| None)?.map_err(Some)
    }

    /// The channel operations submitted with `relay`, for the network to gossip (only the
    /// first caller gets the receiver).
    pub fn take_channel_relay(&self) -> Option<mpsc::Receiver<ChannelOp>> {
        self.channel_relay
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Offers a sealed commitment to the commitment pool (with `relay`, also handed to the
    /// network for gossip). `Err(None)` when the service has stopped.
    pub async fn submit_commitment(
        &self,
        commitment: OptimaeCommitment,
        relay: bool,
    ) -> Result<(), Option<CommitmentPoolError>> {
        let (reply, rx) = oneshot::channel();
        let cmd = Command::SubmitCommitment {
            commitment: Box::new(commitment),
            relay,
            reply,
        };
        self.commands.send(cmd).await.map_err(|_| None)?;
        rx.await.map_err(|_| None)?.map_err(Some)
    }

    /// Where `optimizer_id`'s bound commitment `bound` is on chain among the recent blocks,
    /// if it is ([`doin_consensus::commitment::bound_commitment`]).
    pub async fn commit_block(&self, bound: &str, optimizer_id: &str) -> Option<CommittedAt> {
        let (reply, rx) = oneshot::channel();
        let cmd = Command::CommitBlock {
            bound: bound.to_owned(),
            optimizer_id: optimizer_id.to_owned(),
            reply,
        };
        self.commands.send(cmd).await.ok()?;
        rx.await.ok().flatten()
    }

    /// The commitments submitted with `relay`, for the network to gossip (only the first
    /// caller gets the receiver).
    pub fn take_commitment_relay(&self) -> Option<mpsc::Receiver<OptimaeCommitment>> {
        self.commitment_relay
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// The quorum an optimae whose commitment the block at `commit_height` carries must be
    /// verified by.
    pub async fn plan_quorum(
        &self,
        domain_id: &str,
        optimizer_id: &str,
        commit_height: u64,
    ) -> Result<QuorumPlan, String> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::PlanQuorum {
                domain_id: domain_id.to_owned(),
                optimizer_id: optimizer_id.to_owned(),
                commit_height,
                reply,
            })
            .await
            .map_err(|_| "the chain service has stopped".to_owned())?;
        rx.await
            .map_err(|_| "the chain service has stopped".to_owned())?
    }
}
