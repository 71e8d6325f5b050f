//! The adversary of the attack tests: an in-process network of honest nodes (the arena) and
//! an attacker identity that crafts and seals commitments, reveals, votes and blocks, hands
//! blocks to every node the way block sync does (`ChainHandle::import`, which validates them
//! exactly as a peer's blocks), talks to the nodes' task API over HTTP as a remote evaluator
//! does, and can serve tasks of its own to honest evaluators (a [`TaskServer`]).
//!
//! Files: `arena.rs` (the honest nodes), `attacker.rs` (what the attacker crafts),
//! `remote_evaluator.rs` (the task API over HTTP), `task_server.rs` (its own task server).
#![allow(dead_code, unreachable_pub)]

mod arena;
mod attacker;
mod remote_evaluator;
mod task_server;

// Each attack test uses part of the adversary: what one leaves unused is not dead.
#[allow(unused_imports)]
pub use {arena::*, attacker::*, remote_evaluator::*, task_server::*};

pub use doin_node::testnet::runtime;

/// The domain the arena optimizes.
pub const DOMAIN: &str = "quadratic";
