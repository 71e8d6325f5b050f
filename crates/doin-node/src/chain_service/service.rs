//! The chain service's actor: the state it owns, how it starts on its own thread, the
//! command loop that dispatches each request to the part that handles it (`import`,
//! `minting`, `pools`, `quorum`), and the [`ChainView`] it publishes after every change.

use std::collections::BTreeMap;
use std::sync::Arc;

use doin_consensus::state::ChainState;
use doin_consensus::CheckedBlock;
use doin_primitives::identity::Identity;
use doin_primitives::models::{Block, BlockHeader, Transaction};
use doin_primitives::value::Map;
use doin_store::ChainStore;
use tokio::sync::{mpsc, watch};

use super::anchoring::{Anchorer, Anchoring};
use super::handle::{ChainHandle, Command};
use super::open::OpenedChain;
use super::pools::Pools;
use super::{COMMAND_QUEUE, TICK};
use crate::chain_import::Importer;
use crate::clock::SharedClock;
use crate::mempool::MempoolConfig;
use crate::mint_gate::MintGate;
use crate::mint_timer::MintTimer;
use crate::pending_optimae::PendingOptimae;
use crate::state_checkpoints::StateCheckpoints;
use crate::view::ChainView;

/// The chain service: the one owner of the store's writer, the consensus state and the
/// pools.
pub(super) struct Service {
    /// The store's writer.
    pub(super) store: ChainStore,
    /// The consensus state at the tip.
    pub(super) state: ChainState,
    /// Header and transaction count of the tip (for announcements and the view).
    pub(super) tip: Option<(BlockHeader, i64)>,
    /// The last block this node minted (the view holds it while it is the tip).
    pub(super) minted: Option<Arc<Block>>,
    /// Parameters of each domain's best optimae.
    pub(super) best_parameters: BTreeMap<String, Map>,
    /// This node's identity (it signs the blocks it mints).
    pub(super) identity: Arc<Identity>,
    /// Accepted optimae waiting for a block.
    pub(super) pending: PendingOptimae,
    view: watch::Sender<Arc<ChainView>>,
    /// Experiment stats: every applied block's accepted optimae go to the OLAP database.
    pub(super) stats: Option<doin_stats::StatsHandle>,
    /// External anchors enforced and created.
    pub(super) anchorer: Anchorer,
    /// Transfers, channel operations, commitments and rejection evidence.
    pub(super) pools: Pools,
    /// Imports blocks from peers, holding a competing branch between the pages of a sync.
    pub(super) importer: Importer<CheckedBlock, BTreeMap<String, Map>>,
    /// Wall time: block stamps, when a block is due, scoring, deadlines.
    pub(super) clock: SharedClock,
    /// When it first saw its tip, and since when its pool has held a commitment at it.
    pub(super) timer: MintTimer,
    /// Shut until the node's first sync when it has peers to sync from.
    pub(super) gate: MintGate,
    /// Recent states (with their best parameters) a fork point is rebuilt from.
    pub(super) checkpoints: StateCheckpoints<BTreeMap<String, Map>>,
}

/// What a chain service runs with besides its chain and identity.
#[derive(Debug)]
pub struct ChainServiceConfig {
    /// Where every block the service applies is recorded (`None` records nothing).
    pub stats: Option<doin_stats::StatsHandle>,
    /// The external anchors it enforces and creates.
    pub anchoring: Anchoring,
    /// The mempool's settings (the channel pool takes its rate limit).
    pub mempool: MempoolConfig,
    /// The clock it stamps blocks, schedules minting and judges deadlines by.
    pub clock: SharedClock,
    /// When it may start minting ([`MintGate`]: at once by default).
    pub mint_gate: MintGate,
}

impl Default for ChainServiceConfig {
    fn default() -> Self {
        ChainServiceConfig {
            stats: None,
            anchoring: Anchoring::default(),
            mempool: MempoolConfig::default(),
            clock: crate::clock::system(),
            mint_gate: MintGate::open(),
        }
    }
}

/// Starts the service on its own thread with the defaults of [`ChainServiceConfig`] (no
/// stats, no anchors, the default mempool, the system clock).
pub fn spawn(
    opened: OpenedChain,
    identity: Arc<Identity>,
) -> (ChainHandle, std::thread::JoinHandle<()>) {
    launch(opened, identity, ChainServiceConfig::default())
}

