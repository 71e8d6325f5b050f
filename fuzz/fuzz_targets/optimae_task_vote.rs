//! Optimae, tasks (as wire models and as `/tasks/pending` entries), quorum votes, optimae
//! claims and rejection evidence, optimizers' commitments (gossip and `POST /commitments`),
//! domains.
#![no_main]

use doin_consensus::commitment::OptimaeCommitment;
use doin_consensus::rejection::{OptimaeClaim, RejectedOptimae};
use doin_consensus::QuorumVote;
use doin_node::task_queue::QueuedTask;
use doin_primitives::models::{Domain, DomainConfig, Optimae, Task, WireModel};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(v) = doin_primitives::json::parse(text) else {
        return;
    };
    let _ = Optimae::from_value(&v).map(|o| (o.compute_id(), o.id_is_valid()));
    let _ = Task::from_value(&v).map(|t| (t.compute_id(), t.id_is_valid()));
    let _ = QueuedTask::from_value(&v).map(|t| t.to_value());
    let _ = QuorumVote::from_value(&v).map(|q| q.id());
    let _ = OptimaeClaim::from_value(&v).map(|c| (c.id(), c.check_binding().is_ok()));
    let _ = RejectedOptimae::from_value(&v).map(|r| r.to_value());
    let _ = OptimaeCommitment::from_value(&v).map(|c| (c.id(), c.check().is_ok(), c.to_value()));
    let _ = Domain::from_value(&v).map(|d| d.to_wire_json());
    let _ = DomainConfig::from_value(&v).map(|d| d.to_wire_json());
});
