//! What the HTTP handlers share beyond the [`Core`]: who may do what (`AuthOptions`), the audit
//! log, the client that reaches agents' file servers with the cluster secret, and the store's
//! path for tokens issued by another process. Background loops never see it; they use the
//! `Core` alone.

use super::auth::AuthOptions;
use super::error::ApiError;
use crate::core::Core;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The state every handler takes (`State<Arc<App>>`).
pub struct App {
    pub core: Arc<Core>,
    /// Who may do what (`http::auth`).
    pub auth: AuthOptions,
    /// The store's file, for tokens issued by another process since the start.
    pub db: PathBuf,
    /// For requests to agents (their file servers), connections kept alive; it carries the
    /// cluster secret when there is one.
    pub agents: reqwest::Client,
    /// Every mutation, one JSON line each: time, user, source, action, target, outcome.
    audit: Option<Mutex<std::fs::File>>,
    /// Store look-ups of unknown tokens, per client address (`auth::lookup`).
    pub failed_lookups: super::auth::FailedLookups,
    /// The Unix accounts a role may name ([`App::check_task_user`]).
    pub task_users: aurora_model::task_user::TaskUserPolicy,
    /// Backups and the staged recovery (`storage`).
    pub storage: Arc<crate::storage::Storage>,
    /// With several schedulers: wakes the writer of snapshots into etcd.
    pub snapshot_now: Option<Arc<tokio::sync::Notify>>,
    /// Agents' status batches, applied together (`http::statuses`).
    pub statuses: super::statuses::StatusQueue,
}

/// How an [`App`] is set up around its core.
pub struct AppOptions {
    pub auth: AuthOptions,
    pub db: PathBuf,
    /// Where the audit log is appended; `None`: no audit log.
    pub audit_log: Option<PathBuf>,
    /// The Unix accounts a role may name.
    pub task_users: aurora_model::task_user::TaskUserPolicy,
    pub storage: Arc<crate::storage::Storage>,
    pub snapshot_now: Option<Arc<tokio::sync::Notify>>,
}

/// Why the HTTP side cannot start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot open the audit log {path}: {source}")]
    AuditLog {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot build the HTTP client for agents: {0}")]
    Client(#[from] reqwest::Error),
}

impl App {
    /// The handlers' state around `core`. Fails rather than run without the audit log it was
    /// asked to keep, or with a client that would not present the cluster secret.
    pub fn new(core: Arc<Core>, o: AppOptions) -> Result<Arc<Self>, AppError> {
        let audit = match o.audit_log {
            None => None,
            Some(path) => Some(Mutex::new(
                crate::private::open_append(&path)
                    .map_err(|source| AppError::AuditLog { path, source })?,
            )),
        };
        let agents = agent_client()?;
        Ok(Arc::new(App {
            core,
            auth: o.auth,
            db: o.db,
            agents,
            audit,
            failed_lookups: Default::default(),
            task_users: o.task_users,
            storage: o.storage,
            snapshot_now: o.snapshot_now,
            statuses: Default::default(),
        }))
    }

    /// Refuses (400) a role whose Unix account on this host is a system account the policy does
    /// not allow: tasks of the role would run as it on agents running as root. A role with no
    /// account here passes: agents' hosts may have it, and they check again at launch. The look-up
    /// (the user database, maybe NSS over the network) runs off the async workers.
    pub async fn check_task_user(&self, role: &str) -> Result<(), ApiError> {
        let name = role.to_owned();
        let found = tokio::task::spawn_blocking(move || nix::unistd::User::from_name(&name))
            .await
            .map_err(|e| ApiError::internal(format!("cannot look user '{role}' up: {e}")))?
            .map_err(|e| ApiError::internal(format!("cannot look user '{role}' up: {e}")))?;
        match found {
            Some(u) => self
                .task_users
                .check(role, u.uid.as_raw())
                .map_err(|e| ApiError::bad_request(e.to_string())),
            None => Ok(()),
        }
    }

    /// Appends one mutation to the audit log. A failed write is logged: the mutation it records
    /// has already happened.
    pub fn audit(
        &self,
        user: &str,
        from: std::net::IpAddr,
        action: &str,
        target: &str,
        outcome: &str,
    ) {
        let Some(f) = &self.audit else {
            return;
        };
        let time = aurora_model::time::utc_timestamp(self.core.now_ms()).replace(' ', "T");
        let line = serde_json::json!({
            "time": format!("{time}Z"),
            "user": user,
            "source": from.to_string(),
            "action": action,
            "target": target,
            "outcome": outcome,
        });
        let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = std::io::Write::write_all(&mut *f, format!("{line}\n").as_bytes()) {
            tracing::error!(%line, "cannot write to the audit log: {e}");
        }
    }
}

/// The HTTP client for agents' file servers (each request presents that agent's credential:
/// `http::sandbox`).
fn agent_client() -> Result<reqwest::Client, AppError> {
    Ok(reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(3))
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_audit_log_that_cannot_be_opened_stops_the_start() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (store, _) =
            aurora_store::Store::open(&dir.path().join("s.db")).expect("a fresh store");
        let core = Core::new(
            crate::state::State::default(),
            store,
            crate::core::CoreOptions {
                cluster: "c".into(),
                clock: Arc::new(crate::core::SystemClock),
                cluster_secret: "0123456789abcdef".into(),
                heartbeat: std::time::Duration::from_secs(5),
            },
        );
        let options = |audit_log| AppOptions {
            auth: AuthOptions::default(),
            db: dir.path().join("s.db"),
            audit_log,
            task_users: Default::default(),
            storage: crate::storage::Storage::beside(&dir.path().join("s.db")),
            snapshot_now: None,
        };
        let missing = dir.path().join("no-such-dir/audit.log");
        assert!(matches!(
            App::new(core.clone(), options(Some(missing))),
            Err(AppError::AuditLog { .. })
        ));
        let app = App::new(core, options(Some(dir.path().join("audit.log"))))
            .expect("a writable audit log");
        app.audit("u", [127, 0, 0, 1].into(), "create", "a/b/c", "ok");
        let text = std::fs::read_to_string(dir.path().join("audit.log")).expect("the audit log");
        assert!(text.contains("\"user\":\"u\"") && text.contains("\"outcome\":\"ok\""));
    }
}
