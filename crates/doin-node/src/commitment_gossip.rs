//! Commitments over gossip, as transfers travel ([`crate::network`]): a commitment this
//! node's optimizer makes is gossiped (by `network::gossip_relayed`) on the `blocks` topic
//! inside a `chain_status` message whose payload carries the wire commitment in the extra
//! key `"commitment"` (reference nodes ignore it), so that whichever node mints next puts
//! it on chain. A delivered commitment goes to the commitment pool; its own seal
//! authenticates it.

use doin_consensus::commitment::OptimaeCommitment;
use doin_consensus::ConsensusError;
use doin_net::Verdict;
use doin_primitives::value::Value;

use crate::chain_service::ChainHandle;
use crate::commitment_pool::CommitmentPoolError;

/// The extra `chain_status` payload key that carries a gossiped commitment.
pub const COMMITMENT_KEY: &str = "commitment";

/// Hands a gossiped commitment (the payload value under [`COMMITMENT_KEY`]) from peer
/// `from` to the pool; returns the verdict on the relaying peer.
pub async fn deliver(chain: &ChainHandle, from: &str, v: &Value) -> Verdict {
    let c = match OptimaeCommitment::from_value(v) {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(peer = %from, "malformed gossiped commitment: {e}");
            return Verdict::Malformed;
        }
    };
    match chain.submit_commitment(c, false).await {
        Ok(()) => Verdict::Valid,
        // A forged or malformed commitment costs the peer that relayed it.
        Err(Some(CommitmentPoolError::Invalid(ConsensusError::BadCommitmentSeal(e)))) => {
            tracing::debug!(peer = %from, "gossiped commitment with a bad seal: {e}");
            Verdict::InvalidSignature
        }
        Err(Some(CommitmentPoolError::Invalid(ConsensusError::MalformedCommitment(e)))) => {
            tracing::debug!(peer = %from, "malformed gossiped commitment: {e}");
            Verdict::Malformed
        }
        // Another peer's copy, one already on chain, a full pool: not the relay's fault.
        Err(e) => {
            tracing::debug!(peer = %from, "gossiped commitment refused: {e:?}");
            Verdict::Valid
        }
    }
}
