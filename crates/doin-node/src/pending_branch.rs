//! A competing branch being weighed, held by the chain service between the pages of a sync.
//!
//! A branch that forks from our chain is adopted only once it is heavier, and a heavier
//! branch can be far longer than one page. Rather than buffering the branch unvalidated
//! until it is whole, the chain service validates each page as it arrives on top of the
//! candidate state it keeps here (the state at the fork point with the branch's valid
//! blocks applied), so only validated blocks are ever held, and the weight compared with
//! ours is the weight of validated work. The next page continues the branch when it
//! starts right after the branch's last block and our own tip has not moved since.

use std::collections::BTreeMap;

use doin_consensus::ChainState;
use doin_primitives::models::Block;
use doin_primitives::value::Map;

/// A branch validated so far.
#[derive(Debug)]
pub(crate) struct PendingBranch {
    /// The last block both chains share.
    pub(crate) fork_point: u64,
    /// Our tip hash when the branch was started (a new tip of ours voids the branch).
    pub(crate) our_tip: String,
    /// The state after the branch's last block.
    pub(crate) candidate: ChainState,
    /// Best parameters per domain along the branch.
    pub(crate) best: BTreeMap<String, Map>,
    /// The branch's blocks, each validated.
    pub(crate) blocks: Vec<Block>,
}

impl PendingBranch {
    /// Whether `page` is the next segment of this branch while our tip is `our_tip`.
    pub(crate) fn continued_by(&self, page: &[Block], our_tip: &str) -> bool {
        let (Some(first), Some(last)) = (page.first(), self.blocks.last()) else {
            return false;
        };
        self.our_tip == our_tip
            && first.header.index == last.header.index + 1
            && first.header.previous_hash == last.hash
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
    fn a_page_continues_a_branch_only_right_after_it_and_while_our_tip_stands() {
        let b1 = block(5, "a");
        let p = PendingBranch {
            fork_point: 4,
            our_tip: "tip".into(),
            candidate: ChainState::new(crate::chain_params::chain_params(
                &crate::config::NodeConfig::default(),
            )),
            best: BTreeMap::new(),
            blocks: vec![b1.clone()],
        };
        assert!(p.continued_by(&[block(6, &b1.hash)], "tip"));
        assert!(!p.continued_by(&[block(6, &b1.hash)], "new tip"));
        assert!(!p.continued_by(&[block(7, &b1.hash)], "tip"));
        assert!(!p.continued_by(&[block(6, "other")], "tip"));
        assert!(!p.continued_by(&[], "tip"));
    }
}
