//! When this node mints: node policy, not a consensus rule (any valid block is accepted
//! whenever it comes), that keeps honest nodes from racing each other.
//!
//! Left alone, every node would mint the moment its pending sum reaches the threshold,
//! and on a young network, where one optimae alone reaches it, blocks would come
//! milliseconds apart: rival blocks at every height, and a
//! node `finality_depth` blocks ahead within a fraction of a second, finalizing its branch
//! before its peers' blocks reach it (a permanent split, as finality refuses to reorganise
//! below it). So on a network:
//! * a work block waits [`WORK_BLOCK_SPACING`] of a target block time after its parent:
//!   `finality_depth` blocks take `finality_depth / 10` target block times at least, far
//!   longer than a gossip hop;
//! * a commitment block waits one target block time after its parent
//!   ([`ChainState::commitment_block_due`], a consensus rule);
//! * on top of either wait, the candidates take turns ([`mint_turns`], [`turn_micros`]):
//!   in an order drawn from the tip hash, the first [`MINT_TURNS`] of them each
//!   [`MINT_TURN`] of a target block time after the one before, then every other node
//!   after the last turn and a stagger of its own, drawn from the tip hash and its peer id
//!   ([`stagger_micros`]). The candidates for a commitment block are the optimizers whose
//!   commitments the pool holds; for a work block, the optimizers whose commitments the
//!   last [`WORK_TURN_BLOCKS`] blocks carry ([`ChainState::recent_committers`]), as they
//!   are the ones about to reveal.
//!
//! Why turns: every node pools every commitment it hears of, so every node was a
//! candidate for the next commitment block, and a stagger over half a target block time
//! left 25 ms between the first two of 200 nodes, far less than a block takes to spread;
//! nine in ten commitment blocks had a rival (the simulator's `network_day` bench). And the
//! optimizers whose commitments landed together reveal together, so their work blocks came
//! within a few tens of milliseconds of each other. The nodes agree on the candidates (the
//! chain, or a pool that is nearly the same everywhere, since a commitment spreads within
//! a second and waits a target block time), so the first candidate usually mints alone:
//! the next one's turn comes a gossip hop later. Liveness is kept: a candidate that is
//! offline, has nothing to mint, or does not mint costs one turn, and if none of them
//! mints, every node may after the last turn; as there are [`MINT_TURNS`] turns at most,
//! commitments under many identities that never mint delay a block by those turns and
//! half a spacing at most. Safety is unchanged: the turns only add to the waits above.
//! Turns are node policy: a block that comes out of turn is valid all the same.
//!
//! A solo chain has no rival: it mints work blocks as soon as they reach the threshold.
//!
//! One minter carries everyone's accepted optimae. An optimizer whose optimae has its
//! quorum's votes and that does not mint it at once gossips it as a verified optimae
//! (reveal, votes, experiment metrics and its sealed claim: [`crate::optimae_gossip`]);
//! every node serving the domain scores it against its chain and keeps it pending beside
//! its own ([`crate::pending_optimae::PendingOptimae::admit`]), so the first candidate
//! whose turn comes mints all of them, sealing the other optimizers' transactions as
//! generator with their claim seals inside (`doin_consensus::carried`); the next
//! candidates find them on chain and drop their copies. The turns above are unchanged:
//! they already let the first candidate mint alone, and the work-block spacing gives the
//! optimae the time of a gossip hop to reach it.
//!
//! History: each node once minted only its own optimae. An `optimae_accepted` transaction
//! was sealed by its optimizer over numbers that depend on the tip it was built on (the
//! domain's best before it, the increment, the reward fraction, the effective increment
//! scaled by the optimizer's reputation), so another node could carry it only in a block
//! directly on that tip and as the only optimae of its domain there, and with several
//! optimizers every height was raced by several minters. The optimizer now seals only its
//! claim (what no tip changes); the tip-dependent numbers are the generator's, which
//! validators recompute anyway. The optimizer's own form stays valid, so chains built
//! before carrying still validate.
//!
//! The work-block wait runs from the tip's timestamp, or from when this node adopted the
//! tip if that is earlier ([`work_block_due_since`]): the timestamp is the generator's
//! clock, and a generator whose clock runs tens of seconds fast (within the drift a
//! validator allows) would otherwise date every tip in its peers' future and starve their
//! work blocks (found by the simulator, `doin-sim`, seed 30).

use doin_consensus::state::ChainState;
use doin_primitives::Timestamp;
use sha2::{Digest, Sha256};

/// The share of a target block time a work block waits after its parent on a network.
pub const WORK_BLOCK_SPACING: f64 = 0.1;

/// The share of a target block time between two candidates' turns to mint a block:
/// longer than a block takes to reach most peers (about 0.2 s on the simulator's 200-node
/// mesh, a tenth of a target block time of a second or more).
pub const MINT_TURN: f64 = 0.1;

