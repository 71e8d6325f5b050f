//! The chain service: the one task that owns the chain store's writer and the consensus
//! state, and the handle everything else talks to it through.
//!
//! * Accepted optimae arrive through [`ChainHandle::submit`]; each is checked against the
//!   state (the same rules a block is validated with), kept pending, and once the pending
//!   effective increments reach the threshold and a block is due (at once on a solo chain,
//!   spaced and staggered on a network: [`crate::mint_schedule`]) the service mints a
//!   block: builds it, validates it like any received block, appends it to `chain.db` in
//!   one SQLite transaction, applies it to the state, and publishes a fresh [`ChainView`].
//! * Optimizers commit first ([`ChainHandle::submit_commitment`]): sealed commitments wait
//!   in the [`CommitmentPool`] (gossiped like transfers,
//!   [`ChainHandle::take_commitment_relay`]) and every block the service mints carries
//!   them; when the pending optimae do not reach the threshold and a commitment block is
//!   due (one target block time after the tip, plus this node's stagger), the service
//!   mints one for them, checked every [`TICK`]. [`ChainHandle::commit_block`] tells an
//!   optimizer where its commitment landed, and [`ChainHandle::plan_quorum`] the quorum
//!   that block draws: the block hash
//!   the quorum and the per-evaluator seeds derive from, and the evaluators, all computed
//!   from chain data ([`doin_consensus::commitment`]).
//! * Every anchor it holds ([`Anchoring`]) is enforced on blocks from peers: a segment
//!   contradicting one is refused however heavy (`doin_consensus::anchor::check_branch`);
//!   when block `k * interval` becomes final the service creates its anchor and queues it
//!   to the publisher ([`crate::anchor::publish`]).
//! * Transfers arrive through [`ChainHandle::submit_transfer`] (HTTP or gossip) into the
//!   [`Mempool`] it owns; each minted block carries the best-paying valid ones
//!   ([`ChainState::select_transfers`]), and every new tip prunes the pool. Transfers
//!   submitted over HTTP are handed to the network for gossip
//!   ([`ChainHandle::take_transfer_relay`]).
//! * Channel operations arrive through [`ChainHandle::submit_channel_op`] into the
//!   [`ChannelPool`] beside it, are carried by minted blocks after the transfers
//!   ([`ChainState::select_channel_ops`]) and gossiped like transfers
//!   ([`ChainHandle::take_channel_relay`]); [`ChainHandle::channel_info`] reads a channel.
//! * At start-up [`open_chain`] replays `chain.db` through full validation, so the state
//!   (balances, nonces, base fee, burned total included) is rebuilt from the chain alone.
//!
//! The service runs on its own thread (SQLite writes are blocking) behind a bounded
//! command channel.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use doin_consensus::accepted::{AcceptedOptimae, Experiment, Reveal};
use doin_consensus::anchor::{Anchor, AnchorSet};
use doin_consensus::channel::{ChannelError, VoucherCheck};
use doin_consensus::fork_choice::ReorgVerdict;
use doin_consensus::params::ChainParams;
use doin_consensus::state::ChainState;
use doin_consensus::transfer::Account;
use doin_consensus::vote::QuorumVote;
use doin_primitives::identity::Identity;
use doin_primitives::models::{Block, ChannelOp, ChannelUpdate, Transaction, Transfer};
use doin_primitives::value::Map;
use doin_primitives::Timestamp;
use doin_store::{ChainReader, ChainStore, StoreError};
use tokio::sync::{mpsc, oneshot, watch};

use crate::channel_pool::{ChannelInfo, ChannelPool, ChannelPoolError};
use crate::commitment_pool::{CommitmentPool, CommitmentPoolError};
use crate::mempool::{Mempool, MempoolConfig, MempoolError};
use crate::pending_branch::PendingBranch;
use crate::view::ChainView;
use doin_consensus::commitment::OptimaeCommitment;

/// Commands queued to the service before senders wait.
const COMMAND_QUEUE: usize = 256;
/// Transfers waiting to be gossiped at most (more are not relayed, only kept).
const RELAY_QUEUE: usize = 1024;
/// How often the service checks whether a block is due ([`crate::mint_schedule`]).
pub const TICK: std::time::Duration = std::time::Duration::from_millis(25);
/// Meta key holding the chain parameters' hash in `chain.db`.
const PARAMS_HASH_KEY: &str = "chain_params_hash";

/// The evaluators an optimae must be verified by, and the chain data they derive from.
#[derive(Debug, Clone)]
pub struct QuorumPlan {
    /// The height of the block that carries the optimae's commitment.
    pub commit_height: u64,
    /// The hash of that block (quorum selection and synthetic seeds derive from it).
    pub seed_block_hash: String,
    /// The selected evaluators.
    pub quorum: Vec<String>,
    /// Whether the chain is young for this optimae: other evaluators' votes count too
    /// (see `ChainState::is_young`), so the optimizer also offers open tasks.
    pub young: bool,
    /// How many extra (open) votes a young chain counts.
    pub extra_votes: usize,
}

/// Where a commitment is on chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedAt {
    /// The height of the block that carries it.
    pub height: u64,
    /// That block's hash.
    pub block_hash: String,
    /// Who committed it.
    pub optimizer_id: String,
    /// Its domain.
    pub domain_id: String,
}

/// What became of a submitted optimae.
#[derive(Debug, Clone)]
pub struct SubmitOutcome {
    /// Its effective (weighted, reputation-scaled) increment.
    pub effective_increment: f64,
    /// The index of the block it made the node mint, if any.
    pub minted: Option<i64>,
}

