//! The graceful shutdown hook (`lifecycle`): a user's kill of a task that has the lifecycle's
//! port first POSTs its graceful shutdown endpoint, then its shutdown endpoint, each followed by
//! a wait for the processes to end, and only then escalates with signals.
//!
//! Not here: the signal sequence itself (`crate::kill`).

use super::Hook;
use crate::kill;
use crate::runner::TaskLaunch;
use std::time::Duration;

/// Where to POST, and how long to wait after each request for the processes to end.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoints {
    graceful_url: String,
    shutdown_url: String,
    graceful_wait: Duration,
    shutdown_wait: Duration,
}

impl Endpoints {
    /// Only when the task has the lifecycle's port, as Thermos does.
    fn new(cfg: &aurora_model::config::LifecycleConfig, ports: &[(String, u16)]) -> Option<Self> {
        let http = cfg.http.as_ref()?;
        let port = ports.iter().find(|(n, _)| *n == http.port)?.1;
        let url = |endpoint: &str| {
            format!(
                "http://127.0.0.1:{port}/{}",
                endpoint.trim_start_matches('/')
            )
        };
        Some(Endpoints {
            graceful_url: url(&http.graceful_shutdown_endpoint),
            shutdown_url: url(&http.shutdown_endpoint),
            graceful_wait: Duration::from_secs(http.graceful_shutdown_wait_secs.max(0) as u64),
            shutdown_wait: Duration::from_secs(http.shutdown_wait_secs.max(0) as u64),
        })
    }
}

pub(crate) struct GracefulShutdownHook {
    endpoints: Option<Endpoints>,
}

impl GracefulShutdownHook {
    pub(crate) fn new(launch: &TaskLaunch) -> Self {
        GracefulShutdownHook {
            endpoints: launch
                .lifecycle
                .as_ref()
                .and_then(|l| Endpoints::new(l, &launch.ports)),
        }
    }
}

impl Hook for GracefulShutdownHook {
    fn kill(&mut self, groups: &[i32], grace: Duration) -> bool {
        let Some(e) = self.endpoints.clone() else {
            return false;
        };
        let groups = groups.to_vec();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            for (url, wait) in [
                (&e.graceful_url, e.graceful_wait),
                (&e.shutdown_url, e.shutdown_wait),
            ] {
                if let Err(err) = http.post(url).timeout(Duration::from_secs(5)).send().await {
                    tracing::debug!("graceful shutdown {url}: {err}");
                }
                if kill::until_gone(&groups, wait).await {
                    return;
                }
            }
            kill::escalate(groups, grace).await;
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aurora_model::config::{HttpLifecycleConfig, LifecycleConfig};

    fn lifecycle(port: &str) -> LifecycleConfig {
        LifecycleConfig {
            http: Some(HttpLifecycleConfig {
                port: port.into(),
                graceful_shutdown_endpoint: "/quitquitquit".into(),
                shutdown_endpoint: "abortabortabort".into(),
                graceful_shutdown_wait_secs: 5,
                shutdown_wait_secs: -1,
            }),
        }
    }

    #[test]
    fn endpoints_are_on_the_lifecycle_port_or_absent() {
        let ports = [("health".to_owned(), 31001)];
        assert_eq!(
            Endpoints::new(&lifecycle("health"), &ports),
            Some(Endpoints {
                graceful_url: "http://127.0.0.1:31001/quitquitquit".into(),
                shutdown_url: "http://127.0.0.1:31001/abortabortabort".into(),
                graceful_wait: Duration::from_secs(5),
                shutdown_wait: Duration::ZERO,
            })
        );
        // Without the port, a kill is signals only.
        assert_eq!(Endpoints::new(&lifecycle("http"), &ports), None);
        assert_eq!(
            Endpoints::new(&LifecycleConfig { http: None }, &ports),
            None
        );
    }
}
