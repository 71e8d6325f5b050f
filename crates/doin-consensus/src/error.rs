//! Why a block or an accepted-optimae transaction breaks a consensus rule.

use doin_primitives::models::BlockError;
use doin_primitives::ModelError;

/// A broken consensus rule; each variant names the rule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConsensusError {
    /// A rule broken by the block's transaction at `index`.
    #[error("transaction {index}: {source}")]
    InTransaction {
        /// Position of the transaction in the block.
        index: usize,
        /// The rule it breaks.
        #[source]
        source: Box<ConsensusError>,
    },
    /// A rule broken by the block's transfer at `index` (see [`crate::transfer`]).
    #[error("transfer {index}: {source}")]
    InTransfer {
        /// Position of the transfer in the block's `"transfers"` extension.
        index: usize,
        /// The rule it breaks.
        #[source]
        source: crate::transfer::TransferError,
    },
    /// The block carries more transfers than [`crate::fee_market::MAX_TRANSFERS_PER_BLOCK`].
    #[error("{0}")]
    Transfers(crate::transfer::TransferError),
    /// A rule broken by the block's channel operation at `index` (see [`crate::channel`]).
    #[error("channel operation {index}: {source}")]
    InChannelOp {
        /// Position of the operation in the block's `"channel_ops"` extension.
        index: usize,
        /// The rule it breaks.
        #[source]
        source: crate::channel::ChannelError,
    },
    /// The block carries too many channel operations.
    #[error("{0}")]
    ChannelOps(crate::channel::ChannelError),
    /// A claimed id, merkle root or block hash does not match the content, or a transaction
    /// id is repeated.
    #[error("block content: {0}")]
    Content(#[from] BlockError),
    /// The block's index is not the next height.
    #[error("block index {got} is not the next height {expected}")]
    WrongHeight {
        /// The next height.
        expected: u64,
        /// The block's index.
        got: i64,
    },
    /// The block does not extend the current tip.
    #[error("block's previous_hash {got} is not the tip {expected}")]
    WrongParent {
        /// The tip's hash.
        expected: String,
        /// The block's previous_hash.
        got: String,
    },
    /// The block's timestamp is not after its parent's.
    #[error("block timestamp {got_micros} µs is not after its parent's {parent_micros} µs")]
    TimestampNotAfterParent {
        /// The parent's timestamp (µs since the epoch).
        parent_micros: i64,
        /// The block's timestamp (µs since the epoch).
        got_micros: i64,
    },
    /// The block's timestamp is further ahead of the receiving node's clock than
    /// [`crate::validate::MAX_FUTURE_DRIFT_MICROS`].
    #[error("block timestamp {got_micros} µs is more than {max_drift_micros} µs ahead of the clock ({now_micros} µs)")]
    TimestampInFuture {
        /// The receiving node's clock (µs since the epoch).
        now_micros: i64,
        /// The block's timestamp (µs since the epoch).
        got_micros: i64,
        /// The drift allowed.
        max_drift_micros: i64,
    },
    /// The generator's seal is missing, does not hash to the generator id, or does not
    /// sign the block hash.
    #[error("generator seal: {0}")]
    BadGeneratorSeal(String),
    /// The header's threshold is not the one the difficulty rule gives.
    #[error("header threshold {got} is not the difficulty rule's {expected}")]
    WrongThreshold {
        /// The rule's threshold.
        expected: f64,
        /// The header's.
        got: f64,
    },
    /// The header's weighted sum is not the sum of the effective increments.
    #[error("header weighted_performance_sum {got} is not the sum of the effective increments {expected}")]
    WrongWeightedSum {
        /// The recomputed sum.
        expected: f64,
        /// The header's.
        got: f64,
    },
    /// The block's weighted sum does not reach its threshold.
    #[error("weighted sum {sum} is below the threshold {threshold}")]
    BelowThreshold {
        /// The sum of effective increments.
        sum: f64,
        /// The threshold.
        threshold: f64,
    },
    /// The block carries no `"coinbase"` extension, or one that does not parse.
    #[error("coinbase missing or malformed: {0}")]
    MalformedCoinbase(String),
    /// The coinbase differs from the one the reward rule gives.
    #[error("coinbase does not match the reward rule (expected {expected}, got {got})")]
    WrongCoinbase {
        /// The expected coinbase, as wire JSON.
        expected: String,
        /// The block's, as wire JSON.
        got: String,
    },
    /// The transaction type is not (yet) allowed in DOIN blocks.
    #[error("transaction type {0} is not allowed in blocks")]
    UnsupportedTransaction(&'static str),
    /// The transaction's payload is missing a field or has one of the wrong type.
    #[error("malformed accepted-optimae payload: {0}")]
    MalformedPayload(ModelError),
    /// The optimizer's seal on the transaction is missing or invalid.
    #[error("optimizer seal: {0}")]
    BadOptimizerSeal(String),
    /// A carried accepted-optimae transaction is not sealed by the block's generator.
    #[error("carried optimae: the transaction seal is not the block generator's: {0}")]
    BadCarrierSeal(String),
    /// A carried accepted-optimae transaction was checked outside a block (no generator
    /// to check its seal against).
    #[error("a carried optimae is only valid in a block: name the block's generator")]
    CarriedOutsideBlock,
    /// The chain has no such domain.
    #[error("unknown domain {0}")]
    UnknownDomain(String),
    /// The payload's optimae id is not the id of its domain, optimizer, parameters and time.
    #[error("optimae id {got} does not match its content (computed {expected})")]
    WrongOptimaeId {
        /// The recomputed id.
        expected: String,
        /// The payload's.
        got: String,
    },
    /// The revealed parameters and nonce do not hash to the commitment.
    #[error("commitment {claimed} does not match the revealed parameters and nonce (computed {computed})")]
    CommitmentMismatch {
        /// The payload's commitment.
        claimed: String,
        /// The recomputed commitment.
        computed: String,
    },
    /// A parameter is not a finite number, or is outside its bounds.
    #[error("parameter {key}: {reason}")]
    ParameterOutOfBounds {
        /// The parameter key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The parameters' canonical JSON is larger than the limit.
    #[error("parameters take {bytes} bytes of canonical JSON, more than the limit of {max}")]
    ParametersTooLarge {
        /// Their size.
        bytes: usize,
        /// The limit ([`crate::bounds::MAX_PARAMETERS_BYTES`]).
        max: usize,
    },
    /// The commit height is not one of the last `max_commit_age_blocks` blocks.
    #[error("commit height {commit_height} is not within {max_age} blocks before height {height}")]
    CommitHeightOutOfWindow {
        /// The payload's commit height.
        commit_height: u64,
        /// The including block's height.
        height: u64,
        /// The allowed age.
        max_age: u64,
    },
    /// A vote is from a peer outside the quorum.
    #[error("vote from {0}, who is not in the quorum")]
    VoteFromOutsider(String),
    /// Two votes from the same evaluator.
    #[error("duplicate vote from {0}")]
    DuplicateVote(String),
    /// A quorum member has not voted.
    #[error("quorum member {0} has not voted")]
    MissingVote(String),
    /// A vote is about another optimae or domain.
    #[error("vote from {0} is for another optimae or domain")]
    VoteForOtherOptimae(String),
    /// A vote's seal is missing or invalid.
    #[error("vote seal of {evaluator}: {reason}")]
    BadVoteSeal {
        /// The evaluator.
        evaluator: String,
        /// Why the seal fails.
        reason: String,
    },
    /// A vote was sent in the name of another evaluator than the one that claimed the task.
    #[error("vote is signed as {got}, but {expected} claimed the task")]
    VoteFromOtherEvaluator {
        /// The evaluator that claimed the task.
        expected: String,
        /// The vote's evaluator.
        got: String,
    },
    /// A vote declares a synthetic seed other than the evaluator's.
    #[error("vote from {evaluator} declares seed {got}, expected {expected}")]
    WrongVoteSeed {
        /// The evaluator.
        evaluator: String,
        /// The seed the rule gives.
        expected: u64,
        /// The seed declared.
        got: u64,
    },
    /// The quorum did not accept the optimae (under two thirds agreeing, or the report is
    /// off the median).
    #[error(
        "quorum rejects: {agree} of {votes} votes agree, report divergence {report_divergence}"
    )]
    QuorumRejected {
        /// Agreeing votes.
        agree: usize,
        /// Votes.
        votes: usize,
        /// Divergence of the reported performance from the median.
        report_divergence: f64,
    },
    /// A number the payload claims differs from the one the rules give.
    #[error("{field} is {got}, the rules give {expected}")]
    WrongNumber {
        /// The payload field.
        field: &'static str,
        /// The recomputed value.
        expected: f64,
        /// The payload's value.
        got: f64,
    },
    /// A text or optional number the payload claims differs from the one the rules give.
    #[error("{field} is {got}, the rules give {expected}")]
    WrongValue {
        /// The payload field.
        field: &'static str,
        /// The recomputed value (wire JSON).
        expected: String,
        /// The payload's value (wire JSON).
        got: String,
    },
    /// The verified performance does not improve on the domain's best.
    #[error("verified performance {verified} does not improve on the domain's best {best}")]
    NotAnImprovement {
        /// The verified performance.
        verified: f64,
        /// The domain's best so far.
        best: f64,
    },
    /// The verification incentive pays nothing (verified too far below reported).
    #[error("reward fraction is 0: verified {verified} too far from reported {reported}")]
    ZeroRewardFraction {
        /// The reported performance.
        reported: f64,
        /// The verified performance.
        verified: f64,
    },
    /// The optimae is already on chain.
    #[error("optimae {0} is already on chain")]
    DuplicateOptimae(String),
    /// The commitment was already used by an optimae on chain.
    #[error("commitment {0} was already used on chain")]
    CommitmentReused(String),
    /// A rule broken by the block's rejection evidence at `index` (see
    /// [`crate::rejection`]).
    #[error("rejection {index}: {source}")]
    InRejection {
        /// Position among the block's `optimae_rejected` transactions.
        index: usize,
        /// The rule it breaks.
        #[source]
        source: Box<ConsensusError>,
    },
    /// The block carries more rejections than [`crate::rejection::MAX_REJECTIONS_PER_BLOCK`].
    #[error("{count} rejections in one block, at most {max} allowed")]
    TooManyRejections {
        /// Rejections carried.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// An optimizer's claim is not sealed by the key of its optimizer id.
    #[error("claim seal: {0}")]
    BadClaimSeal(String),
    /// The quorum's votes do not decide *rejected*: they are no rejection evidence.
    #[error("the quorum's votes accept this optimae ({agree} of {votes} agree, report divergence {report_divergence}): no rejection")]
    QuorumAccepts {
        /// Agreeing counted votes.
        agree: usize,
        /// Counted votes.
        votes: usize,
        /// Divergence of the report from the median.
        report_divergence: f64,
    },
    /// An `optimae_announced` or `optimae_rejected` transaction is not the one its payload
    /// (a commitment, or rejection evidence) gives: domain, peer, timestamp and payload
    /// must be the carried object's, unsealed (see
    /// [`doin_primitives::models::block_layout`]).
    #[error("{kind} transaction {got} does not match the object it carries (expected transaction {expected})")]
    CarrierMismatch {
        /// `optimae_announced` or `optimae_rejected`.
        kind: &'static str,
        /// The transaction id the carried object gives.
        expected: String,
        /// The transaction id carried.
        got: String,
    },
    /// An optimizer's commitment is not sealed by the key of its optimizer id.
    #[error("commitment seal: {0}")]
    BadCommitmentSeal(String),
    /// A commitment is not well formed.
    #[error("malformed commitment: {0}")]
    MalformedCommitment(String),
    /// An optimae's commitment is not carried by the block at its commit height under its
    /// optimizer and domain (see [`crate::commitment`]).
    #[error("commitment {commitment} is not on chain at height {commit_height} under this optimizer and domain")]
    CommitmentNotOnChain {
        /// The optimae's commitment.
        commitment: String,
        /// The commit height it names.
        commit_height: u64,
    },
    /// Another optimizer bound the same reference commitment in an earlier block: a copy of
    /// its reveal (see [`crate::commitment`]).
    #[error("commitment {commitment} was committed first by {first} at height {height}")]
    CommitmentCopied {
        /// The reference commitment.
        commitment: String,
        /// The optimizer that committed to it first.
        first: String,
        /// Where.
        height: u64,
    },
    /// The block carries more commitments than
    /// [`crate::commitment::MAX_COMMITMENTS_PER_BLOCK`].
    #[error("{count} commitments in one block, at most {max} allowed")]
    TooManyCommitments {
        /// Commitments carried.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A rule broken by the block's commitment at `index` (see [`crate::commitment`]).
    #[error("commitment {index}: {source}")]
    InCommitment {
        /// Position among the block's `optimae_announced` transactions.
        index: usize,
        /// The rule it breaks.
        #[source]
        source: Box<ConsensusError>,
    },
    /// A claim stakes less than the rule requires.
    #[error("claim stakes {stake} base units, at least {required} required")]
    StakeTooLow {
        /// The claim's stake.
        stake: u64,
        /// The required stake.
        required: u64,
    },
}

impl ConsensusError {
    /// The rule broken, looking through [`ConsensusError::InTransaction`].
    pub fn root(&self) -> &ConsensusError {
        match self {
            ConsensusError::InTransaction { source, .. } => source.root(),
            other => other,
        }
    }

    pub(crate) fn in_tx(index: usize) -> impl FnOnce(ConsensusError) -> ConsensusError {
        move |e| ConsensusError::InTransaction {
            index,
            source: Box::new(e),
        }
    }
}

impl From<ModelError> for ConsensusError {
    fn from(e: ModelError) -> Self {
        ConsensusError::MalformedPayload(e)
    }
}
