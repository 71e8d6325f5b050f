//! Which optimae on chain a served model came from: the accepted optimae of the domain
//! with the served parameters, found in the chain store searching back from the tip.

use std::collections::BTreeMap;
use std::path::PathBuf;

use doin_consensus::accepted::AcceptedOptimae;
use doin_primitives::Map;
use doin_store::ChainReader;

/// Most blocks searched back from the tip (the best optimae is usually recent; past this
/// bound the record says only which parameters served it).
pub const MAX_SEARCH_BLOCKS: i64 = 2000;
/// Most answers remembered (the chain's best changes rarely).
const MAX_REMEMBERED: usize = 64;

/// Finds and remembers the optimae behind served parameters.
pub struct Provenance {
    path: PathBuf,
    reader: Option<ChainReader>,
    found: BTreeMap<(String, String), (String, i64)>,
}

impl Provenance {
    /// Reads the chain store at `path` (opened on first use).
    pub fn new(path: PathBuf) -> Self {
        Provenance {
            path,
            reader: None,
            found: BTreeMap::new(),
        }
    }

    /// The id and block index of the last optimae of `domain_id` accepted with
    /// `parameters` (whose hash is `parameters_hash`) in blocks below `height`.
    pub fn find(
        &mut self,
        domain_id: &str,
        parameters: &Map,
        parameters_hash: &str,
        height: i64,
    ) -> Option<(String, i64)> {
        let key = (domain_id.to_owned(), parameters_hash.to_owned());
        if let Some(hit) = self.found.get(&key) {
            return Some(hit.clone());
        }
        if self.reader.is_none() {
            self.reader = ChainReader::open(&self.path).ok();
        }
        let reader = self.reader.as_ref()?;
        let lowest = (height - MAX_SEARCH_BLOCKS).max(1);
        let hit = (lowest..height).rev().find_map(|index| {
            let block = reader.block(index).ok()??;
            block.transactions.iter().rev().find_map(|tx| {
                let a = AcceptedOptimae::from_tx(tx).ok()?;
                (a.domain_id == domain_id && a.parameters == *parameters)
                    .then_some((a.optimae_id, index))
            })
        })?;
        if self.found.len() >= MAX_REMEMBERED {
            self.found.clear();
        }
        self.found.insert(key, hit.clone());
        Some(hit)
    }
}
