//! # doin-node
//!
//! The node assembly: configuration, command line, roles, loops, HTTP API and the
//! `doin-node` binary. Protocol rules live in `doin-consensus`; this crate wires them to
//! storage, the network and the plugins.
//!
//! Bird's eye view:
//! * [`config`] — the reference's JSON config keys, defaults, validation, embedded defaults.
//! * [`cli`] — the reference's command-line flags, applied over the config.

pub mod api;
pub mod chain_params;
pub mod chain_service;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod evaluator;
pub mod metrics;
pub mod network;
pub mod node;
pub mod optimizer_loop;
pub mod peers;
pub mod plugins;
pub mod progress;
pub mod stats;
pub mod sync;
pub mod task_queue;
pub mod testnet;
pub mod view;