/// The candidates for a block that take a turn of their own; the others wait, with every
/// node, for the last turn and their stagger.
pub const MINT_TURNS: usize = 4;

/// The blocks whose committers ([`ChainState::recent_committers`]) are the candidates for
/// the next work block: the optimizers about to reveal.
pub const WORK_TURN_BLOCKS: usize = 3;

/// This node's extra wait after a block of spacing `spacing_micros` is due at the tip: a
/// share of half the spacing drawn from the tip hash and the node's id (none on a solo
/// chain).
pub fn stagger_micros(state: &ChainState, peer_id: &str, spacing_micros: i64) -> i64 {
    if state.is_solo() {
        return 0;
    }
    let h = Sha256::new()
        .chain_update(b"doin/mint-stagger/")
        .chain_update(state.tip_hash())
        .chain_update(b"/")
        .chain_update(peer_id)
        .finalize();
    // The first four bytes of the hash, big-endian (the first eight hex digits).
    let first = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    let share = f64::from(first) / f64::from(u32::MAX);
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

/// How long node `peer_id` waits to mint a work block after the start of the wait
/// ([`wait_origin_micros`]): [`WORK_BLOCK_SPACING`] of a target block time, then its turn
/// among the optimizers whose commitments the last [`WORK_TURN_BLOCKS`] blocks carry
/// ([`turn_micros`]; none on a solo chain).
pub fn work_block_wait_micros(state: &ChainState, peer_id: &str) -> i64 {
    if state.is_solo() {
        return 0;
    }
    let spacing = work_block_spacing_micros(state);
    let candidates = state.recent_committers(WORK_TURN_BLOCKS);
    spacing.saturating_add(turn_micros(state, peer_id, candidates, spacing))
}

/// Whether node `peer_id`, which adopted its tip at `tip_adopted_micros` by its own clock,
/// may mint a work block at `now`: the wait ([`work_block_wait_micros`]) runs from
/// [`wait_origin_micros`].
pub fn work_block_due_since(
    state: &ChainState,
    peer_id: &str,
    now: Timestamp,
    tip_adopted_micros: i64,
) -> bool {
    let wait = work_block_wait_micros(state, peer_id);
    let origin = wait_origin_micros(state, tip_adopted_micros);
    now.unix_micros().saturating_sub(origin) >= wait
}

/// Where the wait for a work block starts: the tip's timestamp, or the time this node
/// adopted the tip (by its own clock) when that is earlier, so that a tip dated in this
/// node's future does not hold its work blocks back.
pub fn wait_origin_micros(state: &ChainState, tip_adopted_micros: i64) -> i64 {
    state.tip_time_micros().min(tip_adopted_micros)
}

/// The candidates for the next block in the order of their turns: the optimizers
/// `candidates` (repeats ignored), ordered by a draw from the tip hash and their id, so
/// that every node that knows the same candidates computes the same order, and a new tip
/// draws a new one.
pub fn mint_turns<'a>(
    state: &ChainState,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Vec<&'a str> {
    // sha256("doin/mint-turn/{tip}/{id}"), the tip's part hashed once; raw digests sort as
    // their hex does.
    let tip = Sha256::new()
        .chain_update(b"doin/mint-turn/")
        .chain_update(state.tip_hash())
        .chain_update(b"/");
    let candidates: std::collections::BTreeSet<&'a str> = candidates.into_iter().collect();
    let mut drawn: Vec<([u8; 32], &'a str)> = candidates
        .into_iter()
        .map(|id| (tip.clone().chain_update(id).finalize().into(), id))
        .collect();
    drawn.sort();
    drawn.into_iter().map(|(_, id)| id).collect()
}

/// Node `peer_id`'s wait for its turn once a block of spacing `spacing_micros` is due:
/// [`MINT_TURN`] of a target block time for each candidate before it in [`mint_turns`];
/// a node that is not among the first [`MINT_TURNS`] candidates waits for every turn and
/// its own stagger ([`stagger_micros`]). None on a solo chain.
pub fn turn_micros<'a>(
    state: &ChainState,
    peer_id: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    spacing_micros: i64,
) -> i64 {
    if state.is_solo() {
        return 0;
    }
    let turn = (state.params().target_block_time_secs * MINT_TURN * 1e6) as i64;
    let turns = mint_turns(state, candidates);
    let turns = &turns[..turns.len().min(MINT_TURNS)];
    let before = |n: usize| i64::try_from(n).unwrap_or(i64::MAX).saturating_mul(turn);
    match turns.iter().position(|id| *id == peer_id) {
        Some(rank) => before(rank),
        None => before(turns.len()).saturating_add(stagger_micros(state, peer_id, spacing_micros)),
    }
}

