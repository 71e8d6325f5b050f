//! Shared test helpers.
#![allow(dead_code, unreachable_pub)]

use doin_primitives::models::payload::{BlockAnnouncement, OptimaeCommit, Payload};
use doin_primitives::models::Message;
use doin_primitives::value::Map;
use doin_primitives::Timestamp;

/// A block announcement from `sender` for height `index`.
pub fn announcement(sender: &str, index: i64) -> Message {
    Message::new(
        sender,
        Timestamp::from_unix_secs(1_800_000_000 + index),
        &Payload::from(BlockAnnouncement {
            block_index: index,
            block_hash: format!("{index:064x}"),
            previous_hash: format!("{:064x}", index - 1),
            generator_id: sender.to_owned(),
            transaction_count: 1,
            weighted_performance_sum: 1.5,
            threshold: 1.0,
            extra: Map::new(),
        }),
    )
}

/// An optimae commit for `domain` from `sender`.
pub fn commit(sender: &str, domain: &str, n: u32) -> Message {
    Message::new(
        sender,
        Timestamp::from_unix_secs(1_800_000_000 + i64::from(n)),
        &Payload::from(OptimaeCommit {
            commitment_hash: format!("{n:064x}"),
            domain_id: domain.to_owned(),
            extra: Map::new(),
        }),
    )
}