/// An optimae that went through commit, reveal and its quorum: what the optimizer hands
/// to the chain.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// The revealed parameters and claim.
    pub reveal: Reveal,
    /// The quorum's signed votes.
    pub votes: Vec<QuorumVote>,
    /// Experiment metrics.
    pub experiment: Experiment,
}

/// What became of a segment of blocks received from a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    /// The blocks extended our tip (this many appended).
    Extended(usize),
    /// A heavier branch replaced ours above `fork_point`.
    Reorganized {
        /// The last block both branches share.
        fork_point: u64,
        /// Blocks of ours removed.
        removed: u64,
        /// Blocks of theirs appended.
        appended: usize,
    },
    /// We already had these blocks, or our branch is at least as heavy.
    Kept,
}

/// Why blocks received from a peer were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImportError {
    /// A negative index, or the genesis block (which no peer may send).
    #[error("block index {0} is not one a peer may send")]
    BadIndex(i64),
    /// The segment skips or repeats a height.
    #[error("blocks are not contiguous at {0}")]
    NotContiguous(i64),
    /// The segment starts above our tip.
    #[error("blocks start at {start} but our tip is {tip}: fetch the missing blocks first")]
    Gap {
        /// The first block's index.
        start: u64,
        /// Our tip's index.
        tip: u64,
    },
    /// A block breaks a consensus rule (the valid blocks before it are kept when they
    /// extend our tip).
    #[error("block {index} from peer is invalid: {source}")]
    InvalidBlock {
        /// The block's index.
        index: i64,
        /// The rule it breaks.
        #[source]
        source: doin_consensus::ConsensusError,
    },
    /// A valid branch that would revert our finalized block, refused whatever its weight
    /// ([`doin_consensus::fork_choice::judge_reorg`]).
    #[error("refusing a reorganisation at {fork_point}: below the finalized height {finalized}")]
    BelowFinality {
        /// The last block both chains share.
        fork_point: u64,
        /// Our finalized height.
        finalized: u64,
    },
    /// A branch that contradicts a published external anchor, refused whatever its weight
    /// ([`doin_consensus::anchor::check_branch`]).
    #[error("refusing the peer's blocks, they contradict a published anchor: {0}")]
    ContradictsAnchor(doin_consensus::anchor::AnchorError),
    /// The chain store failed.
    #[error("chain store: {0}")]
    Store(String),
    /// A signature-checking thread panicked.
    #[error("a signature-checking thread panicked")]
    Panicked,
    /// The chain service has stopped.
    #[error("the chain service has stopped")]
    Stopped,
}

impl ImportError {
    fn invalid(b: &Block) -> impl FnOnce(doin_consensus::ConsensusError) -> ImportError {
        let index = b.header.index;
        move |source| ImportError::InvalidBlock { index, source }
    }
}

fn store_err(e: impl std::fmt::Display) -> ImportError {
    ImportError::Store(e.to_string())
}

enum Command {
    Import {
        blocks: Vec<Block>,
        reply: oneshot::Sender<Result<ImportOutcome, ImportError>>,
    },
    Submit {
        proposal: Box<Proposal>,
        reply: oneshot::Sender<Result<SubmitOutcome, String>>,
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
    commands: mpsc::Sender<Command>,
    view: watch::Receiver<Arc<ChainView>>,
    relay: Arc<std::sync::Mutex<Option<mpsc::Receiver<Transfer>>>>,
    rejections: Arc<crate::evidence::RejectionPool>,
    channel_relay: ChannelRelay,
    commitment_relay: CommitmentRelay,
}

type CommitmentRelay = Arc<std::sync::Mutex<Option<mpsc::Receiver<OptimaeCommitment>>>>;

type ChannelRelay = Arc<std::sync::Mutex<Option<mpsc::Receiver<ChannelOp>>>>;

/// A handle that does not keep the chain service running (the HTTP API holds one, so that
/// shutting the service down never waits for the server).
#[derive(Clone)]
pub struct WeakChainHandle {
    commands: mpsc::WeakSender<Command>,
    view: watch::Receiver<Arc<ChainView>>,
    relay: Arc<std::sync::Mutex<Option<mpsc::Receiver<Transfer>>>>,
    rejections: Arc<crate::evidence::RejectionPool>,
    channel_relay: ChannelRelay,
    commitment_relay: CommitmentRelay,
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
        }
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

