//! # doin-consensus
//!
//! Proof of Optimization rules as pure functions of chain data: no I/O, no clock.
