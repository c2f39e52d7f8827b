//! The health hook: while the task has processes and is not being stopped, its health check runs
//! every interval; enough successes make it RUNNING (it gates RUNNING when the job has health
//! checking), too many failures stop it. A shell check runs as the task's processes do: its
//! user, its cgroups, its environment (the setup the prestart hooks made).
//!
//! Not here: what a check is and the counting rules (`crate::health`).

use super::{Action, Hook, HookFuture};
use crate::health::{AsTask, HealthPlan, Tracker, Verdict, check_once};
use crate::runner::{RunState, TaskLaunch};
use crate::status::StopReason;
use aurora_model::template::bind_runtime;
use std::time::Instant;

pub(crate) struct HealthHook {
    /// `None`: the job has no health checking (or nothing to check); the task is healthy once
    /// it runs.
    checking: Option<(HealthPlan, Tracker)>,
    http: reqwest::Client,
    /// When the next check is due (the first one at once).
    next: Instant,
}

impl HealthHook {
    pub(crate) fn new(launch: &TaskLaunch) -> Self {
        let checking = launch.health.as_ref().and_then(|cfg| {
            let shell = cfg
                .health_checker
                .shell
                .as_ref()
                .map(|s| bind_runtime(&s.shell_command, &launch.runtime()).into_owned());
            let plan = HealthPlan::new(cfg, &launch.ports, shell)?;
            let tracker = Tracker::new(&plan);
            Some((plan, tracker))
        });
        HealthHook {
            checking,
            http: reqwest::Client::new(),
            next: Instant::now(),
        }
    }
}

impl Hook for HealthHook {
    fn gates_running(&self) -> bool {
        self.checking.is_some()
    }

    fn due(&self, run: &RunState) -> Option<Instant> {
        let watching = run.stop_reason().is_none() && !run.plan().killed && run.has_groups();
        (self.checking.is_some() && watching).then_some(self.next)
    }

    fn tick<'a>(&'a mut self, run: &'a RunState) -> HookFuture<'a, Action> {
        Box::pin(async move {
            let Some((plan, tracker)) = self.checking.as_mut() else {
                return Action::None;
            };
            // Spaced from this check's start, as a delayed interval would.
            self.next = Instant::now() + plan.interval;
            let as_task = AsTask {
                env: &run.setup().env,
                confine: &run.setup().confine,
            };
            let Some(result) = check_once(plan, &run.launch().sandbox, &self.http, as_task).await
            else {
                return Action::None;
            };
            match tracker.record(result) {
                Verdict::Pending => Action::None,
                Verdict::Healthy => Action::Healthy,
                Verdict::Unhealthy(failure) => Action::Stop(StopReason::Unhealthy(failure)),
            }
        })
    }
}
