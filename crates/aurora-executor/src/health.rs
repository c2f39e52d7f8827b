//! Health checks, as Thermos runs them: the shell checker when configured, else the HTTP checker
//! when the task has a port named `health`, else none (the task is healthy once it runs). The
//! first checks are a grace period; the task becomes RUNNING after `min_consecutive_successes`
//! successes in a row, and is failed after more than `max_consecutive_failures` failures in a row
//! once running (or when it never gets healthy within its budget). A `.healthchecksnooze` file in
//! the sandbox suspends checking.
//!
//! A shell check runs as the task's processes do (`isolation::Confinement`: the task's user,
//! its cgroups or rlimits, a session and process group of its own, the task's environment
//! only), and its whole process group is SIGKILLed as soon as it exits or times out: nothing a
//! check starts outlives it.
//!
//! [`Tracker`] holds the counting rules (pure, tested alone); [`check_once`] does one check.

use crate::isolation::Confinement;
use aurora_model::config::HealthCheckConfig;
use std::path::Path;
use std::time::Duration;

/// The file that suspends checking while it exists in the sandbox.
pub const SNOOZE_FILE: &str = ".healthchecksnooze";

/// One kind of check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// GET `url`; the status must be `code` (any when 0) and the body `body` (any when empty,
    /// compared case-insensitively).
    Http {
        url: String,
        body: String,
        code: u16,
    },
    /// `bash -c command` in the sandbox must exit 0.
    Shell { command: String },
}

/// A task's health checking.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthPlan {
    pub check: Check,
    pub interval: Duration,
    pub timeout: Duration,
    /// Attempts whose failures do not count (`ceil(initial_interval / interval)`).
    pub grace: u32,
    pub max_failures: u32,
    pub min_successes: u32,
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

impl HealthPlan {
    /// The plan for a task with `ports`, or `None` when nothing is checked. `shell` is the shell
    /// command with its templates already bound.
    pub fn new(
        cfg: &HealthCheckConfig,
        ports: &[(String, u16)],
        shell: Option<String>,
    ) -> Option<HealthPlan> {
        let check = if let Some(command) = shell {
            Check::Shell { command }
        } else {
            let http = cfg.health_checker.http.as_ref()?;
            let port = ports.iter().find(|(n, _)| n == "health")?.1;
            let endpoint = if http.endpoint.starts_with('/') {
                http.endpoint.clone()
            } else {
                format!("/{}", http.endpoint)
            };
            Check::Http {
                url: format!("http://127.0.0.1:{port}{endpoint}"),
                body: http.expected_response.trim().to_owned(),
                code: u16::try_from(http.expected_response_code).unwrap_or(0),
            }
        };
        let interval = secs(cfg.interval_secs).max(Duration::from_millis(10));
        Some(HealthPlan {
            check,
            interval,
            timeout: secs(cfg.timeout_secs).max(Duration::from_millis(10)),
            grace: (cfg.initial_interval_secs.max(0.0) / interval.as_secs_f64()).ceil() as u32,
            max_failures: cfg.max_consecutive_failures.max(0) as u32,
            min_successes: cfg.min_consecutive_successes.max(1) as u32,
        })
    }
}

/// What the checks so far mean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing new.
    Pending,
    /// The task just became healthy: RUNNING.
    Healthy,
    /// The task must be failed, for this reason.
    Unhealthy(HealthFailure),
}

/// Why health checking failed a task.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HealthFailure {
    /// It never became healthy within its budget of checks.
    #[error("Not enough successful health checks in time.")]
    NeverHealthy,
    /// Once running, too many checks in a row failed; the last one for this reason.
    #[error("Failed health check! {0}")]
    Failing(String),
}

/// Counts results as Thermos does.
#[derive(Debug, Clone)]
pub struct Tracker {
    plan_grace: u32,
    max_failures: u32,
    min_successes: u32,
    attempts: u32,
    successes: u32,
    failures: u32,
    healthy: bool,
}