    /// Imports a contiguous segment of blocks received from a peer: each is fully
    /// validated; a segment that forks from our chain is adopted only if its branch is
    /// heavier (weight computed from the validated blocks) and the fork point is not below
    /// the finalized height.
    pub async fn import(&self, blocks: Vec<Block>) -> Result<ImportOutcome, ImportError> {
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

/// Why the chain could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenChainError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `chain.db` was made for other chain parameters.
    #[error("{path} was made with other chain parameters (hash {stored}, this config gives {ours}); start with --reset-chain or the config it was made with")]
    OtherNetwork {
        /// The database.
        path: String,
        /// Hash stored in it.
        stored: String,
        /// Hash of this config's parameters.
        ours: String,
    },
    /// A stored block fails validation.
    #[error("{path}: stored block {index} is invalid ({reason}); start with --reset-chain to rebuild the chain")]
    InvalidStoredBlock {
        /// The database.
        path: String,
        /// The block.
        index: i64,
        /// The rule it breaks.
        reason: String,
    },
}

/// Opens `chain.db`, checks it belongs to this network, and rebuilds the consensus state by
/// replaying every stored block through validation (every rule; the signatures were checked
/// when the node stored the block: see `ChainState::apply_stored_block`).
pub fn open_chain(path: &Path, params: &ChainParams) -> Result<OpenedChain, OpenChainError> {
    let mut store = ChainStore::open(path)?;
    let ours = params.params_hash();
    match store.get_meta(PARAMS_HASH_KEY)? {
        Some(stored) if stored != ours => {
            return Err(OpenChainError::OtherNetwork {
                path: path.display().to_string(),
                stored,
                ours,
            })
        }
        Some(_) => {}
        None => store.set_meta(PARAMS_HASH_KEY, &ours)?,
    }
    let mut state = ChainState::new(params.clone());
    let mut best_parameters = BTreeMap::new();
    let mut failure: Option<(i64, String)> = None;
    store.for_each_block(1, |block: Block| -> Result<(), StoreError> {
        if failure.is_none() {
            match state.apply_stored_block(&block) {
                Ok(_) => note_best_parameters(&mut best_parameters, &state, &block),
                Err(e) => failure = Some((block.header.index, e.to_string())),
            }
        }
        Ok(())
    })?;
    if let Some((index, reason)) = failure {
        return Err(OpenChainError::InvalidStoredBlock {
            path: path.display().to_string(),
            index,
            reason,
        });
    }
    Ok(OpenedChain {
        store,
        state,
        best_parameters,
    })
}

/// A chain opened and replayed.
pub struct OpenedChain {
    /// The store's writer.
    pub store: ChainStore,
    /// The state after the tip.
    pub state: ChainState,
    /// Parameters of each domain's best optimae.
    pub best_parameters: BTreeMap<String, Map>,
}

/// Records the parameters of optimae in `block` that are now their domain's best.
fn note_best_parameters(best: &mut BTreeMap<String, Map>, state: &ChainState, block: &Block) {
    for tx in &block.transactions {
        if let Ok(a) = AcceptedOptimae::from_tx(tx) {
            let is_best = state
                .domain(&a.domain_id)
                .and_then(|d| d.best)
                .is_some_and(|b| b.to_bits() == a.verified_performance.to_bits());
            if is_best {
                best.insert(a.domain_id.clone(), a.parameters.clone());
            }
        }
    }
}

struct Service {
    store: ChainStore,
    state: ChainState,
    /// Header and transaction count of the tip (for announcements and the view).
    tip: Option<(doin_primitives::models::BlockHeader, i64)>,
    best_parameters: BTreeMap<String, Map>,
    identity: Arc<Identity>,
    pending: Vec<Transaction>,
    view: watch::Sender<Arc<ChainView>>,
    /// Experiment stats: every applied block's accepted optimae go to the OLAP database.
    stats: Option<doin_stats::StatsHandle>,
    anchoring: Anchoring,
    mempool: Mempool,
    relay: mpsc::Sender<Transfer>,
    /// Claims and votes for rejection evidence ([`crate::evidence`]).
    rejections: Arc<crate::evidence::RejectionPool>,
    channel_pool: ChannelPool,
    channel_relay: mpsc::Sender<ChannelOp>,
    /// Commitments waiting for a block.
    commitments: CommitmentPool,
    commitment_relay: mpsc::Sender<OptimaeCommitment>,
    /// The last height anchored (or read back from the sinks).
    last_anchored: u64,
    /// A competing branch validated page by page, not yet heavier than ours.
    branch: Option<PendingBranch>,
}

/// The external anchors a chain service enforces and creates.
#[derive(Debug, Default)]
pub struct Anchoring {
    /// Anchors enforced on blocks from peers (those read back from the sinks at start-up;
    /// the ones the service creates are added).
    pub anchors: AnchorSet,
    /// Blocks between anchors (0 = the service creates none).
    pub interval: u64,
    /// Where new anchors go (`None` = the service creates none).
    pub publish: Option<mpsc::Sender<Anchor>>,
}

/// Starts the service on its own thread.
pub fn spawn(
    opened: OpenedChain,
    identity: Arc<Identity>,
) -> (ChainHandle, std::thread::JoinHandle<()>) {
    spawn_with_stats(opened, identity, None)
}

/// As [`spawn`], recording every block the service applies into `stats`.
pub fn spawn_with_stats(
    opened: OpenedChain,
    identity: Arc<Identity>,
    stats: Option<doin_stats::StatsHandle>,
) -> (ChainHandle, std::thread::JoinHandle<()>) {
    spawn_with(
        opened,
        identity,
        stats,
        Anchoring::default(),
        MempoolConfig::default(),
    )
}

/// As [`spawn_with_stats`], enforcing and creating external anchors per `anchoring`, with
/// the mempool's settings.
pub fn spawn_with(
    opened: OpenedChain,
    identity: Arc<Identity>,
    stats: Option<doin_stats::StatsHandle>,
    anchoring: Anchoring,
    mempool: MempoolConfig,
) -> (ChainHandle, std::thread::JoinHandle<()>) {
    let (commands, rx) = mpsc::channel(COMMAND_QUEUE);
    let (relay, relay_rx) = mpsc::channel(RELAY_QUEUE);
    let (channel_relay, channel_relay_rx) = mpsc::channel(RELAY_QUEUE);
    let (commitment_relay, commitment_relay_rx) = mpsc::channel(RELAY_QUEUE);
    let tip = match opened.store.tip() {
        Ok((index, _)) if index > 0 => opened
            .store
            .block(index)
            .ok()
            .flatten()
            .map(|b| (b.header.clone(), b.transactions.len() as i64)),
        _ => None,
    };
    let mut service = Service {
        tip,
        store: opened.store,
        state: opened.state,
        best_parameters: opened.best_parameters,
        identity,
        pending: Vec::new(),
        view: watch::channel(Arc::new(ChainView::default())).0,
        stats,
        last_anchored: anchoring.anchors.last_height(),
        branch: None,
        anchoring,
        channel_pool: ChannelPool::new(
            crate::channel_pool::DEFAULT_CHANNEL_POOL_CAPACITY,
            mempool.rate_limit,
        ),
        mempool: Mempool::new(mempool),
        relay,
        rejections: Arc::new(crate::evidence::RejectionPool::new()),
        channel_relay,
        commitments: CommitmentPool::new(crate::commitment_pool::DEFAULT_CAPACITY),
        commitment_relay,
    };
    let rejections = service.rejections.clone();
    service.publish();
    let view = service.view.subscribe();
    let thread = std::thread::Builder::new()
        .name("chain".into())
        .spawn(move || service.run(rx))
        .unwrap_or_else(|e| panic!("cannot start the chain thread: {e}"));
    // The clock of due blocks: a weak sender, so it never keeps the service alive.
    let ticks = commands.downgrade();
    let _ = std::thread::Builder::new()
        .name("chain-tick".into())
        .spawn(move || loop {
            std::thread::sleep(TICK);
            let Some(tx) = ticks.upgrade() else { return };
            if let Err(mpsc::error::TrySendError::Closed(_)) = tx.try_send(Command::Tick) {
                return;
            }
        });
    let commitment_relay = Arc::new(std::sync::Mutex::new(Some(commitment_relay_rx)));
    let relay = Arc::new(std::sync::Mutex::new(Some(relay_rx)));
    let channel_relay = Arc::new(std::sync::Mutex::new(Some(channel_relay_rx)));
    (
        ChainHandle {
            commands,
            view,
            relay,
            rejections,
            channel_relay,
            commitment_relay,
        },
        thread,
    )
}

impl Service {
    fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        while let Some(cmd) = rx.blocking_recv() {
            match cmd {
                Command::Import { blocks, reply } => {
                    let outcome = self.import(blocks);
                    if outcome.is_ok() {
                        self.revalidate_pending();
                        self.mempool.prune(&self.state);
                        self.rejections.prune(&self.state);
                        self.channel_pool.prune(&self.state, now_micros());
                        self.commitments
                            .prune(&self.state, std::time::Instant::now());
                        self.publish();
                    }
                    let _ = reply.send(outcome);
                }
                Command::Submit { proposal, reply } => {
                    let outcome = self.submit(*proposal);
                    let _ = reply.send(outcome);
                }
                Command::PlanQuorum {
                    domain_id,
                    optimizer_id,
                    commit_height,
                    reply,
                } => {
                    let _ = reply.send(self.plan(&domain_id, &optimizer_id, commit_height));
                }
                Command::SubmitCommitment {
                    commitment,
                    relay,
                    reply,
                } => {
                    let copy = relay.then(|| (*commitment).clone());
                    let outcome = self.commitments.insert(
                        *commitment,
                        &self.state,
                        std::time::Instant::now(),
                    );
                    if let (Ok(()), Some(c)) = (&outcome, copy) {
                        // A full relay queue only costs gossip, as for transfers.
                        let _ = self.commitment_relay.try_send(c);
                    }
                    let _ = reply.send(outcome);
                    if self.try_mint_due().is_some() {
                        self.publish();
                    }
                }
                Command::CommitBlock {
                    bound,
                    optimizer_id,
                    reply,
                } => {
                    let at = self
                        .state
                        .bound_committed_at(&bound, &optimizer_id)
                        .and_then(|(height, c)| {
                            Some(CommittedAt {
                                height,
                                block_hash: self.state.recent_block_hash(height)?.to_owned(),
                                optimizer_id: c.optimizer_id.clone(),
                                domain_id: c.domain_id.clone(),
                            })
                        });
                    let _ = reply.send(at);
                }
                Command::Tick => {
                    if self.try_mint_due().is_some() {
                        self.publish();
                    }
                }
                Command::SubmitTransfer {
                    transfer,
                    source,
                    relay,
                    reply,
                } => {
                    let copy = relay.then(|| (*transfer).clone());
                    let outcome = self.mempool.insert(
                        *transfer,
                        &source,
                        &self.state,
                        std::time::Instant::now(),
                    );
                    if outcome.is_ok() {
                        if let Some(t) = copy {
                            // A full relay queue only costs gossip: this node's blocks
                            // still carry the transfer.
                            let _ = self.relay.try_send(t);
                        }
                        let size = self.mempool.len();
                        self.view
                            .send_modify(|v| Arc::make_mut(v).mempool_size = size);
                    }
                    let _ = reply.send(outcome);
                }
                Command::Account { address, reply } => {
                    let _ = reply.send(AccountInfo {
                        account: self.state.account(&address),
                        pending: self.mempool.pending_of(&address),
                        next_nonce: self.mempool.next_nonce(&self.state, &address),
                    });
                }
                Command::SubmitChannelOp {
                    op,
                    source,
                    relay,
                    reply,
                } => {
                    let copy = relay.then(|| (*op).clone());
                    let outcome = self.channel_pool.insert(
                        *op,
                        &source,
                        &self.state,
                        now_micros(),
                        std::time::Instant::now(),
                    );
                    if let (Ok(_), Some(op)) = (&outcome, copy) {
                        // A full relay queue only costs gossip, as for transfers.
                        let _ = self.channel_relay.try_send(op);
                    }
                    let _ = reply.send(outcome);
                }
                Command::ChannelInfo {
                    channel_id,
                    address,
                    reply,
                } => {
                    let info = ChannelInfo::read(
                        &self.state,
                        &self.channel_pool,
                        channel_id.as_deref(),
                        address.as_deref(),
                    );
                    let _ = reply.send(info);
                }
                Command::CheckChannelUpdate { update, reply } => {
                    let _ = reply.send(self.state.check_channel_update(&update));
                }
            }
        }
        tracing::debug!("chain service stopped");
    }

