//! Finality: implicit checkpoints at every multiple of `finality_depth`, final once they
//! are `finality_depth` blocks deep. A node never reorganises below the finalized height.

/// Whether height `h` carries a checkpoint (a positive multiple of `depth`; genesis is
/// always final). A depth of 0 makes every block a checkpoint.
pub fn is_checkpoint(h: u64, depth: u64) -> bool {
    match h.checked_rem(depth) {
        None => true,
        Some(rest) => rest == 0,
    }
}

/// The finalized height at chain tip `tip`: the highest checkpoint `h` with
/// `tip >= h + depth` (0, genesis, when none). With depth 0 every block is final.
pub fn finalized_height(tip: u64, depth: u64) -> u64 {
    if depth == 0 {
        return tip;
    }
    match tip.checked_sub(depth) {
        Some(deepest) => deepest - deepest % depth,
        None => 0,
    }
}

/// Whether a reorganisation to a fork that branches off at `fork_point` (the last common
/// block) is allowed at tip `tip`: only if it keeps the finalized block,
/// `fork_point >= finalized_height(tip)` (the reference's off-by-one rejects exactly this
/// case).
pub fn reorg_allowed(fork_point: u64, tip: u64, depth: u64) -> bool {
    fork_point >= finalized_height(tip, depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_are_multiples_of_the_depth() {
        assert!(is_checkpoint(0, 6));
        assert!(is_checkpoint(12, 6));
        assert!(!is_checkpoint(13, 6));
        assert!(is_checkpoint(13, 0));
    }

    #[test]
    fn a_checkpoint_is_final_depth_blocks_later() {
        assert_eq!(finalized_height(0, 6), 0);
        assert_eq!(finalized_height(11, 6), 0);
        assert_eq!(finalized_height(12, 6), 6);
        assert_eq!(finalized_height(17, 6), 6);
        assert_eq!(finalized_height(18, 6), 12);
        assert_eq!(finalized_height(9, 0), 9);
    }

    #[test]
    fn reorgs_may_not_cross_the_finalized_block() {
        assert!(reorg_allowed(6, 12, 6));
        assert!(!reorg_allowed(5, 12, 6));
        assert!(reorg_allowed(0, 11, 6));
    }
}