impl Tracker {
    pub fn new(plan: &HealthPlan) -> Tracker {
        Tracker {
            plan_grace: plan.grace,
            max_failures: plan.max_failures,
            min_successes: plan.min_successes,
            attempts: 0,
            successes: 0,
            failures: 0,
            healthy: false,
        }
    }

    /// Records one check's result.
    pub fn record(&mut self, result: Result<(), String>) -> Verdict {
        self.attempts += 1;
        let reason = match result {
            Ok(()) => {
                self.successes += 1;
                self.failures = 0;
                None
            }
            Err(r) => {
                self.failures += 1;
                self.successes = 0;
                Some(r)
            }
        };
        if !self.healthy {
            if self.successes >= self.min_successes {
                self.healthy = true;
                return Verdict::Healthy;
            }
            if self.attempts >= self.plan_grace + self.max_failures + self.min_successes {
                return Verdict::Unhealthy(HealthFailure::NeverHealthy);
            }
            return Verdict::Pending;
        }
        match reason {
            Some(r) if self.failures > self.max_failures => {
                Verdict::Unhealthy(HealthFailure::Failing(r))
            }
            _ => Verdict::Pending,
        }
    }
}

/// How a shell check runs: the task's environment and confinement.
#[derive(Debug, Clone, Copy)]
pub struct AsTask<'a> {
    pub env: &'a [(&'static str, String)],
    pub confine: &'a Confinement,
}

/// Runs one check; `Err` says why it failed. `None` when checking is snoozed.
pub async fn check_once(
    plan: &HealthPlan,
    sandbox: &Path,
    http: &reqwest::Client,
    as_task: AsTask<'_>,
) -> Option<Result<(), String>> {
    // Any entry of that name snoozes, a link too (not followed: root does not look through it).
    if std::fs::symlink_metadata(sandbox.join(SNOOZE_FILE)).is_ok() {
        return None;
    }
    let r = match &plan.check {
        Check::Http { url, body, code } => match http.get(url).timeout(plan.timeout).send().await {
            Err(e) => Err(format!("{url}: {e}")),
            Ok(resp) => {
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                if *code != 0 && status != *code {
                    Err(format!("{url} answered {status}, expected {code}"))
                } else if *code == 0 && !(200..300).contains(&status) {
                    Err(format!("{url} answered {status}"))
                } else if !body.is_empty() && !text.trim().eq_ignore_ascii_case(body) {
                    Err(format!(
                        "{url} answered '{}', expected '{body}'",
                        text.trim()
                    ))
                } else {
                    Ok(())
                }
            }
        },
        Check::Shell { command } => shell(command, plan.timeout, sandbox, as_task).await,
    };
    Some(r)
}

