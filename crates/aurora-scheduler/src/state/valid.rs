//! What a submitted job must be, whatever the way it comes in: `job create`, `cron schedule` or
//! `update start`. [`ValidJob::check`] holds every check that needs nothing but the job itself
//! (its key, instance count, constraints, cron schedule, and what each way allows), in one place;
//! checks against the state (does the job exist, is it updating) stay with the operation.

use super::Refusal;
use aurora_model::config::CronCollisionPolicy;
use aurora_model::{Job, JobKey};
use aurora_sched::cron::CronSchedule;
use aurora_sched::placement;

/// Most instances a job may have.
pub const MAX_INSTANCES: i64 = 4000;

/// How a job is submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submission {
    /// `aurora job create`: not a cron job.
    Create,
    /// `aurora cron schedule`: a cron job, run to completion.
    CronSchedule,
    /// `aurora update start`: a service, not a cron job.
    Update,
}

/// A job that passed every check its submission needs.
#[derive(Debug, Clone)]
pub struct ValidJob {
    pub key: JobKey,
    pub config: Job,
    /// Its cron schedule, parsed (cron submissions only).
    pub schedule: Option<CronSchedule>,
}

impl ValidJob {
    /// Checks `config` as Aurora checks a job submitted this way.
    pub fn check(config: Job, how: Submission) -> Result<ValidJob, Refusal> {
        let key = config
            .path()
            .map_err(|e| Refusal::Invalid(e.to_string()))?
            .key;
        let schedule = match how {
            Submission::Create if config.is_cron() => {
                return Err(invalid(
                    "Cron jobs may only be scheduled with \"aurora cron schedule\" command",
                ));
            }
            Submission::Update if config.is_cron() => {
                return Err(invalid(
                    "Cron jobs may only be updated with \"aurora cron schedule\" command",
                ));
            }
            Submission::Update if !config.service => {
                return Err(invalid("Updates are not supported for non-service tasks."));
            }
            Submission::CronSchedule => Some(check_cron(&config)?),
            Submission::Create | Submission::Update => None,
        };
        if config.instances < 1 || config.instances > MAX_INSTANCES {
            return Err(Refusal::Invalid(format!(
                "instances must be between 1 and {MAX_INSTANCES}, got {}",
                config.instances
            )));
        }
        job_constraints(&config).map_err(Refusal::Invalid)?;
        process_names(&config)?;
        Ok(ValidJob {
            key,
            config,
            schedule,
        })
    }
}

/// A cron job's own rules, and its schedule parsed.
fn check_cron(config: &Job) -> Result<CronSchedule, Refusal> {
    let Some(text) = config
        .cron_schedule
        .as_deref()
        .filter(|c| !c.trim().is_empty())
    else {
        return Err(invalid(
            "Non-cron jobs may only be created with \"aurora job create\" command",
        ));
    };
    if config.service {
        return Err(invalid(
            "A service may not be run on a cron schedule; cron jobs run to completion",
        ));
    }
    if config.cron_collision_policy == CronCollisionPolicy::RunOverlap {
        return Err(invalid(
            "The RUN_OVERLAP collision policy is no longer supported; use KILL_EXISTING or CANCEL_NEW",
        ));
    }
    CronSchedule::parse(text).map_err(|e| Refusal::Invalid(e.to_string()))
}

/// Every process name becomes a folder of the task's sandbox on its agent: one plain path
/// component (`aurora_model::process::check_name`), refused here with the field it is in.
fn process_names(config: &Job) -> Result<(), Refusal> {
    for (i, p) in config.task.processes.iter().enumerate() {
        aurora_model::process::check_name(&p.name)
            .map_err(|e| Refusal::Invalid(format!("task.processes[{i}].name: {e}")))?;
    }
    Ok(())
}

fn invalid(message: &str) -> Refusal {
    Refusal::Invalid(message.to_owned())
}

/// A job's constraints, parsed (and checked: a bad one refuses the job with the reason).
pub fn job_constraints(config: &Job) -> Result<Vec<placement::Constraint>, String> {
    match &config.constraints {
        Some(map) => placement::constraints::parse(&config.role, map),
        None => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_named_like_a_path_is_refused_with_its_field() {
        let mut job = crate::state::tests::job(false, 1, 1);
        assert!(ValidJob::check(job.clone(), Submission::Create).is_ok());
        let mut second = job.task.processes[0].clone();
        second.name = "/tmp/x".into();
        job.task.processes.push(second);
        let Err(Refusal::Invalid(why)) = ValidJob::check(job.clone(), Submission::Create) else {
            panic!("a process named /tmp/x was accepted");
        };
        assert_eq!(
            why,
            "task.processes[1].name: process name '/tmp/x' may not contain '/'"
        );
        job.task.processes[1].name = "../x".into();
        assert!(matches!(
            ValidJob::check(job, Submission::Create),
            Err(Refusal::Invalid(w)) if w.starts_with("task.processes[1].name: ")
        ));
    }
}
