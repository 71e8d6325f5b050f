//! Evaluator task calls over request-response: pending, claim and complete answered by
//! the node that holds the tasks, with the caller known by its authenticated connection,
//! and bodies over the bounds refused.

mod p2p_net;

use std::sync::Arc;

use doin_net::p2p::task_codec::{MAX_TASK_ANSWER_BYTES, MAX_TASK_CALL_BYTES};
use doin_net::p2p::{P2pConfig, P2pEvent, RequestError, TaskAnswer, TaskCall};
use p2p_net::{accept_all, no_blocks, TaskServer, TestNode};

/// Holds one task in `quadratic`; answers what the HTTP API would. A pending call for
/// `huge` answers more than an answer may hold (which the node refuses to send).
fn task_holder() -> TaskServer {
    Arc::new(|call| match call {
        TaskCall::Pending { domain } if domain == "quadratic" => {
            TaskAnswer::Json(br#"{"tasks":[{"task_id":"t1"}]}"#.to_vec())
        }
        TaskCall::Pending { domain } if domain == "huge" => {
            TaskAnswer::Json(vec![b' '; MAX_TASK_ANSWER_BYTES + 1])
        }
        TaskCall::Pending { .. } => TaskAnswer::Json(br#"{"tasks":[]}"#.to_vec()),
        TaskCall::Claim(body) if body.as_slice() == br#"{"task_id":"t1"}"# => {
            TaskAnswer::Json(br#"{"status":"claimed"}"#.to_vec())
        }
        TaskCall::Claim(_) => TaskAnswer::Refused("unknown task".into()),
        TaskCall::Complete(_) => TaskAnswer::Json(br#"{"status":"completed"}"#.to_vec()),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evaluator_lists_claims_and_completes_a_task() {
    let mut holder = TestNode::start_with_tasks(
        P2pConfig::loopback(),
        accept_all(),
        no_blocks(),
        task_holder(),
    )
    .await;
    let mut evaluator = TestNode::start(P2pConfig::loopback(), accept_all(), no_blocks()).await;
    evaluator
        .handle
        .dial(holder.dial_addr())
        .await
        .expect("dial");
    evaluator.identified_all(&[&holder]).await;
    let peer = holder.peer();
    let call = |c: TaskCall| evaluator.handle.task_call(peer, c);

    let pending = call(TaskCall::Pending {
        domain: "quadratic".into(),
    })
    .await
    .expect("pending");
    assert_eq!(pending, br#"{"tasks":[{"task_id":"t1"}]}"#);
    let claimed = call(TaskCall::Claim(br#"{"task_id":"t1"}"#.to_vec()))
        .await
        .expect("claim");
    assert_eq!(claimed, br#"{"status":"claimed"}"#);
    assert_eq!(
        call(TaskCall::Claim(br#"{"task_id":"t9"}"#.to_vec())).await,
        Err(RequestError::Refused("unknown task".into()))
    );
    let done = call(TaskCall::Complete(br#"{"task_id":"t1"}"#.to_vec()))
        .await
        .expect("complete");
    assert_eq!(done, br#"{"status":"completed"}"#);

    // The holder saw the calls come from the evaluator's authenticated connection.
    let caller = holder
        .next(|e| match e {
            P2pEvent::TaskCall(c) => Some(c.peer),
            _ => None,
        })
        .await;
    assert_eq!(caller, evaluator.peer());

    // Bounds: a claim body over the limit never leaves; an answer over it is not sent.
    let oversize = TaskCall::Claim(vec![b' '; MAX_TASK_CALL_BYTES + 1]);
    assert!(matches!(call(oversize).await, Err(RequestError::Call(_))));
    match call(TaskCall::Pending {
        domain: "huge".into(),
    })
    .await
    {
        Err(RequestError::Refused(reason)) => assert!(reason.contains("at most"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    evaluator.handle.shutdown().await;
    holder.handle.shutdown().await;
}
