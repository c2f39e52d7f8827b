//! What people and scripts read about the state: the API's views (jobs, roles, instance pages,
//! tasks) computed from [`State`]. The JSON API serialises them and the web UI renders them, so a
//! page never shows what the API cannot tell.
//!
//! Pure reads of the state, no I/O: what lives on agents (process reports, sandbox files) is
//! fetched by `http::sandbox`.

use crate::state::State;
use aurora_api::{
    CronRunView, CronView, HostView, InstancePage, JobSummary, MaintenanceView, RoleSummary,
    TaskEventView, TaskView,
};
use aurora_model::JobKey;
use aurora_model::host::HostState;
use aurora_model::task::{ScheduleStatus, ScheduledTask};
use std::collections::BTreeMap;

/// The most instances one page shows.
pub const MAX_PAGE: u32 = 500;

/// The API's view of a task.
pub fn task_view(state: &State, t: &ScheduledTask) -> TaskView {
    TaskView {
        task_id: t.task_id.clone(),
        job: t.job.to_string(),
        instance: t.instance,
        status: t.status,
        host: t.host.clone(),
        agent_id: t.agent_id.clone(),
        pending_reason: if t.status == ScheduleStatus::Pending {
            state.pending_reason(&t.task_id).map(str::to_owned)
        } else {
            None
        },
        ports: t.ports.iter().cloned().collect(),
        failure_count: t.failure_count,
        ancestor_id: t.ancestor_id.clone(),
        cron_run_ms: t.cron_run_ms,
        events: t
            .events
            .iter()
            .map(|e| TaskEventView {
                timestamp_ms: e.timestamp_ms,
                status: e.status,
                message: e.message.clone(),
            })
            .collect(),
    }
}

/// A job's summary: kind, instance count, and its active tasks counted by state.
pub fn job_summary(state: &State, key: &JobKey) -> Option<JobSummary> {
    let entry = state.jobs.get(key)?;
    // Counted as tasks change state (`state::tasks`): no walk over the job's tasks.
    let mut task_counts = BTreeMap::new();
    if let Some(counts) = state.tasks.counts(key) {
        for s in ScheduleStatus::ALL {
            let n = counts[s as usize];
            if n > 0 && s.is_active() {
                task_counts.insert(s.name().to_owned(), n);
            }
        }
    }
    Some(JobSummary {
        role: key.role.clone(),
        environment: key.environment.clone(),
        name: key.name.clone(),
        service: entry.config.service,
        instances: entry.instances.len() as u32,
        cron_schedule: entry.config.cron_schedule.clone(),
        next_cron_run_ms: entry.cron.as_ref().and_then(|c| c.next_ms),
        task_counts,
    })
}

/// Summaries of the jobs of `role` (every role when `None`) in `environment` (every one when
/// `None`), sorted by key.
pub fn job_summaries(
    state: &State,
    role: Option<&str>,
    environment: Option<&str>,
) -> Vec<JobSummary> {
    let mut keys: Vec<&JobKey> = state
        .jobs
        .keys()
        .filter(|k| {
            role.is_none_or(|r| r == k.role) && environment.is_none_or(|e| e == k.environment)
        })
        .collect();
    keys.sort();
    keys.into_iter()
        .filter_map(|k| job_summary(state, k))
        .collect()
}

/// Every role with jobs, with its jobs and tasks counted.
pub fn role_summaries(state: &State) -> Vec<RoleSummary> {
    let mut roles: BTreeMap<&str, RoleSummary> = BTreeMap::new();
    for key in state.jobs.keys() {
        let r = roles.entry(&key.role).or_insert_with(|| RoleSummary {
            role: key.role.clone(),
            jobs: 0,
            active: 0,
            pending: 0,
            failed: 0,
        });
        r.jobs += 1;
        let Some(counts) = state.tasks.counts(key) else {
            continue;
        };
        for s in ScheduleStatus::ALL {
            let n = counts[s as usize];
            match s {
                ScheduleStatus::Pending | ScheduleStatus::Throttled => r.pending += n,
                // Terminal tasks kept in the job's history.
                ScheduleStatus::Failed | ScheduleStatus::Lost => r.failed += n,
                s if s.is_active() => r.active += n,
                _ => {}
            }
        }
    }
    roles.into_values().collect()
}

/// One page of a job's instances (`limit` capped at [`MAX_PAGE`]), each with its active task.
pub fn instance_page(state: &State, key: &JobKey, offset: u32, limit: u32) -> Option<InstancePage> {
    let entry = state.jobs.get(key)?;
    let limit = limit.clamp(1, MAX_PAGE);
    let instances = entry
        .instances
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .filter_map(|i| state.active_task(key, *i))
        .map(|t| task_view(state, t))
        .collect();
    Some(InstancePage {
        total: entry.instances.len() as u32,
        offset,
        limit,
        instances,
    })
}

/// How many next firings a cron view lists.
pub const NEXT_RUNS: usize = 5;