/// When node `peer_id` may mint a commitment block, by its clock, while its pool holds
/// commitments of the optimizers `owners` and has held one since `pooled_since_micros`:
/// its turn among them ([`turn_micros`]) after the block is due (one target block time
/// after its parent) and after the pool received a commitment. The later start matters
/// after a quiet spell: a block long due would otherwise let every node mint the moment a
/// commitment reaches it, each knowing only its own or the first one.
pub fn commitment_block_at_micros<'a>(
    state: &ChainState,
    peer_id: &str,
    owners: impl IntoIterator<Item = &'a str>,
    pooled_since_micros: i64,
) -> i64 {
    let base = state.commitment_block_micros();
    let due = state.tip_time_micros().saturating_add(base);
    due.max(pooled_since_micros)
        .saturating_add(turn_micros(state, peer_id, owners, base))
}

/// Whether node `peer_id` may mint a commitment block at `now`
/// ([`commitment_block_at_micros`]).
pub fn commitment_block_due<'a>(
    state: &ChainState,
    peer_id: &str,
    owners: impl IntoIterator<Item = &'a str>,
    pooled_since_micros: i64,
    now: Timestamp,
) -> bool {
    // Not due before a target block time whoever mints (the draw is left undone).
    if !state.commitment_block_due(state.block_time(now)) {
        return false;
    }
    now.unix_micros() >= commitment_block_at_micros(state, peer_id, owners, pooled_since_micros)
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

    /// The draws every node computes, as first written (hex digests of formatted strings):
    /// every doin node must draw the same turns and staggers whatever the code computing
    /// them.
    #[test]
    fn the_draws_are_the_hex_digests_of_the_tip_and_the_id() {
        let state = network();
        let tip = state.tip_hash().to_owned();
        let ids: Vec<String> = (0..40).map(|i| format!("{i:040x}")).collect();
        let mut by_hex: Vec<(String, &str)> = ids
            .iter()
            .map(|id| {
                let hex = doin_primitives::hash::sha256_hex(format!("doin/mint-turn/{tip}/{id}"));
                (hex, id.as_str())
            })
            .collect();
        by_hex.sort();
        let expected: Vec<&str> = by_hex.into_iter().map(|(_, id)| id).collect();
        assert_eq!(mint_turns(&state, ids.iter().map(String::as_str)), expected);
        for id in &ids {
            let h = doin_primitives::hash::sha256_hex(format!("doin/mint-stagger/{tip}/{id}"));
            let share = u64::from_str_radix(&h[..8], 16).expect("hex") as f64 / f64::from(u32::MAX);
            let expected = (share * 1_000_000.0 / 2.0) as i64;
            assert_eq!(stagger_micros(&state, id, 1_000_000), expected, "{id}");
        }
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
    fn the_first_candidate_mints_a_commitment_block_after_a_target_block_time() {
        let state = network();
        let tip = state.tip_time_micros();
        let at = |micros: i64| Timestamp::from_unix_micros(tip + micros);
        let owners = ["a", "b", "c"];
        let turns = mint_turns(&state, owners);
        let first = turns[0];
        assert!(!commitment_block_due(&state, first, owners, 0, at(999_999)));
        assert!(commitment_block_due(
            &state,
            first,
            owners,
            0,
            at(1_000_000)
        ));
    }

    #[test]
    fn commitment_candidates_take_turns_drawn_from_the_tip() {
        let state = network();
        let tip = state.tip_time_micros();
        let at = |micros: i64| Timestamp::from_unix_micros(tip + micros);
        let owners = ["a", "b", "c", "b"];
        let turns = mint_turns(&state, owners);
        // Each owner once, the same order whatever order the pool lists them in.
        assert_eq!(turns.len(), 3);
        assert_eq!(mint_turns(&state, ["c", "b", "a"]), turns);
        // A tenth of the target block time (1 s here) between turns.
        for (rank, id) in turns.iter().enumerate() {
            let wait = 1_000_000 + 100_000 * rank as i64;
            assert_eq!(
                commitment_block_at_micros(&state, id, owners, 0),
                tip + wait
            );
            assert!(!commitment_block_due(&state, id, owners, 0, at(wait - 1)));
            assert!(commitment_block_due(&state, id, owners, 0, at(wait)));
        }
        // Another tip draws another order: over a few tips, each owner goes first.
        let mut firsts = std::collections::BTreeSet::new();
        let mut state = state;
        for i in 0..24 {
            firsts.insert(mint_turns(&state, owners)[0]);
            state = tip_after(&state, i);
        }
        assert_eq!(firsts.len(), 3, "{firsts:?}");
    }

    #[test]
    fn a_node_without_a_commitment_waits_for_every_candidate() {
        let state = network();
        let owners = ["a", "b"];
        let base = 1_000_000 + 2 * 100_000;
        let tip = state.tip_time_micros();
        let at = commitment_block_at_micros(&state, "z", owners, 0);
        let stagger = stagger_micros(&state, "z", 1_000_000);
        assert_eq!(at, tip + base + stagger);
        // With no owner known (an empty pool), only the stagger is left.
        assert_eq!(
            commitment_block_at_micros(&state, "z", [], 0),
            tip + 1_000_000 + stagger
        );
    }

    #[test]
    fn at_most_four_candidates_take_a_turn() {
        let state = network();
        let owners: Vec<String> = (0..12).map(|i| format!("node-{i}")).collect();
        let owners = || owners.iter().map(String::as_str);
        let turns = mint_turns(&state, owners());
        assert_eq!(turns.len(), 12);
        let last_turn = 1_000_000 + 4 * 100_000;
        for (rank, id) in turns.iter().enumerate() {
            let wait =
                commitment_block_at_micros(&state, id, owners(), 0) - state.tip_time_micros();
            if rank < MINT_TURNS {
                assert_eq!(wait, 1_000_000 + 100_000 * rank as i64);
            } else {
                // Back with every node: after the last turn, by its stagger.
                assert_eq!(wait, last_turn + stagger_micros(&state, id, 1_000_000));
            }
        }
    }

    #[test]
    fn recent_committers_take_turns_for_the_work_block() {
        let state = tip_after(&network(), 0);
        let committers: Vec<&str> = state
            .recent_committers(WORK_TURN_BLOCKS)
            .into_iter()
            .collect();
        assert_eq!(committers.len(), 1);
        let committer = committers[0];
        // The committer mints after the spacing; any other node after one turn and its
        // stagger.
        assert_eq!(work_block_wait_micros(&state, committer), 100_000);
        assert_eq!(
            work_block_wait_micros(&state, "z"),
            100_000 + 100_000 + stagger_micros(&state, "z", 100_000)
        );
        let tip = state.tip_time_micros();
        let at = |micros: i64| Timestamp::from_unix_micros(tip + micros);
        assert!(!work_block_due(&state, committer, at(99_999)));
        assert!(work_block_due(&state, committer, at(100_000)));
        assert!(!work_block_due(&state, "z", at(199_999)));
        // Commitments older than the last few blocks no longer make a candidate.
        let mut later = state.clone();
        for i in 1..=WORK_TURN_BLOCKS as u64 {
            later = tip_after(&later, i);
        }
        assert!(!later
            .recent_committers(WORK_TURN_BLOCKS)
            .contains(committer));
    }

    #[test]
    fn a_solo_chain_has_no_mint_turns() {
        let state = ChainState::new(ChainParams::solo_default());
        let at = commitment_block_at_micros(&state, "z", ["a", "b"], 0);
        assert_eq!(
            at,
            state.tip_time_micros() + state.commitment_block_micros()
        );
    }

    #[test]
    fn after_a_quiet_spell_the_turns_start_when_a_commitment_arrives() {
        let state = network();
        let tip = state.tip_time_micros();
        let owners = ["a", "b"];
        let turns = mint_turns(&state, owners);
        // The block has been due for a minute when the commitments arrive.
        let arrived = tip + 60_000_000;
        let now = |micros: i64| Timestamp::from_unix_micros(arrived + micros);
        assert!(commitment_block_due(
            &state,
            turns[0],
            owners,
            arrived,
            now(0)
        ));
        assert!(!commitment_block_due(
            &state,
            turns[1],
            owners,
            arrived,
            now(99_999)
        ));
        assert!(commitment_block_due(
            &state,
            turns[1],
            owners,
            arrived,
            now(100_000)
        ));
        let stagger = stagger_micros(&state, "z", 1_000_000);
        assert!(!commitment_block_due(
            &state,
            "z",
            owners,
            arrived,
            now(200_000 + stagger - 1)
        ));
    }

    /// A state whose tip is a commitment block on top of `state`'s, minted by a fresh
    /// identity (`i` varies the block).
    fn tip_after(state: &ChainState, i: u64) -> ChainState {
        use doin_consensus::commitment::OptimaeCommitment;
        let id = doin_primitives::identity::Identity::generate();
        let hash = doin_primitives::hash::sha256_hex(format!("commitment {i}"));
        let at = Timestamp::from_unix_micros(state.tip_time_micros() + 2_000_000);
        let c = OptimaeCommitment::sealed(&id, "quadratic", &hash, at);
        let block = state
            .build_block_with_commitments(&id, Vec::new(), Vec::new(), Vec::new(), &[c], at)
            .unwrap();
        let mut next = state.clone();
        next.apply_block(&block).unwrap();
        next
    }
}
