//! What a job update does next with one instance, given what runs there now: kill the task
//! running the wrong configuration, create one with the right configuration, wait, or declare the
//! instance done (updated, or failed after too many failures). Aurora's `InstanceUpdater`.
//!
//! Pure: the scheduler's state observes the instance, calls [`step`], and carries the step out.
//! Which instances are worked on when (batches, direction, failure limits) is [`super::round`].

use aurora_model::task::ScheduleStatus;

/// The task an instance has now, as the updater sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed<'a> {
    pub task_id: &'a str,
    /// Digest of the configuration it runs.
    pub digest: &'a str,
    pub status: ScheduleStatus,
    /// When it became RUNNING, if it is.
    pub running_since_ms: Option<i64>,
}

/// What the instance needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Goal<'a> {
    /// The configuration it should run; `None`: it should not exist.
    pub target: Option<&'a str>,
    /// A task to replace even though it runs the target configuration (a rolling restart).
    pub replace: Option<&'a str>,
    /// How long a new task must stay RUNNING to count as updated.
    pub min_wait_in_running_ms: u64,
    /// Failures seen so far, and how many are tolerated.
    pub failures: u32,
    pub max_failures: u32,
}

/// The next step for one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Kill the task it runs (then create, once it has ended).
    Kill,
    /// Create a task with the target configuration.
    Create,
    /// Nothing to do until its task changes, or until the given time.
    Wait { until_ms: Option<i64> },
    /// Done: it runs the target (or is gone) and has stayed up long enough.
    Succeeded,
    /// It failed more often than tolerated.
    Failed,
}

/// Decides the next step for an instance with task `observed` (`None`: no active task).
pub fn step(goal: Goal<'_>, observed: Option<Observed<'_>>, now_ms: i64) -> Step {
    if goal.failures > goal.max_failures {
        return Step::Failed;
    }
    let Some(task) = observed else {
        return match goal.target {
            Some(_) => Step::Create,
            None => Step::Succeeded,
        };
    };
    let being_killed = matches!(
        task.status,
        ScheduleStatus::Killing | ScheduleStatus::Restarting | ScheduleStatus::Draining
    );
    let wanted = goal.target == Some(task.digest) && goal.replace != Some(task.task_id);
    if !wanted {
        return if being_killed {
            Step::Wait { until_ms: None }
        } else {
            Step::Kill
        };
    }
    match (task.status, task.running_since_ms) {
        (ScheduleStatus::Running, Some(since)) => {
            let done_at = since.saturating_add(goal.min_wait_in_running_ms as i64);
            if now_ms >= done_at {
                Step::Succeeded
            } else {
                Step::Wait {
                    until_ms: Some(done_at),
                }
            }
        }
        _ => Step::Wait { until_ms: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn goal(target: Option<&str>) -> Goal<'_> {
        Goal {
            target,
            replace: None,
            min_wait_in_running_ms: 1_000,
            failures: 0,
            max_failures: 1,
        }
    }

    fn task<'a>(id: &'a str, digest: &'a str, status: ScheduleStatus) -> Observed<'a> {
        Observed {
            task_id: id,
            digest,
            status,
            running_since_ms: (status == ScheduleStatus::Running).then_some(100),
        }
    }

    #[test]
    fn a_task_on_the_old_configuration_is_killed_then_replaced() {
        let g = goal(Some("new"));
        assert_eq!(
            step(g, Some(task("t1", "old", ScheduleStatus::Running)), 0),
            Step::Kill
        );
        assert_eq!(
            step(g, Some(task("t1", "old", ScheduleStatus::Killing)), 0),
            Step::Wait { until_ms: None }
        );
        assert_eq!(step(g, None, 0), Step::Create);
    }

    #[test]
    fn a_new_task_counts_once_it_ran_for_the_watch_time() {
        let g = goal(Some("new"));
        assert_eq!(
            step(g, Some(task("t2", "new", ScheduleStatus::Starting)), 500),
            Step::Wait { until_ms: None }
        );
        assert_eq!(
            step(g, Some(task("t2", "new", ScheduleStatus::Running)), 500),
            Step::Wait {
                until_ms: Some(1_100)
            }
        );
        assert_eq!(
            step(g, Some(task("t2", "new", ScheduleStatus::Running)), 1_100),
            Step::Succeeded
        );
    }

    #[test]
    fn too_many_failures_fail_the_instance() {
        let mut g = goal(Some("new"));
        g.failures = 1;
        assert_eq!(step(g, None, 0), Step::Create, "one failure is tolerated");
        g.failures = 2;
        assert_eq!(step(g, None, 0), Step::Failed);
    }

    #[test]
    fn a_removed_instance_is_killed_and_a_restart_replaces_the_same_configuration() {
        let g = goal(None);
        assert_eq!(
            step(g, Some(task("t1", "a", ScheduleStatus::Pending)), 0),
            Step::Kill
        );
        assert_eq!(step(g, None, 0), Step::Succeeded);
        let mut g = goal(Some("a"));
        g.replace = Some("t1");
        assert_eq!(
            step(g, Some(task("t1", "a", ScheduleStatus::Running)), 0),
            Step::Kill
        );
        assert_eq!(
            step(g, Some(task("t2", "a", ScheduleStatus::Running)), 5_000),
            Step::Succeeded
        );
    }
}
