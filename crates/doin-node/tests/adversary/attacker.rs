//! The attacker's identity and what it crafts: forged blocks, optimae owned or copied,
//! commitments, sealed votes and claims, verification tasks.

use doin_consensus::accepted::AcceptedOptimae;
use doin_consensus::commitment::OptimaeCommitment;
use doin_consensus::vote::VoteSubject;
use doin_consensus::{ChainState, QuorumVote};
use doin_node::task_queue::QueuedTask;
use doin_primitives::identity::Identity;
use doin_primitives::merkle::merkle_root;
use doin_primitives::models::{Block, BlockHeader, Transaction};
use doin_primitives::seal::SealKind;
use doin_primitives::Timestamp;

/// An attacker: a key of its own, never seen on chain.
pub struct Attacker {
    /// Its identity.
    pub id: Identity,
}

impl Default for Attacker {
    fn default() -> Self {
        Self::new()
    }
}

impl Attacker {
    /// A fresh attacker.
    pub fn new() -> Self {
        Attacker {
            id: Identity::generate(),
        }
    }

    /// Its peer id.
    pub fn peer_id(&self) -> &str {
        self.id.peer_id()
    }

    /// A block on top of `state` carrying `txs`, sealed by the attacker, with the header an
    /// honest generator would write (height, parent, time, merkle root, threshold) and the
    /// weighted sum the transactions claim. Nothing in the transactions is checked.
    pub fn forge_block(&self, state: &ChainState, txs: Vec<Transaction>) -> Block {
        let time = Timestamp::now_utc()
            .unix_micros()
            .max(state.tip_time_micros() + 1);
        self.forge_block_at(state, txs, time)
    }

    /// As [`Attacker::forge_block`], dated `time` (µs since the epoch): one second after
    /// the parent keeps the chain out of a stall, so the quorum is the plain
    /// `ChainState::quorum_for` one whenever the parent is.
    pub fn forge_block_at(&self, state: &ChainState, txs: Vec<Transaction>, time: i64) -> Block {
        let sum = txs
            .iter()
            .filter_map(|tx| AcceptedOptimae::from_tx(tx).ok())
            .map(|a| a.effective_increment)
            .sum();
        let ids: Vec<String> = txs.iter().map(Transaction::compute_id).collect();
        let header = BlockHeader {
            index: state.height() as i64 + 1,
            previous_hash: state.tip_hash().to_owned(),
            timestamp: Timestamp::from_unix_micros(time),
            merkle_root: merkle_root(&ids),
            generator_id: self.peer_id().to_string(),
            weighted_performance_sum: sum,
            threshold: state.next_threshold(),
        };
        let mut block = Block::new(header, txs);
        block.seal = Some(self.id.seal(SealKind::Block, &block.hash));
        block
    }

    /// `optimae` as the attacker's own: its optimizer id, a fresh optimae id and timestamp,
    /// in the optimizer's own form (no carried claim), sealed by the attacker.
    pub fn own(&self, optimae: &AcceptedOptimae) -> AcceptedOptimae {
        let timestamp = Timestamp::now_utc();
        AcceptedOptimae {
            optimizer_id: self.peer_id().to_string(),
            optimae_id: doin_consensus::accepted::optimae_id(
                &optimae.domain_id,
                self.peer_id(),
                &optimae.parameters,
                &timestamp,
            ),
            timestamp,
            claim_seal: None,
            ..optimae.clone()
        }
    }

    /// `optimae` as the attacker's own (see [`Self::own`]) with `parameters`, a fresh nonce
    /// and its commitment, committed at `commit_height`, without votes.
    pub fn commit(
        &self,
        optimae: &AcceptedOptimae,
        parameters: doin_primitives::value::Map,
        commit_height: u64,
    ) -> AcceptedOptimae {
        let mut bytes = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
        let nonce = hex::encode(bytes);
        let mut mine = self.own(&AcceptedOptimae {
            parameters,
            ..optimae.clone()
        });
        mine.commitment_hash =
            doin_consensus::reference::compute_commitment(&mine.parameters, &nonce);
        mine.nonce = nonce;
        mine.commit_height = commit_height;
        mine.votes = Vec::new();
        mine
    }

