//! The inference worker: takes this node's inference tasks from the task queue, serves
//! each with the domain's best parameters on chain, and records the outcome.
//!
//! It runs on its own thread, apart from the evaluator worker, because plugin calls are
//! blocking and an inference request must not hold up a quorum's verification (nor the
//! other way round: verification tasks still come first in the queue's order).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use doin_plugins::Evaluator;
use doin_primitives::{Timestamp, Value};

use super::{InferenceService, COUNTERS};
use crate::task_queue::{Completion, QueuedTask, TaskKind};

/// What the worker needs.
pub struct InferenceWorker {
    /// The service whose requests it serves.
    pub service: Arc<InferenceService>,
    /// Each served domain's inference plugin.
    pub plugins: BTreeMap<String, Box<dyn Evaluator>>,
    /// Fires at shutdown.
    pub stop: crate::stop::StopToken,
    /// The runtime (to wait on the queue from this thread).
    pub runtime: tokio::runtime::Handle,
    /// Finds the optimae behind the served parameters.
    pub provenance: super::Provenance,
}

impl InferenceWorker {
    /// Serves requests until shutdown.
    pub fn run(mut self) {
        let domains: Vec<String> = self.plugins.keys().cloned().collect();
        let me = self.service.peer_id().to_string();
        let queue = self.service.queue.clone();
        while !crate::stop::stopping(&self.stop) {
            let Some(task) = queue.claim_next_of(TaskKind::InferenceRequest, &me, &domains) else {
                let queue = queue.clone();
                let _ = crate::worker_runtime::until_stopped(&self.runtime, &self.stop, async {
                    queue.wait_for_work(Duration::from_millis(200)).await;
                });
                continue;
            };
            let (outcome, run_ms) = self.serve(&task);
            let finished = Timestamp::now_utc();
            if let Err(e) = self
                .service
                .log()
                .finish(&task.id, &outcome, finished, run_ms)
            {
                tracing::warn!(task = %task.id, "could not record the inference result: {e}");
            }
            match &outcome {
                Ok(_) => {
                    COUNTERS.completed.fetch_add(1, Ordering::Relaxed);
                    let done = Completion {
                        evaluator_id: me.clone(),
                        verified_performance: 0.0,
                        vote: None,
                    };
                    let _ = queue.complete(&task.id, done);
                }
                Err(reason) => {
                    COUNTERS.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(task = %task.id, domain = %task.domain_id, "inference failed: {reason}");
                    queue.fail(&task.id);
                }
            }
        }
    }

