//! A competing branch being weighed, held by the [`super::Importer`] between the pages of
//! a sync.
//!
//! A branch that forks from our chain is adopted only once it is heavier, and a heavier
//! branch can be far longer than one page. Rather than buffering the branch unvalidated
//! until it is whole, the importer validates each page as it arrives on top of the
//! candidate state it keeps here (the state at the fork point with the branch's valid
//! blocks applied), so only validated blocks are ever held, and the weight compared with
//! ours is the weight of validated work. The next page continues the branch when it
//! starts right after the branch's last block and our chain still holds the fork point
//! (our tip may have moved on: the weights are compared with our chain as it is then).

use std::borrow::Borrow;

use doin_consensus::ChainState;
use doin_primitives::models::Block;

/// A branch validated so far: blocks held as `B`, with what the host derives along it
/// (`D`, [`super::KeptChain::Derived`]).
#[derive(Debug)]
pub(super) struct PendingBranch<B, D> {
    /// The last block both chains share.
    pub(super) fork_point: u64,
    /// The hash of our block at the fork point (the branch's parent).
    pub(super) fork_hash: String,
    /// The state after the branch's last block.
    pub(super) candidate: ChainState,
    /// What the host derives along the branch.
    pub(super) derived: D,
    /// The branch's blocks, each validated.
    pub(super) blocks: Vec<B>,
}

impl<B: Borrow<Block>, D> PendingBranch<B, D> {
    /// Whether `page` starts right after this branch's last block.
    pub(super) fn continued_by(&self, page: &[B]) -> bool {
        let (Some(first), Some(last)) = (page.first(), self.blocks.last()) else {
            return false;
        };
        let (first, last) = (first.borrow(), last.borrow());
        first.header.index == last.header.index + 1 && first.header.previous_hash == last.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::models::WireModel;

    fn block(index: i64, previous: &str) -> Block {
        let mut b = Block::genesis();
        b.header.index = index;
        b.header.previous_hash = previous.to_owned();
        b.hash = format!("{index:064x}");
        let _ = b.to_wire_json();
        b
    }

    #[test]
    fn a_page_continues_a_branch_only_right_after_its_last_block() {
        let b1 = block(5, "a");
        let p = PendingBranch {
            fork_point: 4,
            fork_hash: "a".into(),
            candidate: ChainState::new(crate::chain_params::chain_params(
                &crate::config::NodeConfig::default(),
            )),
            derived: (),
            blocks: vec![b1.clone()],
        };
        assert!(p.continued_by(&[block(6, &b1.hash)]));
        assert!(!p.continued_by(&[block(7, &b1.hash)]));
        assert!(!p.continued_by(&[block(6, "other")]));
        assert!(!p.continued_by(&[]));
    }
}
