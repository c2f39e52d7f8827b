//! Status batches from every agent, applied together: each `POST /agent/v1/ID/status` joins a
//! queue, and one task applies everything queued in one change (one turn of the state lock, one
//! store batch) and acknowledges each once that change is durable. With thousands of agents
//! reporting at once this replaces thousands of lock turns, store savepoints and wake-ups by a
//! few; with one agent it costs one hop more.
//!
//! Not here: who may post (`http::agent` checks the agent's credential and registration first) or
//! what a status does to a task (`State::agent_status`).

use crate::core::Core;
use aurora_api::StatusUpdate;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The most agents' batches one change applies: bounds how long it holds the state lock.
const MAX_GROUP: usize = 2048;

/// One agent's batch, and who waits for it to be durable.
struct Posted {
    agent: String,
    updates: Vec<StatusUpdate>,
    done: oneshot::Sender<()>,
}

/// The queue the status handlers post to; its applier starts with the first batch.
#[derive(Default)]
pub struct StatusQueue(std::sync::OnceLock<mpsc::UnboundedSender<Posted>>);

impl StatusQueue {
    /// Applies `updates` from `agent` with whatever else is queued; returns once durable.
    /// `Err` only if the applier is gone (the process is stopping).
    pub async fn apply(
        &self,
        core: &Arc<Core>,
        agent: String,
        updates: Vec<StatusUpdate>,
    ) -> Result<(), ()> {
        let tx = self.0.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(applier(core.clone(), rx));
            tx
        });
        let (done, acked) = oneshot::channel();
        tx.send(Posted {
            agent,
            updates,
            done,
        })
        .map_err(|_| ())?;
        acked.await.map_err(|_| ())
    }
}

/// Takes everything queued, applies it in one change, waits until it is durable, acknowledges;
/// what arrived meanwhile is the next group.
async fn applier(core: Arc<Core>, mut rx: mpsc::UnboundedReceiver<Posted>) {
    while let Some(first) = rx.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(p) => group.push(p),
                Err(_) => break,
            }
        }
        let mut waiting = Vec::with_capacity(group.len());
        let mut work = Vec::with_capacity(group.len());
        for p in group {
            waiting.push(p.done);
            work.push((p.agent, p.updates));
        }
        let _ = core
            .mutate(move |s, now, ids, dirty| {
                for (agent, updates) in work {
                    s.agent_seen(&agent, now);
                    for u in updates {
                        s.agent_status(&agent, &u.task_id, u.status, u.message, now, ids, dirty);
                    }
                }
                Ok(())
            })
            .await;
        for done in waiting {
            let _ = done.send(());
        }
    }
}