    fn plan(
        &self,
        domain_id: &str,
        optimizer_id: &str,
        commit_height: u64,
    ) -> Result<QuorumPlan, String> {
        if self.state.params().domain(domain_id).is_none() {
            return Err(format!("domain {domain_id} is not a domain of this chain"));
        }
        let seed_block_hash = self
            .state
            .seed_block_hash(commit_height)
            .map_err(|e| e.to_string())?
            .to_owned();
        let now = Timestamp::now_utc().unix_micros();
        let quorum = self
            .state
            .quorum_for_at(domain_id, optimizer_id, commit_height, now)
            .map_err(|e| e.to_string())?;
        let young = self.state.is_young(optimizer_id, commit_height);
        Ok(QuorumPlan {
            commit_height,
            seed_block_hash,
            quorum,
            young,
            extra_votes: if young {
                self.state.params().quorum_min_evaluators as usize
            } else {
                0
            },
        })
    }

    fn submit(&mut self, p: Proposal) -> Result<SubmitOutcome, String> {
        let scoring = self
            .state
            .score_optimae_after(
                &self.pending,
                &p.reveal,
                self.identity.peer_id(),
                &p.votes,
                Timestamp::now_utc().unix_micros(),
            )
            .map_err(|e| e.to_string())?;
        let tx =
            AcceptedOptimae::build(&self.identity, &p.reveal, &scoring, &p.votes, &p.experiment);
        let mut candidate = self.pending.clone();
        candidate.push(tx);
        self.state
            .pending_sum_at(&candidate, Timestamp::now_utc().unix_micros())
            .map_err(|e| e.to_string())?;
        self.pending = candidate;
        let effective_increment = scoring.effective_increment;
        let minted = self.try_mint();
        self.publish();
        Ok(SubmitOutcome {
            effective_increment,
            minted,
        })
    }