/// A scheduled cron job: schedule, policy, next firings and the runs still kept.
pub fn cron_view(state: &State, key: &JobKey, now_ms: i64) -> Option<CronView> {
    let entry = state.jobs.get(key)?;
    let cron = entry.cron.as_ref()?;
    let tz = state.cron_timezone;
    let mut runs: BTreeMap<i64, BTreeMap<String, u32>> = BTreeMap::new();
    for t in state
        .active_tasks(key)
        .into_iter()
        .chain(state.history(key))
    {
        if let Some(run) = t.cron_run_ms {
            *runs
                .entry(run)
                .or_default()
                .entry(t.status.name().to_owned())
                .or_insert(0) += 1;
        }
    }
    Some(CronView {
        job: key.to_string(),
        schedule: cron.schedule.as_str().to_owned(),
        collision_policy: entry.config.cron_collision_policy.name().to_owned(),
        timezone: tz.name().to_owned(),
        next_runs_ms: cron
            .schedule
            .upcoming(cron.state.cursor_ms.max(now_ms), tz, NEXT_RUNS),
        last_run_ms: cron.state.last_run_ms,
        pending_run_ms: cron.state.pending_run_ms,
        runs: runs
            .into_iter()
            .rev()
            .map(|(run_ms, task_counts)| CronRunView {
                run_ms,
                task_counts,
            })
            .collect(),
    })
}

/// Every agent, by hostname then id.
pub fn hosts(state: &State) -> Vec<HostView> {
    let mut out: Vec<HostView> = state
        .agents
        .iter()
        .map(|(id, a)| {
            let tasks = state.tasks_on_agent(id);
            let host_state = if a.lost {
                HostState::Lost
            } else if state.agents.in_maintenance(&a.view.hostname) {
                if tasks == 0 {
                    HostState::Drained
                } else {
                    HostState::Draining
                }
            } else if !a.connected {
                HostState::Disconnected
            } else {
                HostState::Active
            };
            HostView {
                agent_id: id.clone(),
                hostname: a.view.hostname.clone(),
                state: host_state,
                attributes: a.view.attributes.clone(),
                cpu: a.view.cpu,
                ram_mb: a.view.ram_mb,
                disk_mb: a.view.disk_mb,
                used_cpu: a.view.used_cpu,
                used_ram_mb: a.view.used_ram_mb,
                used_disk_mb: a.view.used_disk_mb,
                tasks: tasks as u32,
                last_seen_ms: a.last_seen_ms,
                isolation: a.isolation.clone(),
                endpoint: a.endpoint.clone(),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        a.hostname
            .cmp(&b.hostname)
            .then_with(|| a.agent_id.cmp(&b.agent_id))
    });
    out
}

/// Maintenance modes of `hosts`.
pub fn maintenance(state: &State, hosts: &[String]) -> Vec<MaintenanceView> {
    state
        .host_status(hosts)
        .into_iter()
        .map(|h| MaintenanceView {
            host: h.host,
            mode: h.mode,
        })
        .collect()
}

/// An update's summary for listings.
pub fn update_summary(
    state: &State,
    u: &aurora_model::update::JobUpdate,
) -> aurora_api::UpdateSummary {
    let (succeeded, working, failed) = u.counts();
    // Instances in flight whose task runs the target configuration: healthy, being watched.
    let healthy = u
        .progress
        .iter()
        .filter(|(_, p)| p.phase == aurora_model::update::InstancePhase::Working)
        .filter(|(i, _)| {
            state.active_task(&u.job, **i).is_some_and(|t| {
                t.status == ScheduleStatus::Running && t.config_digest.as_deref() == u.target(**i)
            })
        })
        .count();
    aurora_api::UpdateSummary {
        id: u.id.clone(),
        job: u.job.to_string(),
        kind: u.kind,
        user: u.user.clone(),
        status: u.status,
        created_ms: u.created_ms(),
        last_modified_ms: u.last_modified_ms(),
        progress: aurora_api::UpdateProgress {
            total: u.progress.len() as u32,
            succeeded: succeeded as u32,
            working: working as u32,
            healthy: healthy as u32,
            failed: failed as u32,
        },
    }
}

/// An update with its settings, history and per-instance progress.
pub fn update_details(
    state: &State,
    u: &aurora_model::update::JobUpdate,
) -> aurora_api::UpdateDetails {
    use aurora_model::update::UpdateKind;
    let instances = u
        .worklist
        .iter()
        .map(|i| {
            let p = u.progress.get(i).cloned().unwrap_or_default();
            let change = match (u.kind, u.initial.contains_key(i), *i < u.desired_instances) {
                (UpdateKind::Restart, ..) => "restart",
                (_, false, _) => "add",
                (_, true, false) => "remove",
                (_, true, true) => "update",
            };
            aurora_api::InstanceUpdateView {
                instance: *i,
                change: change.to_owned(),
                phase: p.phase,
                failures: p.failures,
                task_id: p.task_id,
            }
        })
        .collect();
    aurora_api::UpdateDetails {
        summary: update_summary(state, u),
        settings: u.settings.clone(),
        events: u.events.clone(),
        instance_events: u.instance_events.clone(),
        instances,
        metadata: u.metadata.clone(),
    }
}

/// Does an update's state match a `--status` filter (state names, or Aurora's groups)?
pub fn update_status_matches(filter: &str, s: aurora_model::update::UpdateStatus) -> bool {
    use aurora_model::update::UpdateStatus as U;
    filter.split(',').map(str::trim).any(|f| match f {
        "" | "all" => true,
        "active" => s.is_active(),
        "inactive" => s.is_terminal(),
        "paused" => s.is_paused(),
        "blocked" => s.is_awaiting_pulse(),
        "succeeded" => s == U::RolledForward,
        "failed" => matches!(s, U::RolledBack | U::Aborted | U::Error | U::Failed),
        name => name.parse::<U>().is_ok_and(|n| n == s),
    })
}
