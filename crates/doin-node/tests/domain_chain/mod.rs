//! Reading a domain network's chain the way a syncing node does, shared by the domain
//! network tests (`wine_network`, `mlp_network`): a node's blocks from its store, the
//! accepted optimae they carry, and every block validated and applied in order.

use doin_consensus::accepted::AcceptedOptimae;
use doin_consensus::ChainState;
use doin_node::chain_params::chain_params;
use doin_node::config::NodeConfig;
use doin_node::testnet::TestNet;
use doin_primitives::models::Block;

/// Node `i`'s blocks, read from its store.
pub(crate) fn blocks(net: &TestNet, i: usize) -> Vec<Block> {
    let reader = doin_store::ChainReader::open(&net.data_dir(i).join("chain.db")).expect("store");
    let height = reader.height().expect("height");
    (1..=height)
        .filter_map(|h| reader.block(h).expect("block"))
        .collect()
}

/// The accepted optimae of `blocks`, in chain order.
pub(crate) fn optimae(blocks: &[Block]) -> Vec<AcceptedOptimae> {
    blocks
        .iter()
        .flat_map(|b| b.check_layout().expect("layout").accepted)
        .map(|tx| AcceptedOptimae::from_tx(tx).expect("accepted optimae"))
        .collect()
}

/// Every block validated and applied in order, as a node that syncs the chain does.
pub(crate) fn replay(template: &NodeConfig, blocks: &[Block]) -> ChainState {
    let mut state = ChainState::new(chain_params(template));
    for b in blocks {
        state
            .apply_block(b)
            .unwrap_or_else(|e| panic!("block {}: {e}", b.header.index));
    }
    state
}