    fn import(&mut self, blocks: Vec<Block>) -> Result<ImportOutcome, ImportError> {
        let Some(first) = blocks.first() else {
            return Ok(ImportOutcome::Kept);
        };
        // The next page of a branch being weighed, while our chain still holds its fork
        // point (our tip may have moved on meanwhile).
        let fork_hash = match &self.branch {
            Some(b) if b.continued_by(&blocks) => self
                .store
                .block_hash(b.fork_point as i64)
                .map_err(store_err)?,
            _ => None,
        };
        if let Some(pending) = self
            .branch
            .take()
            .filter(|b| fork_hash.as_deref() == Some(b.fork_hash.as_str()))
        {
            self.check_segment(pending.fork_point, &blocks)?;
            return self.weigh_branch(pending, blocks);
        }
        let start = u64::try_from(first.header.index)
            .ok()
            .filter(|s| *s > 0)
            .ok_or(ImportError::BadIndex(first.header.index))?;
        for (i, b) in blocks.iter().enumerate() {
            if u64::try_from(b.header.index).ok() != Some(start + i as u64) {
                return Err(ImportError::NotContiguous(b.header.index));
            }
        }
        // Skip the blocks we already have (same hash at the same height).
        let mut skip = 0;
        for b in &blocks {
            match self.store.block_hash(b.header.index).map_err(store_err)? {
                Some(h) if h == b.hash => skip += 1,
                _ => break,
            }
        }
        let mut owned = blocks;
        owned.drain(..skip);
        let blocks = owned.as_slice();
        let Some(first) = blocks.first() else {
            return Ok(ImportOutcome::Kept);
        };
        let fork_point = u64::try_from(first.header.index - 1).unwrap_or(0);
        if fork_point > self.state.height() {
            return Err(ImportError::Gap {
                start: fork_point + 1,
                tip: self.state.height(),
            });
        }
        self.check_segment(fork_point, blocks)?;
        if fork_point == self.state.height() {
            for b in blocks {
                if let Err(e) = self.state.apply_stored_block(b) {
                    // Keep the valid prefix: rebuild the state from what is stored, then
                    // store and apply the blocks before the invalid one.
                    let good = usize::try_from(b.header.index - first.header.index).unwrap_or(0);
                    self.reload_state();
                    if good > 0 {
                        let _ = self.append_applied(&blocks[..good], false);
                    }
                    return Err(ImportError::invalid(b)(e));
                }
            }
            self.append_applied(blocks, true)
                .map_err(ImportError::Store)?;
            crate::metrics::METRICS
                .blocks_imported
                .inc_by(blocks.len() as u64);
            tracing::info!(
                appended = blocks.len(),
                height = self.state.height(),
                "imported blocks"
            );
            return Ok(ImportOutcome::Extended(blocks.len()));
        }
        // Checked before validating the branch, so a doomed branch costs nothing;
        // `judge_reorg` below decides with the weights.
        if !self.state.reorg_allowed(fork_point) {
            return Err(ImportError::BelowFinality {
                fork_point,
                finalized: self.state.finalized_height(),
            });
        }
        // Rebuild the state at the fork point from our own store, then weigh their branch.
        let mut candidate = ChainState::new(self.state.params().clone());
        let mut best = BTreeMap::new();
        for b in self.store.blocks(1, fork_point as i64).map_err(store_err)? {
            candidate.apply_stored_block(&b).map_err(store_err)?;
            note_best_parameters(&mut best, &candidate, &b);
        }
        let pending = PendingBranch {
            fork_point,
            fork_hash: first.header.previous_hash.clone(),
            candidate,
            best,
            blocks: Vec::new(),
        };
        self.weigh_branch(pending, owned)
    }

