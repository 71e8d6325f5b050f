//! Verified optimae over gossip, so that whichever node mints next carries everyone's
//! ([`doin_consensus::carried`]): when this node's optimae has its quorum's votes, the
//! chain service hands the verified optimae (reveal, votes, experiment, claim seal) to
//! the network, which gossips it (by `network::gossip_relayed`) on its domain's `optimae`
//! topic inside a `chain_status` message whose payload carries it under the extra key
//! `"verified_optimae"` (reference nodes ignore it). A delivered one is scored against
//! this node's chain as its own optimae are and, if the rules accept it, kept pending to
//! carry in the next block this node mints.
//!
//! A forged claim or vote seal costs the relaying peer as a bad signature, an unreadable
//! object as a bad message; an optimae the rules refuse with its seals intact (already
//! pending or on chain, judged on another branch, no longer an improvement) is not the
//! relay's fault.

use doin_consensus::carried::VerifiedOptimae;
use doin_consensus::ConsensusError;
use doin_net::Verdict;
use doin_primitives::value::Value;

use crate::chain_service::ChainHandle;
use crate::pending_optimae::PendingError;

/// The extra `chain_status` payload key that carries a gossiped verified optimae.
pub const OPTIMAE_KEY: &str = "verified_optimae";

/// Hands a gossiped verified optimae (the payload value under [`OPTIMAE_KEY`]) from peer
/// `from` to the chain's pending optimae; returns the verdict on the relaying peer.
pub async fn deliver(chain: &ChainHandle, from: &str, v: &Value) -> Verdict {
    let optimae = match VerifiedOptimae::from_value(v) {
        Ok(o) => o,
        Err(e) => {
            tracing::debug!(peer = %from, "malformed gossiped optimae: {e}");
            return Verdict::Malformed;
        }
    };
    match chain.admit_optimae(optimae).await {
        Ok(_) => Verdict::Valid,
        Err(Some(PendingError::Rules(
            e @ (ConsensusError::BadOptimizerSeal(_) | ConsensusError::BadVoteSeal { .. }),
        ))) => {
            tracing::debug!(peer = %from, "gossiped optimae with a bad seal: {e}");
            Verdict::InvalidSignature
        }
        Err(e) => {
            tracing::debug!(peer = %from, "gossiped optimae not kept: {e:?}");
            Verdict::Valid
        }
    }
}
