//! A typed client for the scheduler's `/api/v1` ([`Client`], for the CLI and the tests) and for
//! the agent protocol `/agent/v1` ([`agent_protocol`], for agents): one async method per route,
//! errors that say what the scheduler refused (its JSON `error`) or which URL could not be
//! reached. No business logic: retries, backoff and what a command means are the callers'.

pub mod agent_protocol;
pub mod schedulers;

use aurora_api::*;
use aurora_model::JobKey;
pub use schedulers::Schedulers;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The scheduler answered with an error.
    #[error("{message}")]
    Http { status: u16, message: String },
    /// The client could not make its credentials (no Kerberos ticket...).
    #[error("{0}")]
    Auth(String),
    /// The scheduler could not be reached.
    #[error("cannot reach the scheduler at {url}: {source}")]
    Transport { url: String, source: reqwest::Error },
    /// The answer was not what the API promises.
    #[error("unexpected answer from the scheduler: {0}")]
    Decode(String),
}

/// A reqwest client builder for a scheduler: a 5 s connect timeout, and the PEM certificates `ca`
/// trusted (besides the system's) for `https://`.
fn http_builder(ca: Option<&[u8]>) -> Result<reqwest::ClientBuilder, ClientError> {
    // Redirects (a follower pointing at the leader) are followed by `schedulers::send`, which
    // keeps the credentials reqwest would drop on the way to another port.
    let builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none());
    match ca {
        Some(pem) => {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| ClientError::Decode(format!("the CA certificate: {e}")))?;
            Ok(builder.tls_certs_merge(certs))
        }
        None => Ok(builder),
    }
}

fn build(builder: reqwest::ClientBuilder) -> Result<reqwest::Client, ClientError> {
    builder
        .build()
        .map_err(|e| ClientError::Decode(format!("building the HTTP client: {e}")))
}

/// A client for a cluster's scheduler (the one that leads, of several).
#[derive(Clone)]
pub struct Client {
    schedulers: Schedulers,
    http: reqwest::Client,
    token: Option<String>,
    cookies: Option<String>,
    /// Kerberos: the host whose HTTP service tokens are made for.
    negotiate: Option<String>,
}

/// A piece of a log and where the next piece starts.
#[derive(Debug, Clone)]
pub struct LogChunk {
    pub data: Vec<u8>,
    /// The offset just past `data`: ask from here to follow the log.
    pub next_offset: u64,
}

/// Which log to read.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    pub process: Option<String>,
    pub stderr: bool,
    pub run: Option<u32>,
    pub offset: Option<u64>,
    pub tail: Option<u32>,
}

impl Client {
    /// A client for the scheduler at `base` (`http://host:port`, or several comma-separated:
    /// tried in turn when one cannot be reached).
    pub fn new(base: &str) -> Self {
        Self::with_ca(base, None).unwrap_or_else(|_| Self::with_http(base, reqwest::Client::new()))
    }

    /// A client for the scheduler at `base`, trusting the PEM certificates `ca` (besides the
    /// system's) for `https://`.
    pub fn with_ca(base: &str, ca: Option<&[u8]>) -> Result<Self, ClientError> {
        let http = build(http_builder(ca)?.timeout(Duration::from_secs(60)))?;
        Ok(Self::with_http(base, http))
    }

    fn with_http(base: &str, http: reqwest::Client) -> Self {
        Client {
            schedulers: Schedulers::parse(base),
            http,
            token: None,
            cookies: None,
            negotiate: None,
        }
    }

    /// Authenticates every call with Kerberos (`Negotiate`), for the HTTP service on `host`.
    pub fn with_negotiate(mut self, host: Option<String>) -> Self {
        self.negotiate = host;
        self
    }

    /// Sends `Cookie: ...` with every call (cookies from an SSO cookie jar).
    pub fn with_cookies(mut self, cookies: Option<String>) -> Self {
        self.cookies = cookies.filter(|c| !c.is_empty());
        self
    }