/// Runs a shell check as the task, in its own process group, killed with everything it started
/// once it exits or times out.
async fn shell(
    command: &str,
    timeout: Duration,
    sandbox: &Path,
    as_task: AsTask<'_>,
) -> Result<(), String> {
    let mut cmd = tokio::process::Command::new("bash");
    cmd.arg("-c")
        .arg(command)
        .current_dir(sandbox)
        .env_clear()
        .envs(as_task.env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let confine = as_task.confine.clone();
    // SAFETY: `enter` makes only async-signal-safe calls; it runs in the child between fork and
    // exec. It starts a new session, so the check leads its own process group.
    unsafe {
        cmd.pre_exec(move || confine.enter());
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("'{command}' could not run: {e}"))?;
    let group = child.id().map_or(0, |p| p as i32);
    let ended = tokio::time::timeout(timeout, child.wait()).await;
    // Whatever the check left behind (a background child) goes with it, on time or not.
    crate::process::signal_group(group, nix::sys::signal::Signal::SIGKILL);
    match ended {
        Err(_) => {
            let _ = child.wait().await;
            Err(format!("'{command}' timed out after {timeout:?}"))
        }
        Ok(Err(e)) => Err(format!("'{command}' could not run: {e}")),
        Ok(Ok(s)) if s.success() => Ok(()),
        Ok(Ok(s)) => Err(format!(
            "'{command}' exited with {}",
            s.code().unwrap_or(-1)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(grace: u32, max_failures: u32, min_successes: u32) -> HealthPlan {
        HealthPlan {
            check: Check::Shell {
                command: "true".into(),
            },
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            grace,
            max_failures,
            min_successes,
        }
    }

    #[test]
    fn healthy_after_enough_successes_in_a_row() {
        let mut t = Tracker::new(&plan(2, 0, 2));
        assert_eq!(t.record(Err("x".into())), Verdict::Pending, "grace");
        assert_eq!(t.record(Ok(())), Verdict::Pending);
        assert_eq!(t.record(Ok(())), Verdict::Healthy);
        assert_eq!(t.record(Ok(())), Verdict::Pending);
    }

    #[test]
    fn never_healthy_within_the_budget_fails() {
        let mut t = Tracker::new(&plan(1, 1, 1));
        assert_eq!(t.record(Err("a".into())), Verdict::Pending);
        assert_eq!(t.record(Err("b".into())), Verdict::Pending);
        let verdict = t.record(Err("c".into()));
        assert_eq!(verdict, Verdict::Unhealthy(HealthFailure::NeverHealthy));
        assert_eq!(
            HealthFailure::NeverHealthy.to_string(),
            "Not enough successful health checks in time."
        );
    }

    #[test]
    fn a_running_task_fails_after_too_many_failures_in_a_row() {
        let mut t = Tracker::new(&plan(0, 1, 1));
        assert_eq!(t.record(Ok(())), Verdict::Healthy);
        assert_eq!(
            t.record(Err("one".into())),
            Verdict::Pending,
            "one failure is allowed"
        );
        assert_eq!(
            t.record(Ok(())),
            Verdict::Pending,
            "a success resets the count"
        );
        assert_eq!(t.record(Err("one".into())), Verdict::Pending);
        let verdict = t.record(Err("two".into()));
        assert_eq!(
            verdict,
            Verdict::Unhealthy(HealthFailure::Failing("two".into()))
        );
        let Verdict::Unhealthy(failure) = verdict else {
            unreachable!("asserted above")
        };
        assert_eq!(failure.to_string(), "Failed health check! two");
    }

    #[test]
    fn plans_follow_the_configuration() {
        use aurora_model::config::{HealthCheckerConfig, HttpHealthChecker};
        let cfg = HealthCheckConfig {
            health_checker: HealthCheckerConfig {
                http: Some(HttpHealthChecker {
                    endpoint: "/health".into(),
                    expected_response: "ok".into(),
                    expected_response_code: 0,
                }),
                shell: None,
            },
            initial_interval_secs: 15.0,
            interval_secs: 10.0,
            max_consecutive_failures: 0,
            min_consecutive_successes: 1,
            timeout_secs: 1.0,
        };
        // No `health` port: nothing to check.
        assert_eq!(HealthPlan::new(&cfg, &[("http".into(), 8080)], None), None);
        let p = HealthPlan::new(&cfg, &[("health".into(), 31001)], None).unwrap();
        assert_eq!(
            p.check,
            Check::Http {
                url: "http://127.0.0.1:31001/health".into(),
                body: "ok".into(),
                code: 0
            }
        );
        assert_eq!(p.grace, 2);
        // A shell checker wins.
        let s =
            HealthPlan::new(&cfg, &[("health".into(), 1)], Some("test -f ready".into())).unwrap();
        assert_eq!(
            s.check,
            Check::Shell {
                command: "test -f ready".into()
            }
        );
    }

    #[tokio::test]
    async fn a_snoozed_sandbox_is_not_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = HealthPlan {
            check: Check::Shell {
                command: "false".into(),
            },
            ..plan(0, 0, 1)
        };
        let http = reqwest::Client::new();
        let confine = Confinement::default();
        let as_task = AsTask {
            env: &[],
            confine: &confine,
        };
        assert_eq!(
            check_once(&p, dir.path(), &http, as_task).await,
            Some(Err("'false' exited with 1".into()))
        );
        std::fs::write(dir.path().join(SNOOZE_FILE), "").unwrap();
        assert_eq!(check_once(&p, dir.path(), &http, as_task).await, None);
    }
}