    /// The checks of a segment that need no chain state, cheapest first: every id and
    /// hash the blocks claim, no block dated ahead of our clock, no contradiction of an
    /// anchor; then the signatures, for the whole segment on all cores.
    fn check_segment(&self, fork_point: u64, blocks: &[Block]) -> Result<(), ImportError> {
        let now = Timestamp::now_utc().unix_micros();
        for b in blocks {
            b.validate_doin_content()
                .map(|_| ())
                .map_err(doin_consensus::ConsensusError::from)
                .and_then(|()| {
                    doin_consensus::validate::check_not_in_future(
                        b.header.timestamp.unix_micros(),
                        now,
                    )
                })
                .map_err(ImportError::invalid(b))?;
        }
        let start = blocks
            .first()
            .and_then(|b| u64::try_from(b.header.index).ok())
            .unwrap_or(fork_point + 1);
        doin_consensus::anchor::check_branch(
            &self.anchoring.anchors,
            fork_point,
            self.state.height(),
            (start..).zip(blocks.iter().map(|b| b.hash.as_str())),
        )
        .map_err(|e| {
            tracing::warn!(
                fork_point,
                "refused a branch that contradicts an anchor: {e}"
            );
            ImportError::ContradictsAnchor(e)
        })?;
        verify_signatures_parallel(blocks)
    }

    /// Applies a segment of a competing branch to its candidate state (every rule, each
    /// block before the next is held), then adopts the branch if it is now heavier, or
    /// keeps it pending for the next page ([`PendingBranch`]).
    fn weigh_branch(
        &mut self,
        mut branch: PendingBranch,
        segment: Vec<Block>,
    ) -> Result<ImportOutcome, ImportError> {
        for b in segment {
            branch
                .candidate
                .apply_stored_block(&b)
                .map_err(ImportError::invalid(&b))?;
            note_best_parameters(&mut branch.best, &branch.candidate, &b);
            branch.blocks.push(b);
        }
        let verdict = doin_consensus::fork_choice::judge_reorg(
            branch.fork_point,
            &doin_consensus::fork_choice::chain_weight(&branch.candidate),
            &doin_consensus::fork_choice::chain_weight(&self.state),
        );
        match verdict {
            ReorgVerdict::Adopt => {}
            ReorgVerdict::KeepOurs => {
                self.branch = Some(branch);
                return Ok(ImportOutcome::Kept);
            }
            ReorgVerdict::BelowFinality {
                fork_point,
                finalized,
            } => {
                return Err(ImportError::BelowFinality {
                    fork_point,
                    finalized,
                })
            }
        }
        let PendingBranch {
            fork_point,
            candidate,
            best,
            blocks,
            ..
        } = branch;
        let blocks = blocks.as_slice();
        // Transfers and channel operations of our blocks that leave the chain go back to
        // their pools.
        let leaving = self
            .store
            .blocks(fork_point as i64 + 1, self.state.height() as i64)
            .map_err(store_err)?;
        let orphaned: Vec<Transfer> = leaving
            .iter()
            .flat_map(|b| b.transfers().unwrap_or_default())
            .collect();
        let orphaned_ops: Vec<ChannelOp> = leaving
            .iter()
            .flat_map(|b| b.channel_ops().unwrap_or_default())
            .collect();
        let removed = self
            .store
            .truncate_above(fork_point as i64)
            .map_err(store_err)?;
        self.store.append_batch(blocks).map_err(store_err)?;
        self.state = candidate;
        self.mempool.readmit(orphaned, &self.state);
        self.channel_pool
            .readmit(orphaned_ops, &self.state, now_micros());
        self.best_parameters = best;
        self.tip = blocks
            .last()
            .map(|b| (b.header.clone(), b.transactions.len() as i64));
        if let Some(stats) = &self.stats {
            stats.rollback_above(fork_point as i64);
            for b in blocks {
                stats.record_block(b);
            }
        }
        tracing::warn!(
            fork_point,
            removed,
            appended = blocks.len(),
            height = self.state.height(),
            "reorganized to a heavier branch"
        );
        Ok(ImportOutcome::Reorganized {
            fork_point,
            removed,
            appended: blocks.len(),
        })
    }

    /// Stores blocks in one SQLite transaction; `applied` says whether the state already
    /// holds them (otherwise they are applied first). On a store failure the state is
    /// rebuilt from the store.
    fn append_applied(&mut self, blocks: &[Block], applied: bool) -> Result<(), String> {
        if !applied {
            for b in blocks {
                self.state
                    .apply_stored_block(b)
                    .map_err(|e| e.to_string())?;
            }
        }
        if let Err(e) = self.store.append_batch(blocks) {
            tracing::error!("cannot store blocks: {e}; rebuilding state from the store");
            self.reload_state();
            return Err(e.to_string());
        }
        for b in blocks {
            note_best_parameters(&mut self.best_parameters, &self.state, b);
            if let Some(stats) = &self.stats {
                stats.record_block(b);
            }
        }
        if let Some(b) = blocks.last() {
            self.tip = Some((b.header.clone(), b.transactions.len() as i64));
        }
        Ok(())
    }

    /// Rebuilds the state (and the best parameters) from the store.
    fn reload_state(&mut self) {
        let mut state = ChainState::new(self.state.params().clone());
        let mut best = BTreeMap::new();
        let replayed = self
            .store
            .for_each_block(1, |b: Block| -> Result<(), StoreError> {
                if state.apply_stored_block(&b).is_ok() {
                    note_best_parameters(&mut best, &state, &b);
                }
                Ok(())
            });
        if let Err(e) = replayed {
            tracing::error!("cannot re-read the chain store: {e}");
            return;
        }
        self.state = state;
        self.best_parameters = best;
    }

