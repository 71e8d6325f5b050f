//! # doin-sim
//!
//! A deterministic simulator of a DOIN network in virtual time. A run is a seed: N nodes,
//! each with its own chain, mint real, signed blocks over a simulated network with
//! latency, loss, partitions that heal, crashes and restarts, clock skew and adversaries,
//! all in one thread from one random stream, so a failing seed replays exactly and prints
//! its schedule. Invariants are checked as it runs.
//!
//! ## Bird's eye view
//!
//! * [`config`] — [`SimConfig`]: nodes, parameters and faults, drawn from the seed.
//! * [`queue`] — the priority queue of timed events, the messages, the event log.
//! * [`network`] — relay mesh, latency, loss, partitions.
//! * [`node`] — one node: kept blocks, chain state, pools, message handling, crash and
//!   restart (replay of the kept blocks, as the real node does from its store).
//! * [`import`] — a node's kept blocks under the node's own import
//!   ([`doin_node::chain_import`]): checkpoint states, the memo, invariants, notes.
//! * [`mint`] — the node's minting ([`doin_node::mint_schedule`], its timer, its pending
//!   optimae, its block assembly).
//! * [`optimizer`] — the node's proposal cycle ([`doin_node::proposal_cycle`]: commit →
//!   reveal → quorum votes) driven over the simulated chain and messages.
//! * [`optimae`] — the simulated optimization work (the quadratic objective in closed form).
//! * [`memo`] — checks and states that are pure functions of a block or a commitment,
//!   computed once per run.
//! * [`invariants`] — finality agreement, supply, quorums, valid chains.
//! * [`metrics`] — fork rate, reorganisation depth, finality, propagation, throughput,
//!   what became of the proposals (revealed, back to waiting, dropped, voted).
//! * [`sim`] — [`Simulation`]: the event loop, convergence and liveness checks.
//!
//! ## Real and simulated
//!
//! | part | in the simulator |
//! |---|---|
//! | consensus (validation, difficulty, quorum draw, commit–reveal, rewards, fork choice, finality) | real: `doin-consensus` |
//! | blocks, transactions, seals, hashes | real: `doin-primitives`, ECDSA P-256 keys per node |
//! | when to mint | real: `doin_node::mint_schedule`, with the node's memory of when it saw its tip and since when it pools commitments (`doin_node::mint_timer`) |
//! | import: new blocks, checks of a segment, extension keeping the valid prefix, a branch weighed page by page, reorganisation, refusal below finality | real: `doin_node::chain_import` (the chain service runs it over `chain.db`, each simulated node over its in-memory block list) |
//! | restart from kept blocks | replay of the kept blocks, as the chain service replays `chain.db` |
//! | commitment pool (admission, per-optimizer and total bounds, expiry, the oldest first into a block) | real: `doin_node::commitment_pool`, on each node's virtual clock |
//! | pending optimae (scored when voted, checked with the others, dropped when they no longer fit) and what goes in a block | real: `doin_node::pending_optimae`, `doin_node::block_assembly` |
//! | the optimizer's commit → reveal → quorum votes cycle (when a commitment has landed, when to reveal and to whom, how many in flight, when the votes suffice, when to give up, a reorganisation that unlands a commitment) | real: `doin_node::proposal_cycle`, with the node's quorum plan (`doin_node::chain_service::plan_quorum`), driven over simulated vote requests ([`optimizer`]); the node drives it over its task queue. Open votes of a young chain are not offered (simulated evaluators vote when asked) |
//! | gossip | flooding over a random mesh (not GossipSub), sync by locator from a random peer |
//! | optimizer and evaluator | closed-form quadratic objective; the evaluator's seed-dependent noise |
//! | network | latency floor + exponential tail, loss, two-sided partitions, load (each message waits for a core) |
//! | not modelled | transfers, payment channels, rejections, peer scoring and bans, HTTP, storage failures |

