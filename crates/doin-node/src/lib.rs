//! # doin-node
//!
//! The node assembly: configuration, command line, roles, loops, HTTP API and the
//! `doin-node` binary. Protocol rules live in `doin-consensus`; this crate wires them to
//! storage, the network and the plugins.
//!
//! Bird's eye view:
//! * [`node`] — a running node: [`node::start`] (or [`node::NodeBuilder`], which swaps in
//!   plugins, inference payment or a clock) launches each component with its own
//!   function (the private `launch` module: chain, stats, workers, inference, HTTP API)
//!   from the typed config, hands every worker the stop token ([`stop`]) and the clock
//!   ([`clock`]), and [`node::RunningNode::shutdown`] stops them within a few seconds.
//! * [`config`] — the reference's JSON config keys, defaults, validation, embedded defaults.
//! * [`cli`] — the reference's command-line flags, applied over the config.
//! * [`clock`] — the wall clock the node reads protocol time from: the system's, or a
//!   manual one a test moves; [`stop`] — the stop token every worker honours, and
//!   [`worker_runtime`] — how worker threads wait on the runtime only while the node runs.
//! * [`anchor`] — external checkpoint anchors: the file, HTTP and PostgreSQL sinks, the
//!   publisher, and the read-back enforced at start-up (rules in `doin_consensus::anchor`).
//! * [`optimizer_loop`] — a domain's optimizer rounds with island migration (each round
//!   starts from the best optimae on chain, or another node's newest reveal: [`migration`])
//!   and commit (on chain) → reveal → quorum of improvements, the commitments awaited and
//!   the quorum's votes collected while rounds go on; [`proposal_cycle`] — that cycle's
//!   decisions without I/O (when a commitment has landed, when to reveal and to whom, how
//!   many in flight, when the votes suffice, when to give up, what a reorganisation
//!   undoes), on the caller's clock and votes delivered as values; shared with the
//!   simulator.
//! * [`chain_service`] — the actor owning the chain store, the consensus state and the
//!   [`mempool`] (pending transfers: fee order, eviction, per-peer rate limits) and the
//!   [`channel_pool`] (pending payment-channel operations, the same way) and the
//!   [`commitment_pool`] (optimizers' commitments waiting for a block; commitment blocks);
//!   [`mint_schedule`] — when it mints (work blocks spaced and staggered on a network),
//!   [`mint_timer`] — what it remembers between checks (when it saw its tip, since when
//!   it pools commitments), [`pending_optimae`] — verified optimae scored and waiting for
//!   a work block, [`block_assembly`] — what goes into a block it mints; all four shared
//!   with the simulator. [`mint_gate`] — a node that joins a network mints nothing before
//!   its first sync.
//!   One file per part: its handle, the command loop, import of peers' blocks, minting,
//!   the pools and their relays, quorum plans, anchoring, opening `chain.db`.
//!   [`chain_import`] — what import decides (extend, weigh a branch, reorganise, refuse
//!   below finality or against an anchor), without I/O: the chain service runs it over
//!   `chain.db`, the simulator (`doin-sim`) over memory; [`state_checkpoints`] — recent
//!   states a fork point is rebuilt from, instead of replaying from genesis.
//! * [`network`] — gossip: block announcements (carrying the block, [`block_gossip`]), transfers, votes with their claims, peer
//!   endpoints; [`channel_gossip`] — channel operations; [`commitment_gossip`] —
//!   commitments; [`optimae_gossip`] — verified optimae, for any minter to carry.
//! * [`p2p`] — the node on libp2p, how doin nodes talk to each other: started from the
//!   node's key and `listen_addrs`, gossip published and admitted, sync and evaluators'
//!   task calls served and made over request-response; HTTP peers (reference nodes) are
//!   flooded as the reference does ([`network`]).
//! * [`announced_tasks`] — verification tasks an evaluator takes from their gossiped
//!   announcements (its quorum slot named), its vote gossiped back.
//! * [`evidence`] — rejection evidence: claims admitted by evaluators, the bounded pool of
//!   claims and votes, and the rejections a minted block carries ([`evidence_gossip`]).
//! * [`api`] — the HTTP API (the reference's paths, plus `/transfers`, `/balance`,
//!   `/channels`, `GET /inference/{task_id}` and `/inference/channels`, `/metrics`);
//!   [`api_state`] — what the HTTP surfaces read (API, `/metrics`, [`dashboard`]), below
//!   all of them; [`block_source`] — stored blocks read beside the chain service (API,
//!   sync, peers); [`metrics`] — event counters any component may bump.
//! * [`import_reference`] — `doin-node import-reference`: a reference chain verified by
//!   the reference's rules and loaded into the stats as an archive, never as our chain.
//! * [`wallet`] — `doin-node wallet address|balance|transfer`; [`wallet_channel`] —
//!   `doin-node wallet channel open|update|countersign|close|dispute|settle|show`.
//! * [`inference`] — inference requests: served with each domain's best optimae on chain
//!   by the `inference` worker, recorded in `inference.db`, paid through a
//!   [`inference::PaymentCheck`]: by default [`inference::ChannelPayment`], payment-channel
//!   vouchers booked with each request; [`inference::settlement`] closes paid channels and
//!   its watcher disputes a client's stale close and settles, on its own.
//!
//! With the `testing` feature (on for this crate's own tests and benches), `testnet` runs
//! N whole nodes in one process for multi-node tests; it is not part of the node.

pub mod anchor;
pub mod announced_tasks;
pub mod api;
pub mod api_state;
pub mod block_assembly;
pub mod block_gossip;
pub mod block_source;
pub mod chain_import;
pub mod chain_params;
pub mod chain_service;
pub mod channel_gossip;
pub mod channel_pool;
pub mod cli;
pub mod clock;
pub mod commitment_gossip;
pub mod commitment_pool;
pub mod config;
pub mod dashboard;
pub mod evaluator;
pub mod evidence;
pub mod evidence_gossip;
pub mod http_body;
pub mod http_error;
pub mod http_server;
pub mod import_reference;
pub mod inference;
mod launch;
pub mod mempool;
pub mod metrics;
pub mod migration;
pub mod mint_gate;
pub mod mint_schedule;
pub mod mint_timer;
pub mod network;
pub mod node;
pub mod optimae_gossip;
pub mod optimizer_loop;
pub mod p2p;
pub mod peers;
pub mod pending_optimae;
pub mod plugins;
pub mod progress;
pub mod proposal_cycle;
pub mod rate_window;
pub mod remote_tasks;
pub mod state_checkpoints;
pub mod stats;
pub mod stop;
pub mod sync;
pub mod task_queue;
#[cfg(any(test, feature = "testing"))]
pub mod testnet;
pub mod view;
pub mod wallet;
pub use wallet::channel as wallet_channel;
pub mod worker_runtime;
