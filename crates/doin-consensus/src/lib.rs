//! # doin-consensus
//!
//! Proof of Optimization rules as pure functions of chain data: no I/O, no clock.
//!
//! * [`mod@reference`] — the Python reference's consensus functions reproduced exactly, bugs
//!   included, pinned by the reference's test vectors.

pub mod reference;