    /// Drops pending optimae that no longer fit the new tip.
    fn revalidate_pending(&mut self) {
        let mut kept: Vec<Transaction> = Vec::new();
        for tx in std::mem::take(&mut self.pending) {
            let mut candidate = kept.clone();
            candidate.push(tx);
            if self
                .state
                .pending_sum_at(&candidate, Timestamp::now_utc().unix_micros())
                .is_ok()
            {
                kept = candidate;
            }
        }
        self.pending = kept;
    }

    /// The next block from the pending optimae, `transfers` and `channel_ops`, with the
    /// rejection evidence the pool holds; without it if the evidence does not fit (it waits
    /// for a later block).
    fn build_block_with_evidence(
        &mut self,
        txs: Vec<Transaction>,
        transfers: Vec<Transfer>,
        channel_ops: Vec<ChannelOp>,
        stamp: Timestamp,
    ) -> Result<Block, doin_consensus::ConsensusError> {
        let commitments = self.commitments.ordered();
        let built = self.state.build_block_with_commitments(
            &self.identity,
            txs.clone(),
            transfers.clone(),
            channel_ops.clone(),
            &commitments,
            stamp,
        );
        let block = match built {
            Ok(b) => b,
            // The pool's commitments were checked at admission and every tip prunes it; if
            // one still breaks a rule, the pool is dropped rather than the optimae.
            Err(e) if !commitments.is_empty() && !txs.is_empty() => {
                tracing::warn!("commitments left out of the block: {e}");
                self.commitments.clear();
                self.state.build_block_with_ops(
                    &self.identity,
                    txs,
                    transfers,
                    channel_ops,
                    stamp,
                )?
            }
            Err(e) => {
                if txs.is_empty() {
                    tracing::warn!("cannot build a commitment block: {e}; dropping the pool");
                    self.commitments.clear();
                }
                return Err(e);
            }
        };
        let evidence = self
            .rejections
            .evidence(&self.state, block.header.timestamp.unix_micros());
        if evidence.is_empty() {
            return Ok(block);
        }
        match self
            .state
            .add_rejections(&self.identity, block.clone(), &evidence)
        {
            Ok(b) => Ok(b),
            Err(e) => {
                tracing::warn!("rejection evidence left out of the block: {e}");
                Ok(block)
            }
        }
    }

    /// Mints a work block when the pending optimae reach the threshold and one is due
    /// ([`crate::mint_schedule::work_block_due`]); otherwise a later tick tries again.
    fn try_mint(&mut self) -> Option<i64> {
        let now = Timestamp::now_utc();
        if !crate::mint_schedule::work_block_due(&self.state, self.identity.peer_id(), now) {
            return None;
        }
        let sum = self
            .state
            .pending_sum_at(&self.pending, now.unix_micros())
            .ok()?;
        let threshold = self.state.next_threshold();
        if sum < threshold {
            return None;
        }
        self.mint(self.pending.clone())
    }

    /// Mints a work block when one is due ([`Self::try_mint`]), else a commitment block
    /// when the pool holds commitments and one is due
    /// ([`crate::mint_schedule::commitment_block_due`]); the pending optimae stay pending.
    fn try_mint_due(&mut self) -> Option<i64> {
        if let Some(index) = self.try_mint() {
            return Some(index);
        }
        if self.commitments.is_empty()
            || !crate::mint_schedule::commitment_block_due(
                &self.state,
                self.identity.peer_id(),
                Timestamp::now_utc(),
            )
        {
            return None;
        }
        let pending = std::mem::take(&mut self.pending);
        let minted = self.mint(Vec::new());
        self.pending = pending;
        self.revalidate_pending();
        minted
    }

    /// Builds, validates, stores and applies the next block with `txs` (the pending
    /// optimae, or none for a commitment block), the best transfers and channel
    /// operations, the pool's commitments and the rejection evidence that fits.
    fn mint(&mut self, txs: Vec<Transaction>) -> Option<i64> {
        let transfers = self.state.select_transfers(self.mempool.ordered());
        let stamp = Timestamp::now_utc();
        let channel_ops = self.state.select_channel_ops(
            self.channel_pool.ordered(),
            &transfers,
            self.state.block_time(stamp),
        );
        let commitment_block = txs.is_empty();
        let block = match self.build_block_with_evidence(txs, transfers, channel_ops, stamp) {
            Ok(b) => b,
            Err(_) if commitment_block => return None,
            Err(e) => {
                tracing::error!(
                    "cannot build a block from the pending optimae: {e}; dropping them"
                );
                self.pending.clear();
                return None;
            }
        };
        if let Err(e) = self.state.validate_block(&block) {
            tracing::error!("minted block fails validation: {e}; dropping the pending optimae");
            self.pending.clear();
            return None;
        }
        if let Err(e) = self.store.append(&block) {
            tracing::error!("cannot store block {}: {e}", block.header.index);
            return None;
        }
        if let Err(e) = self.state.apply_block(&block) {
            tracing::error!("stored block {} does not apply: {e}", block.header.index);
            return None;
        }
        note_best_parameters(&mut self.best_parameters, &self.state, &block);
        self.tip = Some((block.header.clone(), block.transactions.len() as i64));
        self.pending.clear();
        self.mempool.prune(&self.state);
        self.rejections.prune(&self.state);
        self.channel_pool.prune(&self.state, now_micros());
        self.commitments
            .prune(&self.state, std::time::Instant::now());
        if let Some(stats) = &self.stats {
            stats.record_block(&block);
        }
        crate::metrics::METRICS.blocks_minted.inc();
        tracing::info!(
            index = block.header.index,
            hash = %block.hash,
            optimae = block.layout().map_or(0, |l| l.accepted.len()),
            sum = block.header.weighted_performance_sum,
            threshold = block.header.threshold,
            "minted block"
        );
        Some(block.header.index)
    }