    /// The attacker's sealed commitment to `optimae`'s commitment hash (for
    /// [`Arena::land`]).
    pub fn commitment(&self, optimae: &AcceptedOptimae) -> OptimaeCommitment {
        OptimaeCommitment::sealed(
            &self.id,
            &optimae.domain_id,
            &optimae.commitment_hash,
            Timestamp::now_utc(),
        )
    }

    /// The transaction carrying `optimae`, sealed by the attacker.
    pub fn seal(&self, optimae: &AcceptedOptimae) -> Transaction {
        optimae.to_tx(&self.id)
    }
}

/// A vote of `evaluator_id` on `subject` measuring `performance`, with the synthetic seed
/// the rule gives that evaluator, sealed by `signer`.
pub fn vote(
    signer: &Identity,
    evaluator_id: &str,
    subject: &VoteSubject<'_>,
    performance: f64,
) -> QuorumVote {
    QuorumVote {
        optimae_id: subject.optimae_id.to_owned(),
        domain_id: subject.domain_id.to_owned(),
        evaluator_id: evaluator_id.to_owned(),
        verified_performance: performance,
        synthetic_seed: doin_consensus::quorum::synthetic_seed(
            subject.commitment_hash,
            subject.domain_id,
            evaluator_id,
            subject.seed_block_hash,
        ),
        synthetic_data_hash: String::new(),
        timestamp: Timestamp::now_utc(),
        seal: None,
    }
    .sealed(signer)
}

/// What the votes on `optimae` must be about, its seeds derived from `seed_block_hash`.
pub fn subject<'a>(optimae: &'a AcceptedOptimae, seed_block_hash: &'a str) -> VoteSubject<'a> {
    VoteSubject {
        optimae_id: &optimae.optimae_id,
        domain_id: &optimae.domain_id,
        commitment_hash: &optimae.commitment_hash,
        seed_block_hash,
    }
}

/// What the votes on a queued verification task must be about.
pub fn task_subject(task: &QueuedTask) -> VoteSubject<'_> {
    VoteSubject {
        optimae_id: &task.optimae_id,
        domain_id: &task.domain_id,
        commitment_hash: &task.commitment_hash,
        seed_block_hash: &task.seed_block_hash,
    }
}

/// The claim `requester` seals on `optimae` (its reveal and the stake an honest optimizer
/// names at `base_fee`).
pub fn claim_of(
    optimae: &AcceptedOptimae,
    requester: &Identity,
    base_fee: u64,
) -> doin_consensus::rejection::OptimaeClaim {
    let reveal = doin_consensus::accepted::Reveal {
        domain_id: optimae.domain_id.clone(),
        parameters: optimae.parameters.clone(),
        nonce: optimae.nonce.clone(),
        reported_performance: optimae.reported_performance,
        commit_height: optimae.commit_height,
        timestamp: optimae.timestamp,
    };
    doin_consensus::rejection::OptimaeClaim::sealed(
        requester,
        &reveal,
        doin_consensus::rejection::claim_stake(base_fee),
    )
}

/// The verification task `requester` queues for `optimae` (one task for the whole
/// `quorum`), its seeds derived from `seed_block_hash`, with `requester`'s sealed claim.
pub fn verification_task(
    optimae: &AcceptedOptimae,
    requester: &Identity,
    seed_block_hash: &str,
    quorum: &[String],
) -> QueuedTask {
    let requester_id = requester.peer_id();
    let claim = claim_of(optimae, requester, doin_consensus::fee_market::MIN_BASE_FEE);
    QueuedTask {
        id: doin_primitives::hash::sha256_hex(format!("{}:{requester_id}", optimae.optimae_id)),
        kind: doin_node::task_queue::TaskKind::OptimaeVerification,
        domain_id: optimae.domain_id.clone(),
        state: doin_node::task_queue::TaskState::Pending,
        requester_id: requester_id.to_string(),
        evaluator_id: None,
        parameters: optimae.parameters.clone(),
        optimae_id: optimae.optimae_id.clone(),
        reported_performance: Some(optimae.reported_performance),
        created_at: Timestamp::now_utc(),
        claimed_at: None,
        completed_at: None,
        priority: 0,
        verified_performance: None,
        commitment_hash: optimae.commitment_hash.clone(),
        seed_block_hash: seed_block_hash.to_owned(),
        quorum: quorum.to_vec(),
        claim: Some(claim.to_value()),
    }
}