//!
//! ## What it found
//!
//! * Fork choice cycled: a commitment block adds no work and ties went to the lower tip
//!   hash, so honest nodes switched between equal-work branches forever (seed 32, fixed
//!   in `doin_consensus::fork_choice`: at equal work the longer chain wins).
//! * Clock skew starved optimizers: a node whose clock runs ~40 s ahead (well within the
//!   two minutes a validator allows) dated every tip in the others' future, and
//!   `doin_node::mint_schedule` measured the work-block wait from the tip's timestamp, so
//!   slower optimizers never found a work block due (seed 30; fixed: the wait starts at
//!   the tip's adoption when that is earlier, `mint_schedule::wait_origin_micros`). The
//!   seeds draw skews of up to ±40 s.
//! * Finality by depth was not partition-safe: two halves that each minted
//!   `2 × finality_depth` blocks finalized different blocks at one height
//!   ([`SimConfig::long_partition`], seed 0). Fixed in `doin_consensus::finality`: a
//!   checkpoint is final once peers holding two thirds of the attestation weight recorded
//!   at the last finalized checkpoint attest it, and fork choice ranks the finalized
//!   height first. The seeds draw partitions of up to a minute, after a 30 s warm-up (the
//!   first checkpoint has no earlier one to take weights from).
//! * A young network chain finalized each optimizer's own branch (issue 17): on the
//!   `p2p_scale` bench's network under load ([`SimConfig::loaded_network`]: 64 nodes, four
//!   optimizers, 1 s target blocks, every message delayed 0.75 s on average), each
//!   optimizer minted a branch alone from genesis, its quorums on the solo rule, and held
//!   all of that branch's weight: seed 0's nodes 0 and 2 finalized different blocks at
//!   height 6 six virtual seconds in, and 8 to 10 nodes stayed on node 0's finalized
//!   branch while 54 went on with node 2's, conflicting again at every checkpoint up to
//!   54 (seeds 0–5: three split). Fixed in `doin_consensus::finality`: a network chain's
//!   checkpoint needs an optimizer and a quorum among its attesters (seeds 0–5: none
//!   split; seed 0's 64 nodes all finalized height 72 of one chain).
//! * The `network_day` bench's fork rate (86 % at 200 nodes × 120 s) was commitment-block
//!   races, not propagation: blocks reach 90 % of the nodes in 0.2 s, but every node pooled
//!   every commitment it heard of, so all 200 were candidates for each commitment block and
//!   the stagger (half a target block time) left 25 ms between the first two; 91 % of
//!   commitment blocks forked, 53 % of work blocks. Fixed in `doin_node::mint_schedule`:
//!   the candidates take turns drawn from the tip hash (22 % at 200 nodes; see the bench's
//!   doc). Giving commitment blocks turns first moved the races to work blocks (the
//!   optimizers whose commitments land together reveal together) and to the first block
//!   after a quiet spell (each node ranked the owners it knew, often only itself).
//!
//! ## Cost
//!
//! A seed takes about 0.4 s of CPU in the test profile: the workspace crates and `ring`
//! are optimized in the dev profile (the root `Cargo.toml`), and what is a pure function
//! of a block or a commitment (content checks, signatures, the state after a block, a
//! commitment's id) is computed once per run, not once per node ([`memo`]); the nodes on
//! one tip share its state. The cost of a run grows with its virtual time, not faster: a
//! copy of the chain state no longer grows with the chain (`doin_consensus`'s ever-growing
//! sets are persistent), a seal verifies once per process
//! (`doin_primitives::seal_cache`), the pending optimae are checked in one pass, and the
//! memo forgets old judgements. Profiled (`perf record -e cpu-clock --call-graph dwarf`
//! on the `network_day` bench), before those: 50 nodes × 480 virtual seconds took 9.3 s
//! and 157 MB, after 3.2 s and 51 MB (same events, same report); 200 nodes with 20
//! optimizers × 1,800 s took 62.7 s and 388 MB on the converging objective (the pending
//! optimae piling up), 36.6 s and 787 MB on the endless one (every state copied whole),
//! after 18.0 s and 83 MB.

pub mod config;
pub mod import;
pub mod invariants;
pub mod memo;
pub mod metrics;
pub mod mint;
pub mod network;
pub mod node;
pub mod optimae;
pub mod optimizer;
pub mod queue;
pub mod rng;
pub mod sim;

pub use config::SimConfig;
pub use invariants::Violation;
pub use metrics::Report;
pub use sim::{Failure, Simulation};

/// Runs the run of `seed` ([`SimConfig::from_seed`]).
pub fn run_seed(seed: u64) -> Result<Report, Box<Failure>> {
    Simulation::new(SimConfig::from_seed(seed)).run()
}
