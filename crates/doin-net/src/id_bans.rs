//! One list of banned DOIN peer ids for both transports.
//!
//! A node is one key on both transports: its DOIN peer id signs what it posts to
//! `POST /message`, and the same key is its libp2p identity, from which the id of an
//! authenticated connection follows ([`crate::p2p::identity`]). So a peer banned on one
//! transport for what it sent is refused on the other under the same id: the HTTP bridge
//! bans a signer whose score fell below the ban line ([`crate::service`]) and refuses its
//! messages; the libp2p transport bans the id of a connection whose gossip put it there
//! ([`crate::p2p`]'s verdicts), closes the connections of a peer whose id was banned on
//! the bridge as soon as the ban is made, and refuses a connection whose identify record
//! proves a banned id. Both hold a clone of the same [`IdBans`] (the node hands the
//! libp2p transport's, [`crate::p2p::P2pHandle::id_bans`], to the bridge).
//!
//! The address list ([`crate::address_bans`]) catches a banned peer that comes back with
//! a fresh key from the same address; this one catches the same key from anywhere.

use doin_primitives::PeerId;

use crate::shared_bans::SharedBans;

/// The banned DOIN peer ids (40 hex), shared by both transports.
pub type IdBans = SharedBans<PeerId>;
