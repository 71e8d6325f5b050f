//! Evaluators' task calls over `/doin/tasks/1`, as a peer makes them: pending tasks as
//! `/tasks/pending` answers them, and claims only as the caller's own DOIN id (the key
//! its connection proved), never as another evaluator.

use std::time::{Duration, Instant};

use doin_net::p2p::{P2pConfig, P2pNode, RequestError, TaskCall};
use doin_node::testnet::{minting_template, runtime, TestNet};
use doin_primitives::identity::Identity;

#[test]
fn task_calls_over_libp2p_answer_pending_tasks_and_claim_only_as_the_caller() {
    let rt = runtime();
    rt.block_on(async {
        let net = TestNet::start(1, &minting_template(0, 0.5))
            .await
            .expect("a node");
        let key = Identity::generate();
        let caller = P2pNode::start(
            &key,
            P2pConfig {
                bootstrap: vec![net
                    .p2p_addr(0)
                    .await
                    .expect("address")
                    .parse()
                    .expect("multiaddr")],
                discovery: false,
                ..P2pConfig::loopback()
            },
        )
        .expect("the caller's libp2p node");
        let node = net.node(0).p2p.as_ref().expect("libp2p").local_peer();
        let claim = |evaluator: &str| {
            TaskCall::Claim(
                serde_json::json!({"task_id": "no-such-task", "evaluator_id": evaluator})
                    .to_string()
                    .into_bytes(),
            )
        };

        // Pending tasks, once the node knows the caller's key.
        let start = Instant::now();
        let pending = loop {
            let call = TaskCall::Pending {
                domain: "quadratic".into(),
            };
            match caller.handle.task_call(node, call).await {
                Ok(json) => break json,
                Err(e) => assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "no answer to a pending-tasks call: {e}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let v: serde_json::Value = serde_json::from_slice(&pending).expect("JSON");
        assert!(v["tasks"].is_array() && v["total_pending"].is_u64(), "{v}");

        // A claim as another evaluator is refused for that; as itself, the claim reaches
        // the queue (which has no such task).
        let other = Identity::generate();
        let start = Instant::now();
        loop {
            match caller.handle.task_call(node, claim(other.peer_id())).await {
                Err(RequestError::Refused(reason)) if reason.contains("retry") => {
                    assert!(reason.contains("not the caller's DOIN id"), "{reason}");
                    // Refused the same way until the node knows the caller's key; then
                    // only the impersonation is.
                    match caller.handle.task_call(node, claim(key.peer_id())).await {
                        Err(RequestError::Refused(own)) if own.contains("retry") => {}
                        Err(RequestError::Refused(own)) => {
                            assert!(!own.contains("caller"), "{own}");
                            break;
                        }
                        other => panic!("a claim of no task answered {other:?}"),
                    }
                }
                other => panic!("an impersonating claim answered {other:?}"),
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the node never took the caller's own claim"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        caller.handle.shutdown().await;
    });
}