    /// Sends `Authorization: Bearer TOKEN` with every call.
    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }

    /// The current scheduler's base URL.
    pub fn base(&self) -> &str {
        self.schedulers.base()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.schedulers.base())
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::Response, ClientError> {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let req = match &self.cookies {
            Some(c) => req.header("cookie", c),
            None => req,
        };
        // A fresh SPNEGO token per request (they are not meant to be replayed).
        let req = match &self.negotiate {
            Some(host) => {
                let token = aurora_auth::kerberos::initiate(host)
                    .map_err(|e| ClientError::Auth(format!("{e} (run kinit?)")))?;
                req.header("authorization", format!("Negotiate {token}"))
            }
            None => req,
        };
        schedulers::send(req, url, &self.schedulers).await
    }

    async fn json<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<T, ClientError> {
        let resp = self.send(req, url).await?;
        resp.json()
            .await
            .map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// `GET` with a few retries on connection errors: reads are idempotent.
    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = self.url(path);
        let mut attempt = 0;
        loop {
            match self.json(self.http.get(&url), &url).await {
                Err(ClientError::Transport { .. }) if attempt < 3 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                other => return other,
            }
        }
    }

    pub async fn health(&self) -> Result<(), ClientError> {
        let url = self.url("/health");
        self.send(self.http.get(&url), &url).await.map(|_| ())
    }

    pub async fn create_job(
        &self,
        config: aurora_model::Job,
    ) -> Result<CreateJobResponse, ClientError> {
        let url = self.url(routes::JOBS);
        self.json(
            self.http.post(&url).json(&CreateJobRequest { config }),
            &url,
        )
        .await
    }

    pub async fn list_jobs(
        &self,
        role: Option<&str>,
        environment: Option<&str>,
    ) -> Result<Vec<JobSummary>, ClientError> {
        let mut q = Vec::new();
        if let Some(r) = role {
            q.push(format!("role={r}"));
        }
        if let Some(e) = environment {
            q.push(format!("environment={e}"));
        }
        let query = if q.is_empty() {
            String::new()
        } else {
            format!("?{}", q.join("&"))
        };
        self.get(&format!("{}{query}", routes::JOBS)).await
    }

    /// `aurora auth login` (no user) and `aurora_admin token issue USER`.
    pub async fn issue_token(&self, req: &IssueTokenRequest) -> Result<TokenIssued, ClientError> {
        let url = self.url(routes::TOKENS);
        self.json(self.http.post(&url).json(req), &url).await
    }

    /// `aurora_admin token list`.
    pub async fn tokens(&self) -> Result<Vec<TokenView>, ClientError> {
        self.get(routes::TOKENS).await
    }

    /// `aurora_admin token revoke ID`.
    pub async fn revoke_token(&self, id: &str) -> Result<TokenView, ClientError> {
        let url = self.url(&routes::token(id));
        self.json(self.http.delete(&url), &url).await
    }

    /// `aurora_admin scheduler_list_backups`.
    pub async fn backups(&self) -> Result<BackupList, ClientError> {
        self.get(routes::BACKUPS).await
    }

    /// `aurora_admin scheduler_backup_now`.
    pub async fn backup_now(&self) -> Result<BackupTaken, ClientError> {
        let url = self.url(routes::BACKUPS);
        self.json(self.http.post(&url), &url).await
    }

    /// `aurora_admin scheduler_stage_recovery`.
    pub async fn stage_recovery(&self, backup: &str) -> Result<RecoveryStatus, ClientError> {
        let url = self.url(routes::RECOVERY);
        let req = StageRecoveryRequest {
            backup: backup.to_owned(),
        };
        self.json(self.http.post(&url).json(&req), &url).await
    }

    /// `aurora_admin scheduler_print_recovery_tasks`.
    pub async fn recovery_tasks(&self) -> Result<Vec<RecoveryTask>, ClientError> {
        let url = self.url(routes::RECOVERY_TASKS);
        self.json(self.http.get(&url), &url).await
    }

    /// `aurora_admin scheduler_delete_recovery_tasks`.
    pub async fn delete_recovery_tasks(
        &self,
        task_ids: &[String],
    ) -> Result<RecoveryStatus, ClientError> {
        let url = self.url(routes::RECOVERY_TASKS_DELETE);
        let req = DeleteRecoveryTasksRequest {
            task_ids: task_ids.to_vec(),
        };
        self.json(self.http.post(&url).json(&req), &url).await
    }

    /// `aurora_admin scheduler_commit_recovery`: the scheduler restarts after answering.
    pub async fn commit_recovery(&self) -> Result<RecoveryStatus, ClientError> {
        let url = self.url(routes::RECOVERY_COMMIT);
        self.json(self.http.post(&url), &url).await
    }

    /// `aurora_admin scheduler_unload_recovery`.
    pub async fn unload_recovery(&self) -> Result<(), ClientError> {
        let url = self.url(routes::RECOVERY);
        self.send(self.http.delete(&url), &url).await.map(|_| ())
    }

    /// `aurora_admin scheduler_snapshot`.
    pub async fn snapshot(&self) -> Result<SnapshotTaken, ClientError> {
        let url = self.url(routes::SNAPSHOT);
        self.json(self.http.post(&url), &url).await
    }

    /// `aurora_admin hosts`.
    pub async fn hosts(&self) -> Result<Vec<HostView>, ClientError> {
        self.get(routes::HOSTS).await
    }

    /// `aurora_admin host_maintenance_status`.
    pub async fn maintenance(&self, hosts: &[String]) -> Result<Vec<MaintenanceView>, ClientError> {
        self.get(&format!(
            "{}?hosts={}",
            routes::MAINTENANCE,
            hosts.join(",")
        ))
        .await
    }

    /// `aurora_admin host_drain`.
    pub async fn drain(&self, hosts: &[String]) -> Result<DrainResponse, ClientError> {
        let url = self.url(routes::MAINTENANCE_DRAIN);
        let body = HostsRequest {
            hosts: hosts.to_vec(),
        };
        self.json(self.http.post(&url).json(&body), &url).await
    }

    /// `aurora_admin host_activate`.
    pub async fn activate(&self, hosts: &[String]) -> Result<Vec<MaintenanceView>, ClientError> {
        let url = self.url(routes::MAINTENANCE_ACTIVATE);
        let body = HostsRequest {
            hosts: hosts.to_vec(),
        };
        self.json(self.http.post(&url).json(&body), &url).await
    }

    /// `aurora cron schedule`.
    pub async fn schedule_cron(
        &self,
        config: aurora_model::Job,
    ) -> Result<CronScheduled, ClientError> {
        let url = self.url(routes::CRON);
        self.json(
            self.http.post(&url).json(&CreateJobRequest { config }),
            &url,
        )
        .await
    }

    /// `aurora cron deschedule`.
    pub async fn deschedule_cron(&self, key: &JobKey) -> Result<CronDescheduled, ClientError> {
        let url = self.url(&routes::cron_job(key));
        self.json(self.http.delete(&url), &url).await
    }

    /// `aurora cron start`.
    pub async fn start_cron(&self, key: &JobKey) -> Result<CronStarted, ClientError> {
        let url = self.url(&routes::cron_start(key));
        self.json(self.http.post(&url), &url).await
    }

    /// `aurora cron show`.
    pub async fn cron(&self, key: &JobKey) -> Result<CronView, ClientError> {
        self.get(&routes::cron_job(key)).await
    }

    pub async fn job(&self, key: &JobKey) -> Result<JobDetails, ClientError> {
        self.get(&routes::job(key)).await
    }

    pub async fn kill(
        &self,
        key: &JobKey,
        instances: Option<Vec<u32>>,
        message: Option<String>,
    ) -> Result<TasksAffected, ClientError> {
        let url = self.url(&routes::job_kill(key));
        self.json(
            self.http
                .post(&url)
                .json(&KillRequest { instances, message }),
            &url,
        )
        .await
    }

    pub async fn add_instances(
        &self,
        key: &JobKey,
        from_instance: u32,
        count: u32,
    ) -> Result<TasksAffected, ClientError> {
        let url = self.url(&routes::job_instances(key));
        self.json(
            self.http.post(&url).json(&AddInstancesRequest {
                from_instance,
                count,
            }),
            &url,
        )
        .await
    }

    /// `aurora job restart`: starts a rolling restart (an update of kind `restart`).
    pub async fn restart(
        &self,
        key: &JobKey,
        req: &RestartRequest,
    ) -> Result<StartUpdateResponse, ClientError> {
        let url = self.url(&routes::job_restart(key));
        self.json(self.http.post(&url).json(req), &url).await
    }

    /// `aurora update start`.
    pub async fn start_update(
        &self,
        key: &JobKey,
        req: &StartUpdateRequest,
    ) -> Result<StartUpdateResponse, ClientError> {
        let url = self.url(&routes::job_update(key));
        self.json(self.http.post(&url).json(req), &url).await
    }

    /// `aurora job diff`.
    pub async fn diff(&self, key: &JobKey, req: &DiffRequest) -> Result<DiffResponse, ClientError> {
        let url = self.url(&routes::job_diff(key));
        self.json(self.http.post(&url).json(req), &url).await
    }

    /// A job's active update (404: none).
    pub async fn active_update(&self, key: &JobKey) -> Result<UpdateDetails, ClientError> {
        self.get(&routes::job_update(key)).await
    }

    /// An update by id.
    pub async fn update(&self, id: &str) -> Result<UpdateDetails, ClientError> {
        self.get(&routes::update(id)).await
    }

    /// `aurora update list`.
    pub async fn updates(&self, q: &UpdateQuery) -> Result<Vec<UpdateSummary>, ClientError> {
        let mut url = reqwest::Url::parse(&self.url(routes::UPDATES))
            .map_err(|e| ClientError::Decode(e.to_string()))?;
        {
            let mut p = url.query_pairs_mut();
            for (k, v) in [
                ("role", &q.role),
                ("env", &q.env),
                ("name", &q.name),
                ("user", &q.user),
                ("status", &q.status),
            ] {
                if let Some(v) = v {
                    p.append_pair(k, v);
                }
            }
        }
        let text_url = url.to_string();
        self.json(self.http.get(url), &text_url).await
    }

    /// `aurora update pause|resume|abort|rollback`.
    pub async fn control_update(
        &self,
        key: &JobKey,
        verb: UpdateAction,
        message: Option<String>,
    ) -> Result<UpdateSummary, ClientError> {
        let url = self.url(&routes::job_update_control(key, verb));
        self.json(
            self.http.post(&url).json(&UpdateControlRequest { message }),
            &url,
        )
        .await
    }

    /// Pulses a coordinated update.
    pub async fn pulse_update(&self, id: &str) -> Result<PulseResponse, ClientError> {
        let url = self.url(&routes::update_pulse(id));
        self.json(self.http.post(&url), &url).await
    }

    pub async fn task(&self, task_id: &str) -> Result<TaskView, ClientError> {
        self.get(&routes::task(task_id)).await
    }

    /// Reads a process's log.
    pub async fn logs(&self, task_id: &str, q: &LogQuery) -> Result<LogChunk, ClientError> {
        let mut url = reqwest::Url::parse(&self.url(&routes::task_logs(task_id)))
            .map_err(|e| ClientError::Decode(e.to_string()))?;
        {
            let mut p = url.query_pairs_mut();
            p.append_pair("stream", if q.stderr { "stderr" } else { "stdout" });
            if let Some(v) = &q.process {
                p.append_pair("process", v);
            }
            if let Some(v) = q.run {
                p.append_pair("run", &v.to_string());
            }
            if let Some(v) = q.offset {
                p.append_pair("offset", &v.to_string());
            }
            if let Some(v) = q.tail {
                p.append_pair("tail", &v.to_string());
            }
        }
        let text_url = url.to_string();
        let resp = self.send(self.http.get(url), &text_url).await?;
        let next_offset = resp
            .headers()
            .get("x-log-offset")
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0);
        let data = resp
            .bytes()
            .await
            .map_err(|e| ClientError::Decode(e.to_string()))?
            .to_vec();
        Ok(LogChunk { data, next_offset })
    }
}