/// Starts the service on its own thread per `config`, with a thread that asks it every
/// [`TICK`] whether a block is due.
pub fn launch(
    opened: OpenedChain,
    identity: Arc<Identity>,
    config: ChainServiceConfig,
) -> (ChainHandle, std::thread::JoinHandle<()>) {
    let ChainServiceConfig {
        stats,
        anchoring,
        mempool,
        clock,
        mint_gate,
    } = config;
    let (commands, rx) = mpsc::channel(COMMAND_QUEUE);
    let tip = match opened.store.tip() {
        Ok((index, _)) if index > 0 => opened
            .store
            .block(index)
            .ok()
            .flatten()
            .map(|b| (b.header.clone(), b.transactions.len() as i64)),
        _ => None,
    };
    let (pools, relays) = Pools::new(mempool);
    let mut checkpoints = StateCheckpoints::new(opened.state.params());
    checkpoints.record(&opened.state, &opened.best_parameters);
    let mut service = Service {
        tip,
        minted: None,
        store: opened.store,
        state: opened.state,
        best_parameters: opened.best_parameters,
        identity,
        pending: PendingOptimae::new(),
        view: watch::channel(Arc::new(ChainView::default())).0,
        stats,
        anchorer: Anchorer::new(anchoring),
        importer: Importer::new(),
        pools,
        clock: clock.clone(),
        timer: MintTimer::new(),
        gate: mint_gate,
        checkpoints,
    };
    let rejections = service.pools.rejections.clone();
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
    (
        ChainHandle {
            commands,
            view,
            relay: relays.transfers,
            rejections,
            channel_relay: relays.channel_ops,
            commitment_relay: relays.commitments,
            optimae_relay: relays.optimae,
            clock,
        },
        thread,
    )
}

impl Service {
    fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        while let Some(cmd) = rx.blocking_recv() {
            match cmd {
                Command::Import { blocks, reply } => {
                    let _ = reply.send(self.on_import(blocks));
                }
                Command::Submit { proposal, reply } => {
                    let _ = reply.send(self.submit(*proposal));
                }
                Command::AdmitOptimae { optimae, reply } => {
                    let _ = reply.send(self.admit(&optimae));
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
                    let outcome = self.pools.submit_commitment(
                        *commitment,
                        relay,
                        &self.state,
                        self.clock.now_micros(),
                    );
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
                    let _ = reply.send(self.committed_at(&bound, &optimizer_id));
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
                    let outcome =
                        self.pools
                            .submit_transfer(*transfer, &source, relay, &self.state);
                    if outcome.is_ok() {
                        let size = self.pools.mempool.len();
                        self.view
                            .send_modify(|v| Arc::make_mut(v).mempool_size = size);
                    }
                    let _ = reply.send(outcome);
                }
                Command::Account { address, reply } => {
                    let _ = reply.send(self.pools.account(&self.state, &address));
                }
                Command::SubmitChannelOp {
                    op,
                    source,
                    relay,
                    reply,
                } => {
                    let outcome = self.pools.submit_channel_op(
                        *op,
                        &source,
                        relay,
                        &self.state,
                        self.clock.now_micros(),
                    );
                    let _ = reply.send(outcome);
                }
                Command::ChannelInfo {
                    channel_id,
                    address,
                    reply,
                } => {
                    let info = self.pools.channel_info(
                        &self.state,
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

    /// Creates the anchors that became due and publishes a fresh [`ChainView`].
    pub(super) fn publish(&mut self) {
        self.anchorer.anchor_due(&self.store, &self.state);
        let mut view = build_view(
            &self.state,
            self.identity.peer_id(),
            self.pending.transactions(),
        );
        view.mempool_size = self.pools.mempool.len();
        view.mempool_limit = self.pools.mempool.capacity();
        if let Some((header, count)) = &self.tip {
            view.tip_header = Some(header.clone());
            view.tip_tx_count = *count;
        }
        view.minted_tip = self
            .minted
            .clone()
            .filter(|b| b.hash == self.state.tip_hash());
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
        minted_tip: None,
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
        pending_sum: state
            .pending_sum_by(pending, state.tip_time_micros(), me)
            .unwrap_or(0.0),
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
