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
//! command channel, and reads wall time only from the clock it is given
//! ([`crate::clock`]: block stamps, when a block is due, scoring, deadlines).
//!
//! The actor's parts, one file each:
//! * `handle` — [`ChainHandle`] (and [`WeakChainHandle`]): the requests other components
//!   send, over the bounded command channel;
//! * `service` — the actor: its state, the command loop that dispatches to the parts below,
//!   and the [`ChainView`] it publishes after every change;
//! * `checks` — the stateless checks of blocks from peers (ids, hashes, signatures), on
//!   every core and off the service's thread;
//! * `import` — blocks from peers: the service's side of [`crate::chain_import`] (which
//!   decides), over `chain.db`: what it keeps, how it rebuilds a fork point, a reorganisation;
//! * `minting` — pending optimae and the blocks this node mints;
//! * `pools` — the mempool, channel and commitment pools with their gossip relays;
//! * `quorum` — where a commitment landed and the quorum it draws;
//! * `anchoring` — external anchors, enforced and created;
//! * `open` — `chain.db` opened and replayed at start-up;
//! * `reader_pool` — read-only store connections for the HTTP API.

mod anchoring;
mod checks;
mod handle;
mod import;
mod minting;
mod open;
mod pools;
mod quorum;
mod reader_pool;
mod service;
#[cfg(test)]
mod tests;

pub use crate::chain_import::{ImportError, ImportOutcome};
pub use anchoring::Anchoring;
pub use checks::{check_blocks, check_blocks_off_thread};
pub use handle::{AccountInfo, ChainHandle, SubmitTransferError, WeakChainHandle};
pub use minting::{Proposal, SubmitOutcome};
pub use open::{open_chain, OpenChainError, OpenedChain};
pub use quorum::{committed_at, plan_quorum, CommittedAt, QuorumPlan};
pub use reader_pool::ReaderPool;
pub use service::{launch, spawn, ChainServiceConfig};

#[cfg(doc)]
use {
    crate::channel_pool::ChannelPool, crate::commitment_pool::CommitmentPool,
    crate::mempool::Mempool, crate::view::ChainView, doin_consensus::state::ChainState,
};

/// Commands queued to the service before senders wait.
const COMMAND_QUEUE: usize = 256;
/// Transfers waiting to be gossiped at most (more are not relayed, only kept).
const RELAY_QUEUE: usize = 1024;
/// How often the service checks whether a block is due ([`crate::mint_schedule`]).
pub const TICK: std::time::Duration = std::time::Duration::from_millis(25);
