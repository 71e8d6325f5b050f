//! The attacker's own task server, from which honest evaluators pull its tasks.

use std::net::SocketAddr;
use std::sync::Arc;

use doin_node::task_queue::TaskQueue;
use doin_primitives::models::Block;

/// The attacker's own node front: a task queue served on the node API's routes, from which
/// honest evaluators pull verification tasks once they know its endpoint.
pub struct TaskServer {
    /// `127.0.0.1:port`.
    pub endpoint: String,
    /// The queue it serves.
    pub queue: Arc<TaskQueue>,
    server: tokio::task::JoinHandle<()>,
}

struct NoBlocks;

impl doin_node::api::BlockSource for NoBlocks {
    fn blocks(&self, _: i64, _: i64) -> Result<Vec<Block>, String> {
        Ok(Vec::new())
    }

    fn block(&self, _: i64) -> Result<Option<Block>, String> {
        Ok(None)
    }
}

impl TaskServer {
    /// Serves an empty queue on a free loopback port.
    pub async fn start() -> TaskServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let endpoint = listener.local_addr().expect("addr").to_string();
        let queue = Arc::new(TaskQueue::new());
        let (_, chain) =
            tokio::sync::watch::channel(Arc::new(doin_node::view::ChainView::default()));
        let state = doin_node::api::ApiState {
            chain,
            blocks: Arc::new(NoBlocks),
            peers: doin_node::peers::PeerSet::new(&[]),
            net: None,
            p2p: None,
            tasks: queue.clone(),
            board: doin_node::view::DomainBoard::default(),
            info: Arc::new(doin_node::api::NodeInfo::default()),
            stats: None,
            chain_service: None,
        };
        let app = doin_node::api::router(state);
        let server = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        TaskServer {
            endpoint,
            queue,
            server,
        }
    }
}

impl Drop for TaskServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}
