//! [`BlockSource`]: stored blocks read without the chain service, over a read-only store
//! connection. The HTTP API, peers' sync and the dashboard read blocks through it; the
//! chain service's reader pool is the node's implementation.

use doin_primitives::models::Block;

/// Reads stored blocks (a read-only store connection).
pub trait BlockSource: Send + Sync + 'static {
    /// Blocks `from..=to` in order.
    fn blocks(&self, from: i64, to: i64) -> Result<Vec<Block>, String>;
    /// One block.
    fn block(&self, index: i64) -> Result<Option<Block>, String>;
    /// Blocks `from..=to` as their stored wire JSON (served without re-encoding).
    fn blocks_json(&self, from: i64, to: i64) -> Result<Vec<String>, String> {
        self.blocks(from, to).map(|bs| {
            bs.iter()
                .map(doin_primitives::models::WireModel::to_wire_json)
                .collect()
        })
    }
}
