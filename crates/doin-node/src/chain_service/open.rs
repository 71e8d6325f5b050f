//! Opening `chain.db` at start-up: the store is checked to belong to this network, and the
//! consensus state is rebuilt by replaying every stored block.

use std::collections::BTreeMap;
use std::path::Path;

use doin_consensus::accepted::AcceptedOptimae;
use doin_consensus::params::ChainParams;
use doin_consensus::state::ChainState;
use doin_primitives::models::Block;
use doin_primitives::value::Map;
use doin_store::{ChainStore, StoreError};

/// Meta key holding the chain parameters' hash in `chain.db`.
const PARAMS_HASH_KEY: &str = "chain_params_hash";

/// Why the chain could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenChainError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `chain.db` was made for other chain parameters.
    #[error("{path} was made with other chain parameters (hash {stored}, this config gives {ours}); start with --reset-chain or the config it was made with")]
    OtherNetwork {
        /// The database.
        path: String,
        /// Hash stored in it.
        stored: String,
        /// Hash of this config's parameters.
        ours: String,
    },
    /// A stored block fails validation.
    #[error("{path}: stored block {index} is invalid ({reason}); start with --reset-chain to rebuild the chain")]
    InvalidStoredBlock {
        /// The database.
        path: String,
        /// The block.
        index: i64,
        /// The rule it breaks.
        reason: String,
    },
}

/// Opens `chain.db`, checks it belongs to this network, and rebuilds the consensus state by
/// replaying every stored block through validation (every rule; the signatures were checked
/// when the node stored the block: see `ChainState::apply_stored_block`).
pub fn open_chain(path: &Path, params: &ChainParams) -> Result<OpenedChain, OpenChainError> {
    let mut store = ChainStore::open(path)?;
    let ours = params.params_hash();
    match store.get_meta(PARAMS_HASH_KEY)? {
        Some(stored) if stored != ours => {
            return Err(OpenChainError::OtherNetwork {
                path: path.display().to_string(),
                stored,
                ours,
            })
        }
        Some(_) => {}
        None => store.set_meta(PARAMS_HASH_KEY, &ours)?,
    }
    let mut state = ChainState::new(params.clone());
    let mut best_parameters = BTreeMap::new();
    let mut failure: Option<(i64, String)> = None;
    store.for_each_block(1, |block: Block| -> Result<(), StoreError> {
        if failure.is_none() {
            match state.apply_stored_block(&block) {
                Ok(_) => note_best_parameters(&mut best_parameters, &state, &block),
                Err(e) => failure = Some((block.header.index, e.to_string())),
            }
        }
        Ok(())
    })?;
    if let Some((index, reason)) = failure {
        return Err(OpenChainError::InvalidStoredBlock {
            path: path.display().to_string(),
            index,
            reason,
        });
    }
    Ok(OpenedChain {
        store,
        state,
        best_parameters,
    })
}

/// A chain opened and replayed.
pub struct OpenedChain {
    /// The store's writer.
    pub store: ChainStore,
    /// The state after the tip.
    pub state: ChainState,
    /// Parameters of each domain's best optimae.
    pub best_parameters: BTreeMap<String, Map>,
}

/// Records the parameters of optimae in `block` that are now their domain's best.
pub(super) fn note_best_parameters(
    best: &mut BTreeMap<String, Map>,
    state: &ChainState,
    block: &Block,
) {
    for tx in &block.transactions {
        if let Ok(a) = AcceptedOptimae::from_tx(tx) {
            let is_best = state
                .domain(&a.domain_id)
                .and_then(|d| d.best)
                .is_some_and(|b| b.to_bits() == a.verified_performance.to_bits());
            if is_best {
                best.insert(a.domain_id.clone(), a.parameters.clone());
            }
        }
    }
}
