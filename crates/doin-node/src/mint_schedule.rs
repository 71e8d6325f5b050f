//! When this node mints: node policy, not a consensus rule (any valid block is accepted
//! whenever it comes), that keeps honest nodes from racing each other.
//!
//! Each node mints its own accepted optimae. Left alone, every node would mint the moment
//! its pending sum reaches the threshold, and on a young network, where one optimae alone
//! reaches it, blocks would come milliseconds apart: rival blocks at every height, and a
//! node `finality_depth` blocks ahead within a fraction of a second, finalizing its branch
//! before its peers' blocks reach it (a permanent split, as finality refuses to reorganise
//! below it). So on a network:
//! * a work block waits [`WORK_BLOCK_SPACING`] of a target block time after its parent:
//!   `finality_depth` blocks take `finality_depth / 10` target block times at least, far
//!   longer than a gossip hop;
//! * a commitment block waits one target block time after its parent
//!   ([`ChainState::commitment_block_due`], a consensus rule);
//! * on top of either wait, each node waits a stagger of its own, drawn from the tip hash
//!   and its peer id ([`stagger_micros`]): the first node usually mints unopposed and the
//!   others see its block before their turn.
//!
//! A solo chain has no rival: it mints work blocks as soon as they reach the threshold.
//!
//! The work-block wait runs from the tip's timestamp, or from when this node adopted the
//! tip if that is earlier ([`work_block_due_since`]): the timestamp is the generator's
//! clock, and a generator whose clock runs tens of seconds fast (within the drift a
//! validator allows) would otherwise date every tip in its peers' future and starve their
//! work blocks (found by the simulator, `doin-sim`, seed 30).

use doin_consensus::state::ChainState;
use doin_primitives::Timestamp;

/// The share of a target block time a work block waits after its parent on a network.
pub const WORK_BLOCK_SPACING: f64 = 0.1;

/// This node's extra wait after a block of spacing `spacing_micros` is due at the tip: a
/// share of half the spacing drawn from the tip hash and the node's id (none on a solo
/// chain).
pub fn stagger_micros(state: &ChainState, peer_id: &str, spacing_micros: i64) -> i64 {
    if state.is_solo() {
        return 0;
    }
    let h = doin_primitives::hash::sha256_hex(format!(
        "doin/mint-stagger/{}/{peer_id}",
        state.tip_hash()
    ));
    let share = u64::from_str_radix(&h[..8], 16).unwrap_or(0) as f64 / f64::from(u32::MAX);
    (share * spacing_micros as f64 / 2.0) as i64
}

/// The wait of a work block after its parent on a network (none on a solo chain).
pub fn work_block_spacing_micros(state: &ChainState) -> i64 {
    if state.is_solo() {
        return 0;
    }
    (state.params().target_block_time_secs * WORK_BLOCK_SPACING * 1e6) as i64
}

/// Whether node `peer_id` may mint a work block at `now` (its pending sum permitting),
/// measured from the tip's timestamp.
pub fn work_block_due(state: &ChainState, peer_id: &str, now: Timestamp) -> bool {
    work_block_due_since(state, peer_id, now, now.unix_micros())
}

/// Whether node `peer_id`, which adopted its tip at `tip_adopted_micros` by its own clock,
/// may mint a work block at `now`: the wait runs from [`wait_origin_micros`].
pub fn work_block_due_since(
    state: &ChainState,
    peer_id: &str,
    now: Timestamp,
    tip_adopted_micros: i64,
) -> bool {
    let spacing = work_block_spacing_micros(state);
    let wait = spacing + stagger_micros(state, peer_id, spacing);
    let origin = wait_origin_micros(state, tip_adopted_micros);
    now.unix_micros().saturating_sub(origin) >= wait
}

/// Where the wait for a work block starts: the tip's timestamp, or the time this node
/// adopted the tip (by its own clock) when that is earlier, so that a tip dated in this
/// node's future does not hold its work blocks back.
pub fn wait_origin_micros(state: &ChainState, tip_adopted_micros: i64) -> i64 {
    state.tip_time_micros().min(tip_adopted_micros)
}

/// Whether node `peer_id` may mint a commitment block at `now` (its pool permitting).
pub fn commitment_block_due(state: &ChainState, peer_id: &str, now: Timestamp) -> bool {
    let stagger = stagger_micros(state, peer_id, state.commitment_block_micros());
    let at = Timestamp::from_unix_micros(now.unix_micros() - stagger);
    state.commitment_block_due(state.block_time(at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_consensus::params::ChainParams;

    fn network() -> ChainState {
        let mut params = ChainParams::solo_default();
        params.quorum_min_evaluators = 1;
        params.target_block_time_secs = 1.0;
        ChainState::new(params)
    }

    #[test]
    fn a_work_block_waits_its_spacing_and_the_nodes_stagger() {
        let state = network();
        let tip = state.tip_time_micros();
        let at = |micros: i64| Timestamp::from_unix_micros(tip + micros);
        let stagger = stagger_micros(&state, "a", 100_000);
        assert!((0..50_000).contains(&stagger), "{stagger}");
        assert!(!work_block_due(&state, "a", at(99_999)));
        assert!(!work_block_due(&state, "a", at(100_000 + stagger - 1)));
        assert!(work_block_due(&state, "a", at(100_000 + stagger)));
        // Nodes draw different staggers.
        let staggers: std::collections::BTreeSet<i64> = (0..8)
            .map(|i| stagger_micros(&state, &format!("node-{i}"), 100_000))
            .collect();
        assert!(staggers.len() > 4, "{staggers:?}");
    }

    #[test]
    fn a_tip_dated_in_the_future_is_waited_for_from_its_adoption() {
        let state = network();
        let tip = state.tip_time_micros();
        // The tip's generator runs 40 s fast: we adopted it at our time `tip - 40 s`.
        let adopted = tip - 40_000_000;
        let wait = 100_000 + stagger_micros(&state, "a", 100_000);
        let at = |micros: i64| Timestamp::from_unix_micros(adopted + micros);
        assert!(!work_block_due(&state, "a", at(wait)), "by the tip's date");
        assert!(!work_block_due_since(&state, "a", at(wait - 1), adopted));
        assert!(work_block_due_since(&state, "a", at(wait), adopted));
        // A tip dated before we adopted it (propagation) is still measured from its date.
        assert_eq!(wait_origin_micros(&state, tip + 300_000), tip);
    }

    #[test]
    fn a_solo_chain_mints_at_once() {
        let state = ChainState::new(ChainParams::solo_default());
        assert!(state.is_solo());
        let now = Timestamp::from_unix_micros(state.tip_time_micros());
        assert!(work_block_due(&state, "a", now));
        assert_eq!(stagger_micros(&state, "a", 1_000_000), 0);
    }

    #[test]
    fn a_commitment_block_waits_a_target_block_time_and_the_stagger() {
        let state = network();
        let tip = state.tip_time_micros();
        let stagger = stagger_micros(&state, "a", 1_000_000);
        let at = |micros: i64| Timestamp::from_unix_micros(tip + micros);
        assert!(!commitment_block_due(
            &state,
            "a",
            at(1_000_000 + stagger - 1)
        ));
        assert!(commitment_block_due(&state, "a", at(1_000_000 + stagger)));
    }
}
