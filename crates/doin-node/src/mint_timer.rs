//! What a minting node remembers between its checks of whether a block is due
//! ([`MintTimer`]): when it first saw its tip, and since when its commitment pool has held
//! a commitment at that tip. The chain service asks it on every tick (and after every
//! import, mint or pooled commitment); the simulator (`doin-sim`) asks it at the same
//! moments in virtual time. The rules it feeds are [`crate::mint_schedule`]'s.

use doin_consensus::ChainState;
use doin_primitives::Timestamp;

use crate::mint_schedule::{commitment_block_due, work_block_due_since};

/// When this node saw its tip and since when it has pooled commitments at it, by its clock
/// (µs since the Unix epoch).
#[derive(Debug, Clone, Default)]
pub struct MintTimer {
    /// The tip last seen, and when it was first seen.
    tip_seen: (String, i64),
    /// The tip at which the pool was first seen holding a commitment, and when.
    pooled_since: Option<(String, i64)>,
}

impl MintTimer {
    /// A timer that has seen nothing yet (a node that just started).
    pub fn new() -> Self {
        Self::default()
    }

    /// When this node adopted the tip of `state`: the first call that saw it, at
    /// `now_micros` if that is this one. Where the wait for a work block may start
    /// ([`crate::mint_schedule::wait_origin_micros`]).
    pub fn tip_adopted(&mut self, state: &ChainState, now_micros: i64) -> i64 {
        if self.tip_seen.0 != state.tip_hash() {
            self.tip_seen = (state.tip_hash().to_owned(), now_micros);
        }
        self.tip_seen.1
    }

    /// Since when the commitment pool has held a commitment at the tip of `state` (`None`,
    /// and forgotten, while the pool is empty): where commitment-block turns start at the
    /// earliest ([`crate::mint_schedule::commitment_block_at_micros`]).
    pub fn pooled_since(
        &mut self,
        state: &ChainState,
        pool_empty: bool,
        now_micros: i64,
    ) -> Option<i64> {
        if pool_empty {
            self.pooled_since = None;
            return None;
        }
        match &self.pooled_since {
            Some((tip, since)) if tip == state.tip_hash() => Some(*since),
            _ => {
                self.pooled_since = Some((state.tip_hash().to_owned(), now_micros));
                Some(now_micros)
            }
        }
    }

    /// Whether node `peer_id` may mint a work block at `now`
    /// ([`crate::mint_schedule::work_block_due_since`], from when it adopted its tip).
    pub fn work_block_due(&mut self, state: &ChainState, peer_id: &str, now: Timestamp) -> bool {
        let adopted = self.tip_adopted(state, now.unix_micros());
        work_block_due_since(state, peer_id, now, adopted)
    }

    /// Whether node `peer_id` may mint a commitment block at `now` for the pool's
    /// commitments of `owners` ([`crate::mint_schedule::commitment_block_due`]).
    pub fn commitment_block_due<'a>(
        &mut self,
        state: &ChainState,
        peer_id: &str,
        owners: impl IntoIterator<Item = &'a str>,
        now: Timestamp,
    ) -> bool {
        let mut owners = owners.into_iter().peekable();
        let empty = owners.peek().is_none();
        match self.pooled_since(state, empty, now.unix_micros()) {
            Some(since) => commitment_block_due(state, peer_id, owners, since, now),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_consensus::ChainParams;

    #[test]
    fn the_tip_is_adopted_when_first_seen_and_pooling_restarts_at_each_tip_and_empty_pool() {
        let state = ChainState::new(ChainParams::solo_default());
        let mut t = MintTimer::new();
        assert_eq!(t.tip_adopted(&state, 10), 10);
        assert_eq!(t.tip_adopted(&state, 20), 10);
        assert_eq!(t.pooled_since(&state, true, 30), None);
        assert_eq!(t.pooled_since(&state, false, 40), Some(40));
        assert_eq!(t.pooled_since(&state, false, 50), Some(40));
        assert_eq!(t.pooled_since(&state, true, 60), None);
        assert_eq!(t.pooled_since(&state, false, 70), Some(70));
        // A timer that saw another tip starts over at this one.
        let mut other = MintTimer {
            tip_seen: ("elsewhere".into(), 1),
            pooled_since: Some(("elsewhere".into(), 1)),
        };
        assert_eq!(other.tip_adopted(&state, 80), 80);
        assert_eq!(other.pooled_since(&state, false, 90), Some(90));
    }
}
