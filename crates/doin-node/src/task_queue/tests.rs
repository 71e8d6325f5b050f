//! The task queue: claims, completions, cancellation and its bounds.

use super::*;

fn task(id: &str, priority: u8, micros: i64, quorum: &[&str]) -> QueuedTask {
    QueuedTask {
        id: id.into(),
        kind: TaskKind::OptimaeVerification,
        domain_id: "d".into(),
        state: TaskState::Pending,
        requester_id: "r".into(),
        evaluator_id: None,
        parameters: Map::new(),
        optimae_id: "o".into(),
        reported_performance: Some(-1.0),
        created_at: Timestamp::from_unix_micros(micros),
        claimed_at: None,
        completed_at: None,
        priority,
        verified_performance: None,
        commitment_hash: String::new(),
        seed_block_hash: String::new(),
        quorum: quorum.iter().map(|s| s.to_string()).collect(),
        claim: None,
    }
}

#[test]
fn most_urgent_first_then_oldest() {
    let q = TaskQueue::new();
    q.push(task("late", 0, 20, &[])).expect("push");
    q.push(task("inference", 10, 1, &[])).expect("push");
    q.push(task("early", 0, 10, &[])).expect("push");
    let (p, total) = q.pending(&[], 10);
    assert_eq!(total, 3);
    let ids: Vec<_> = p.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["early", "late", "inference"]);
    let d = vec!["d".to_string()];
    assert_eq!(q.claim_next("e", &d).map(|t| t.id), Some("early".into()));
}

#[test]
fn inference_requests_are_claimed_only_by_kind_and_counted_apart() {
    let q = TaskQueue::new();
    let mut inference = task("inference", 10, 1, &["me"]);
    inference.kind = TaskKind::InferenceRequest;
    q.push(inference).expect("push");
    let d = vec!["d".to_string()];
    // The evaluator worker takes verification tasks only.
    assert!(q.claim_next("me", &d).is_none());
    assert_eq!(q.counts_of(TaskKind::InferenceRequest).pending, 1);
    assert_eq!(q.counts_of(TaskKind::OptimaeVerification).pending, 0);
    assert!(q
        .claim_next_of(TaskKind::InferenceRequest, "other", &d)
        .is_none());
    let t = q
        .claim_next_of(TaskKind::InferenceRequest, "me", &d)
        .expect("its own node takes it");
    assert_eq!(t.id, "inference");
    assert_eq!(q.counts_of(TaskKind::InferenceRequest).claimed, 1);
}

fn completion(evaluator: &doin_primitives::identity::Identity, t: &QueuedTask) -> Completion {
    let vote = QuorumVote {
        optimae_id: t.optimae_id.clone(),
        domain_id: t.domain_id.clone(),
        evaluator_id: evaluator.peer_id().into(),
        verified_performance: -1.0,
        synthetic_seed: doin_consensus::quorum::synthetic_seed(
            &t.commitment_hash,
            &t.domain_id,
            evaluator.peer_id(),
            &t.seed_block_hash,
        ),
        synthetic_data_hash: String::new(),
        timestamp: Timestamp::from_unix_secs(1_767_225_600),
        seal: None,
    }
    .sealed(evaluator);
    Completion {
        evaluator_id: evaluator.peer_id().into(),
        verified_performance: -1.0,
        vote: Some(vote.to_value()),
    }
}

#[test]
fn claim_complete_cycle_and_refusals() {
    let e1 = doin_primitives::identity::Identity::from_scalar_bytes(&[1u8; 32]).expect("key");
    let e2 = doin_primitives::identity::Identity::from_scalar_bytes(&[2u8; 32]).expect("key");
    let q = TaskQueue::new();
    let t = task("t", 0, 1, &[e1.peer_id()]);
    let mut rx = q.push(t.clone()).expect("push");
    assert_eq!(
        q.claim("t", e2.peer_id()),
        Err(TaskError::NotInQuorum(e2.peer_id().into()))
    );
    q.claim("t", e1.peer_id()).expect("claim");
    // Someone may have claimed in the member's name: the task stays listed and the
    // member may claim it again.
    assert_eq!(q.pending(&[], 10).0.len(), 1);
    q.claim("t", e1.peer_id()).expect("claim again");
    assert_eq!(
        q.complete("t", completion(&e2, &t)).err(),
        Some(TaskError::NotCompletable)
    );
    // Without a vote, with someone else's seal, or with another figure: refused.
    let mut c = completion(&e1, &t);
    c.vote = None;
    assert!(matches!(q.complete("t", c), Err(TaskError::BadVote(_))));
    let mut c = completion(&e2, &t);
    c.evaluator_id = e1.peer_id().into();
    let err = q.complete("t", c).expect_err("another evaluator's vote");
    assert!(err.to_string().contains("signed as"), "{err}");
    let mut c = completion(&e1, &t);
    c.verified_performance = -0.5;
    assert!(matches!(q.complete("t", c), Err(TaskError::BadVote(_))));
    q.complete("t", completion(&e1, &t)).expect("complete");
    assert_eq!(q.pending(&[], 10).1, 0);
    assert_eq!(rx.try_recv().expect("delivered").verified_performance, -1.0);
    assert_eq!(q.counts().completed, 1);
}

#[test]
fn a_vote_with_another_seed_does_not_complete() {
    let e1 = doin_primitives::identity::Identity::from_scalar_bytes(&[1u8; 32]).expect("key");
    let q = TaskQueue::new();
    let mut t = task("t", 0, 1, &[e1.peer_id()]);
    t.commitment_hash = "c".into();
    t.seed_block_hash = "b".into();
    q.push(t.clone()).expect("push");
    q.claim("t", e1.peer_id()).expect("claim");
    let mut other_block = t.clone();
    other_block.seed_block_hash = "b2".into();
    let err = q
        .complete("t", completion(&e1, &other_block))
        .expect_err("wrong seed");
    assert!(err.to_string().contains("declares seed"), "{err}");
}

impl PartialEq for QueuedTask {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}