    /// Serves one request: its outcome, and how long the plugin took (milliseconds).
    fn serve(&mut self, task: &QueuedTask) -> (Result<Value, String>, Option<f64>) {
        let Some(mut model) = self.service.model(&task.domain_id) else {
            let reason = format!("domain {} has no accepted optimae on chain", task.domain_id);
            return (Err(reason), None);
        };
        if let Value::Object(p) = &model.parameters {
            model.optimae = self.provenance.find(
                &task.domain_id,
                p,
                &model.parameters_hash,
                model.chain_height,
            );
        }
        if let Err(e) = self
            .service
            .log()
            .start(&task.id, &model, Timestamp::now_utc())
        {
            return (Err(format!("inference log: {e}")), None);
        }
        let (Some(plugin), Some(terms)) = (
            self.plugins.get_mut(&task.domain_id),
            self.service.served.get(&task.domain_id),
        ) else {
            let reason = format!("this node does not serve domain {}", task.domain_id);
            return (Err(reason), None);
        };
        let Value::Object(parameters) = &model.parameters else {
            return (Err("the best parameters are not an object".into()), None);
        };
        let started = Instant::now();
        let out = plugin.infer(parameters, &Value::Object(task.parameters.clone()));
        let took = started.elapsed();
        let run_ms = Some(took.as_secs_f64() * 1e3);
        let outcome = match out {
            // Built-in plugins cannot be interrupted; a late answer is discarded, so that
            // the limit means the same thing for every plugin.
            Ok(_) if took > terms.time_limit => Err(format!(
                "took {:.3}s, more than the domain's limit of {}s \
                 (resource_limits.max_training_seconds)",
                took.as_secs_f64(),
                terms.time_limit.as_secs_f64()
            )),
            Ok(v) => Ok(v),
            Err(e) => Err(e.to_string()),
        };
        (outcome, run_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inference::{
        FreeInference, InferenceRequest, InferenceStatus, ServedDomain, FILE_NAME,
    };
    use crate::task_queue::TaskQueue;
    use crate::view::ChainView;
    use doin_plugins::{DomainMetadata, PluginError, SyntheticData};
    use doin_primitives::{map, Map};
    use std::collections::BTreeSet;
    use tokio::sync::watch;

    /// Answers after `delay`, with the parameters it was given.
    struct Slow(Duration);
    impl Evaluator for Slow {
        fn metadata(&self) -> DomainMetadata {
            DomainMetadata {
                performance_metric: "m".into(),
                higher_is_better: true,
                param_bounds: BTreeMap::new(),
            }
        }
        fn evaluate(&mut self, _: &Map, _: &SyntheticData) -> Result<f64, PluginError> {
            Ok(0.0)
        }
        fn infer(&mut self, parameters: &Map, _: &Value) -> Result<Value, PluginError> {
            std::thread::sleep(self.0);
            Ok(Value::Object(parameters.clone()))
        }
    }

    fn serve_one(delay: Duration, limit: Duration) -> (Result<Value, String>, InferenceStatus) {
        let dir = tempfile::tempdir().expect("dir");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mut view = ChainView::default();
        view.domain_best_parameters
            .insert("d".into(), map! { "w" => 2.0 });
        let (_tx, chain) = watch::channel(Arc::new(view));
        let served = BTreeMap::from([(
            "d".to_owned(),
            ServedDomain {
                price: 0,
                time_limit: limit,
                validator: None,
            },
        )]);
        let queue = Arc::new(TaskQueue::new());
        let service = InferenceService::open(
            &dir.path().join(FILE_NAME),
            "me",
            queue.clone(),
            chain,
            BTreeSet::from(["d".to_owned()]),
            served,
            Arc::new(FreeInference),
        )
        .expect("opens");
        let accepted = service
            .submit(InferenceRequest {
                domain_id: "d".into(),
                input: Map::new(),
                client_id: "c".into(),
                payment: None,
                source: std::net::Ipv4Addr::LOCALHOST.into(),
            })
            .expect("accepted");
        let plugin: Box<dyn Evaluator> = Box::new(Slow(delay));
        let mut worker = InferenceWorker {
            service: service.clone(),
            plugins: BTreeMap::from([("d".to_owned(), plugin)]),
            stop: watch::channel(false).1,
            runtime: rt.handle().clone(),
            provenance: crate::inference::Provenance::new(dir.path().join("no-chain.db")),
        };
        let task = queue
            .claim_next_of(TaskKind::InferenceRequest, "me", &["d".to_owned()])
            .expect("queued");
        let (outcome, _) = worker.serve(&task);
        let status = service
            .get(&accepted.task_id)
            .expect("log")
            .expect("recorded")
            .status;
        (outcome, status)
    }

    #[test]
    fn a_request_is_served_with_the_chains_best_parameters() {
        let (outcome, status) = serve_one(Duration::ZERO, Duration::from_secs(5));
        assert_eq!(outcome, Ok(Value::Object(map! { "w" => 2.0 })));
        assert_eq!(status, InferenceStatus::Running, "recorded as started");
    }

    #[test]
    fn an_answer_later_than_the_domains_time_limit_is_discarded() {
        let (outcome, _) = serve_one(Duration::from_millis(30), Duration::from_millis(1));
        let reason = outcome.expect_err("too late");
        assert!(reason.contains("more than the domain's limit"), "{reason}");
    }
}
