//! # doin-primitives
//!
//! The protocol's vocabulary, with no I/O: everything that must be byte-identical with the
//! Python reference so that ids and hashes agree across implementations.
//!
//! Bird's eye view:
//! * [`value`] — the JSON value model (int vs float, big ints, ordered objects).
//! * [`json`] — strict parsing of wire JSON and the compact wire writer.
//! * [`cjson`] and [`float_repr`] — canonical JSON, the bytes inside every hash preimage.
//! * [`timestamp`] — datetime parsing as pydantic does, `isoformat()` rendering.
//! * [`fields`] — lenient, typed reading of model fields, with [`fields::ModelError`].
//! * [`hash`] and [`merkle`] — SHA-256 hex ids and the reference's merkle rule.
//! * [`models`] — blocks, transactions, optimae, tasks, domains, coin objects (transfers,
//!   payment-channel operations and updates) and the message envelope with its payloads,
//!   each with its reference id; [`models::block_layout`] — how a block carries DOIN's
//!   extensions in the reference's transaction list, so reference nodes accept it.
//! * [`identity`] — P-256 keys, peer ids, DER signatures.
//! * [`peer_id`] — [`PeerId`], the DOIN peer id as a type (40 lowercase hex characters,
//!   checked by [`PeerId::parse`]; a plain string on the wire).
//! * [`synthetic_hash`] — the reference's fingerprint of synthetic evaluation data.
//! * [`seal`] — the signed-envelope extension: which bytes are signed and where the
//!   public key and signature ride; [`seal_cache`] — seals already verified in this
//!   process, not verified again.
//!
//! Every parser here returns a typed error and never panics on bad input; non-finite
//! floats are refused wherever they enter.

pub mod cjson;
pub mod fields;
pub mod float_repr;
pub mod hash;
pub mod identity;
pub mod json;
pub mod merkle;
pub mod models;
pub mod peer_id;
pub mod seal;
pub mod seal_cache;
pub mod synthetic_hash;
pub mod timestamp;
pub mod value;

pub use fields::ModelError;
pub use peer_id::{PeerId, PeerIdError};
pub use timestamp::Timestamp;
pub use value::{Map, Value};
