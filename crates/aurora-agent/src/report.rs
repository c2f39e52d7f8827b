//! Status updates to the scheduler, in order, retried until acknowledged. Applying an update twice
//! changes nothing on the scheduler, so a retry after a lost answer is safe.

use aurora_api::{StatusBatch, StatusUpdate};
use aurora_client::agent_protocol::AgentProtocolClient;
use std::time::Duration;
use tokio::sync::mpsc;

/// Sends status updates; cheap to clone.
#[derive(Clone)]
pub struct Reporter {
    tx: mpsc::UnboundedSender<StatusUpdate>,
}

impl Reporter {
    pub fn start(scheduler: AgentProtocolClient, agent_id: String) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<StatusUpdate>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut updates = vec![first];
                while let Ok(more) = rx.try_recv() {
                    updates.push(more);
                }
                let batch = StatusBatch { updates };
                let mut backoff = Duration::from_millis(50);
                while let Err(e) = scheduler.post_status(&agent_id, &batch).await {
                    tracing::warn!("status update not acknowledged ({e}); retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        });
        Reporter { tx }
    }

    /// Queues an update.
    pub fn send(&self, update: StatusUpdate) {
        let _ = self.tx.send(update);
    }
}