    /// Creates the anchors that became due (final blocks at multiples of the interval) and
    /// queues them to the publisher; a full queue leaves them for a later block.
    fn anchor_due(&mut self) {
        let Some(tx) = self.anchoring.publish.clone() else {
            return;
        };
        let due: Vec<u64> = doin_consensus::anchor::due_heights(
            self.last_anchored,
            self.state.finalized_height(),
            self.anchoring.interval,
        )
        .collect();
        for height in due {
            let hashes = match self.store.block_hashes(0, height as i64) {
                Ok(h) if h.len() as u64 == height + 1 => h,
                Ok(_) => {
                    tracing::error!(height, "cannot anchor: blocks missing from the store");
                    return;
                }
                Err(e) => {
                    tracing::error!(height, "cannot anchor: {e}");
                    return;
                }
            };
            let hashes: Vec<&str> = hashes.iter().map(|(_, h)| h.as_str()).collect();
            let Some(anchor) = doin_consensus::anchor::anchor_of(&hashes) else {
                return;
            };
            if let Err(e) = self.anchoring.anchors.insert(anchor.clone()) {
                tracing::error!(height, "our chain contradicts a held anchor: {e}");
            }
            match tx.try_send(anchor) {
                Ok(()) => self.last_anchored = height,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(height, "anchor publisher busy; anchoring later");
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.anchoring.publish = None;
                    return;
                }
            }
        }
    }

    fn publish(&mut self) {
        self.anchor_due();
        let mut view = build_view(&self.state, self.identity.peer_id(), &self.pending);
        view.mempool_size = self.mempool.len();
        view.mempool_limit = self.mempool.capacity();
        if let Some((header, count)) = &self.tip {
            view.tip_header = Some(header.clone());
            view.tip_tx_count = *count;
        }
        view.domain_best_parameters = self.best_parameters.clone();
        self.view.send_replace(Arc::new(view));
    }
}

fn build_view(state: &ChainState, me: &str, pending: &[Transaction]) -> ChainView {
    let d = state.difficulty();
    let mut top: Vec<(String, u64)> = state
        .balances()
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(10);
    ChainView {
        height: state.height() as i64 + 1,
        tip_index: state.height() as i64,
        tip_hash: state.tip_hash().to_owned(),
        tip_header: None,
        tip_tx_count: 0,
        finalized_height: state.finalized_height() as i64,
        threshold: state.next_threshold(),
        target_block_time: state.params().target_block_time_secs,
        ema_block_time: d.ema_block_time,
        blocks_in_epoch: d.blocks_in_epoch,
        epoch_length: state.params().difficulty_epoch_length,
        total_adjustments: 0,
        total_supply: state.total_minted(),
        total_burned: state.total_burned(),
        base_fee: state.base_fee(),
        mempool_size: 0,
        mempool_limit: 0,
        my_balance: state.balances().get(me).copied().unwrap_or(0),
        top_holders: top,
        reputation_tracked_peers: state.reputation_count(),
        reputations: state.reputations(),
        cumulative_work: state.cumulative_work(),
        pending_optimae: pending.len(),
        pending_sum: state.pending_sum(pending).unwrap_or(0.0),
        domain_best: state
            .domains()
            .iter()
            .filter_map(|(k, d)| d.best.map(|b| (k.clone(), b)))
            .collect(),
        total_transactions: state.optimae_count() as u64,
        params_hash: state.params().params_hash(),
        solo: state.is_solo(),
        domain_best_parameters: BTreeMap::new(),
        channel_stats: state.channel_stats(),
    }
}

/// The node's clock in µs (pool admission judges channel deadlines by it; blocks by their
/// own timestamps).
fn now_micros() -> i64 {
    Timestamp::now_utc().unix_micros()
}

/// Verifies the signatures of `blocks` on every available core.
fn verify_signatures_parallel(blocks: &[Block]) -> Result<(), ImportError> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let chunk = blocks.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = blocks
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    for b in part {
                        doin_consensus::validate::verify_block_signatures(b)
                            .map_err(ImportError::invalid(b))?;
                    }
                    Ok::<(), ImportError>(())
                })
            })
            .collect();
        for w in workers {
            w.join().map_err(|_| ImportError::Panicked)??;
        }
        Ok(())
    })
}

/// A small pool of read-only store connections for the API.
pub struct ReaderPool {
    path: std::path::PathBuf,
    readers: std::sync::Mutex<Vec<ChainReader>>,
}

impl ReaderPool {
    /// Most idle connections kept.
    const MAX_IDLE: usize = 8;

    /// A pool over `chain.db` at `path`.
    pub fn new(path: &Path) -> Self {
        ReaderPool {
            path: path.to_path_buf(),
            readers: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&ChainReader) -> Result<T, StoreError>) -> Result<T, String> {
        let reader = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let reader = match reader {
            Some(r) => r,
            None => ChainReader::open(&self.path).map_err(|e| e.to_string())?,
        };
        let out = f(&reader).map_err(|e| e.to_string());
        let mut idle = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < Self::MAX_IDLE {
            idle.push(reader);
        }
        out
    }
}

impl crate::api::BlockSource for ReaderPool {
    fn blocks(&self, from: i64, to: i64) -> Result<Vec<Block>, String> {
        self.with(|r| r.blocks(from, to))
    }

    fn block(&self, index: i64) -> Result<Option<Block>, String> {
        self.with(|r| r.block(index))
    }

    fn blocks_json(&self, from: i64, to: i64) -> Result<Vec<String>, String> {
        self.with(|r| r.blocks_wire_json(from, to))
    }
}
