//! Task states and the one function that decides which transitions are legal ([`transition`]),
//! plus the small records the scheduler keeps per task: [`TaskId`], [`InstanceKey`], [`TaskEvent`]
//! and [`ScheduledTask`].
//!
//! The states, their names and numeric values are Aurora's (`api.thrift` `ScheduleStatus`). The
//! transition table follows Aurora's `TaskStateMachine`.
//!
//! This module does not decide side effects (rescheduling, kills, failure counting: that is
//! `aurora-sched` and the scheduler's state), does not make ids random (the unique part of a task
//! id is a parameter) and holds no task configuration (that belongs to the job).

use crate::JobKey;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A task's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScheduleStatus {
    Init,
    Throttled,
    Pending,
    Assigned,
    Starting,
    Running,
    Finished,
    Preempting,
    Restarting,
    Draining,
    Failed,
    Killed,
    Killing,
    Lost,
    Partitioned,
}

use ScheduleStatus::*;

impl ScheduleStatus {
    /// Every state, for tables and exhaustive tests.
    pub const ALL: [ScheduleStatus; 15] = [
        Init,
        Throttled,
        Pending,
        Assigned,
        Starting,
        Running,
        Finished,
        Preempting,
        Restarting,
        Draining,
        Failed,
        Killed,
        Killing,
        Lost,
        Partitioned,
    ];

    /// Aurora's wire value.
    pub fn value(self) -> i32 {
        match self {
            Init => 11,
            Throttled => 16,
            Pending => 0,
            Assigned => 9,
            Starting => 1,
            Running => 2,
            Finished => 3,
            Preempting => 13,
            Restarting => 12,
            Draining => 17,
            Failed => 4,
            Killed => 5,
            Killing => 6,
            Lost => 7,
            Partitioned => 18,
        }
    }

    /// Aurora's name: `RUNNING`.
    pub fn name(self) -> &'static str {
        match self {
            Init => "INIT",
            Throttled => "THROTTLED",
            Pending => "PENDING",
            Assigned => "ASSIGNED",
            Starting => "STARTING",
            Running => "RUNNING",
            Finished => "FINISHED",
            Preempting => "PREEMPTING",
            Restarting => "RESTARTING",
            Draining => "DRAINING",
            Failed => "FAILED",
            Killed => "KILLED",
            Killing => "KILLING",
            Lost => "LOST",
            Partitioned => "PARTITIONED",
        }
    }

    /// FINISHED, FAILED, KILLED, LOST: the task will never run again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Finished | Failed | Killed | Lost)
    }

    /// Aurora's `ACTIVE_STATES`: the task holds its instance.
    pub fn is_active(self) -> bool {
        !self.is_terminal() && self != Init
    }

    /// The task has (or may have) processes on an agent: Aurora's `SLAVE_ASSIGNED_STATES`.
    pub fn is_on_agent(self) -> bool {
        matches!(
            self,
            Assigned
                | Starting
                | Running
                | Killing
                | Restarting
                | Draining
                | Preempting
                | Partitioned
        )
    }

    /// Aurora's `LIVE_STATES`: the task's processes run (or are being stopped) on an agent.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            Killing | Preempting | Restarting | Draining | Partitioned | Running
        )
    }

    /// The scheduler has told the agent to stop the task (a kill, or one to restart, drain or
    /// preempt it): the kill is awaited, and sent again until the task ends.
    pub fn is_being_killed(self) -> bool {
        matches!(self, Killing | Preempting | Restarting | Draining)
    }

    /// The state with Aurora's wire value `value`, if there is one.
    pub fn from_value(value: i32) -> Option<Self> {
        ScheduleStatus::ALL.into_iter().find(|s| s.value() == value)
    }
}

impl fmt::Display for ScheduleStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A state name that is not one of Aurora's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown task state '{0}'")]
pub struct UnknownStatus(pub String);

impl FromStr for ScheduleStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ScheduleStatus::ALL
            .into_iter()
            .find(|st| st.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// A transition that Aurora's state machine forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("illegal task transition {from} -> {to}")]
pub struct IllegalTransition {
    pub from: ScheduleStatus,
    pub to: ScheduleStatus,
}

/// What to do with a requested transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Record the new state.
    Apply,
    /// The task is already in that state (a repeated status update): change nothing.
    Noop,
}

/// The one function that decides which transitions are legal: every component asks it.
///
/// `Ok(Transition::Apply)` for a legal change, `Ok(Transition::Noop)` when `from == to` (a status
/// update delivered twice changes nothing, even for a terminal state), and `Err` otherwise.
/// The table is Aurora's `TaskStateMachine` (without its internal `DELETED` pseudo-state):
///
/// | from | to |
/// |---|---|
/// | INIT | PENDING, THROTTLED |
/// | THROTTLED | PENDING, KILLING |
/// | PENDING | ASSIGNED, KILLING |
/// | ASSIGNED | STARTING, RUNNING, FINISHED, FAILED, RESTARTING, DRAINING, KILLED, KILLING, LOST, PREEMPTING |
/// | STARTING | RUNNING, FINISHED, FAILED, RESTARTING, DRAINING, KILLING, KILLED, LOST, PREEMPTING, PARTITIONED |
/// | RUNNING | FINISHED, RESTARTING, DRAINING, FAILED, KILLING, KILLED, LOST, PREEMPTING, PARTITIONED |
/// | PARTITIONED | LOST, FAILED, FINISHED, RUNNING, ASSIGNED, STARTING, RESTARTING, DRAINING, PREEMPTING, KILLING |
/// | PREEMPTING, RESTARTING, DRAINING | FINISHED, FAILED, KILLING, KILLED, LOST, PARTITIONED |
/// | KILLING | FINISHED, FAILED, KILLED, LOST, PARTITIONED |
/// | FINISHED, FAILED, KILLED, LOST | (none) |
///
/// Note that PENDING and THROTTLED tasks never reach LOST: they have nothing on an agent to lose,
/// and are killed through KILLING (which the scheduler turns into a deletion).
pub fn transition(
    from: ScheduleStatus,
    to: ScheduleStatus,
) -> Result<Transition, IllegalTransition> {
    if from == to {
        return Ok(Transition::Noop);
    }
    let legal = match from {
        Init => matches!(to, Pending | Throttled),
        Throttled => matches!(to, Pending | Killing),
        Pending => matches!(to, Assigned | Killing),
        Assigned => matches!(
            to,
            Starting
                | Running
                | Finished
                | Failed
                | Restarting
                | Draining
                | Killed
                | Killing
                | Lost
                | Preempting
        ),
        Starting => matches!(
            to,
            Running
                | Finished
                | Failed
                | Restarting
                | Draining
                | Killing
                | Killed
                | Lost
                | Preempting
                | Partitioned
        ),
        Running => matches!(
            to,
            Finished
                | Restarting
                | Draining
                | Failed
                | Killing
                | Killed
                | Lost
                | Preempting
                | Partitioned
        ),
        Partitioned => matches!(
            to,
            Lost | Failed
                | Finished
                | Running
                | Assigned
                | Starting
                | Restarting
                | Draining
                | Preempting
                | Killing
        ),
        Preempting | Restarting | Draining => matches!(
            to,
            Finished | Failed | Killing | Killed | Lost | Partitioned
        ),
        Killing => matches!(to, Finished | Failed | Killed | Lost | Partitioned),
        Finished | Failed | Killed | Lost => false,
    };
    if legal {
        Ok(Transition::Apply)
    } else {
        Err(IllegalTransition { from, to })
    }
}

/// A task's id, Aurora's format: `<role>-<env>-<name>-<instance>-<unique>`.
///
/// The unique part (a UUID in Aurora) is given by the caller, so the model stays free of
/// randomness. Ids are opaque once made: role, environment and name may themselves contain `-`,
/// so an id is never parsed back into its parts (the task record carries its job and instance).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(String);

impl TaskId {
    /// The id of a new task of `job`'s instance `instance`, with `unique` as its unique part.
    pub fn new(job: &JobKey, instance: u32, unique: &str) -> Self {
        TaskId(format!(
            "{}-{}-{}-{}-{}",
            job.role, job.environment, job.name, instance, unique
        ))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Wraps an id received from elsewhere (an agent, the API, the store): ids are opaque.
impl From<String> for TaskId {
    fn from(id: String) -> Self {
        TaskId(id)
    }
}

impl From<&str> for TaskId {
    fn from(id: &str) -> Self {
        TaskId(id.to_owned())
    }
}

impl From<TaskId> for String {
    fn from(id: TaskId) -> Self {
        id.0
    }
}

impl AsRef<str> for TaskId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for TaskId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Aurora's task id as a plain string: `<role>-<env>-<name>-<instance>-<unique>`. The same text as
/// [`TaskId::new`], for code that keeps ids as `String` (as [`ScheduledTask::task_id`] does).
pub fn task_id(job: &JobKey, instance: u32, unique: &str) -> String {
    TaskId::new(job, instance, unique).into_string()
}

/// One instance of a job: `role/env/name/instance`. At most one active task holds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InstanceKey {
    pub job: JobKey,
    pub instance: u32,
}

impl InstanceKey {
    pub fn new(job: JobKey, instance: u32) -> Self {
        InstanceKey { job, instance }
    }
}

impl fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.job, self.instance)
    }
}

/// One recorded transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskEvent {
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    pub status: ScheduleStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A task as the scheduler stores it. Small on purpose: the scheduler keeps every task in memory,
/// so the configuration is not copied here; the task runs its job's configuration, found by
/// `job`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledTask {
    /// Aurora's task id (see [`TaskId`] for the format).
    pub task_id: String,
    pub job: JobKey,
    pub instance: u32,
    pub status: ScheduleStatus,
    /// The agent the task was placed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Named ports assigned at placement.
    #[serde(default)]
    pub ports: Vec<(String, u16)>,
    /// Failures of this instance so far (carried to replacements).
    pub failure_count: u32,
    /// The task this one replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ancestor_id: Option<String>,
    /// How long this task was held THROTTLED before it became PENDING (flapping backoff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penalty_ms: Option<u64>,
    /// For a cron job's task: the run it belongs to (the scheduled instant of its firing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron_run_ms: Option<i64>,
    /// Digest of the configuration this task runs ([`crate::Job::instance_digest`]); tasks stored
    /// before it existed run their job's configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_digest: Option<String>,
    /// Every transition, oldest first.
    pub events: Vec<TaskEvent>,
}

impl ScheduledTask {
    /// The instance this task holds (or held).
    pub fn instance_key(&self) -> InstanceKey {
        InstanceKey::new(self.job.clone(), self.instance)
    }

    /// When the task entered its current state.
    pub fn since_ms(&self) -> i64 {
        self.events.last().map_or(0, |e| e.timestamp_ms)
    }

    /// When the task last became RUNNING, if it did.
    pub fn running_since_ms(&self) -> Option<i64> {
        self.events
            .iter()
            .rev()
            .find(|e| e.status == ScheduleStatus::Running)
            .map(|e| e.timestamp_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The legal pairs, written out independently of `transition`'s match.
    const LEGAL: &[(ScheduleStatus, &[ScheduleStatus])] = &[
        (Init, &[Pending, Throttled]),
        (Throttled, &[Pending, Killing]),
        (Pending, &[Assigned, Killing]),
        (
            Assigned,
            &[
                Starting, Running, Finished, Failed, Restarting, Draining, Killed, Killing, Lost,
                Preempting,
            ],
        ),
        (
            Starting,
            &[
                Running,
                Finished,
                Failed,
                Restarting,
                Draining,
                Killing,
                Killed,
                Lost,
                Preempting,
                Partitioned,
            ],
        ),
        (
            Running,
            &[
                Finished,
                Restarting,
                Draining,
                Failed,
                Killing,
                Killed,
                Lost,
                Preempting,
                Partitioned,
            ],
        ),
        (
            Partitioned,
            &[
                Lost, Failed, Finished, Running, Assigned, Starting, Restarting, Draining,
                Preempting, Killing,
            ],
        ),
        (
            Preempting,
            &[Finished, Failed, Killing, Killed, Lost, Partitioned],
        ),
        (
            Restarting,
            &[Finished, Failed, Killing, Killed, Lost, Partitioned],
        ),
        (
            Draining,
            &[Finished, Failed, Killing, Killed, Lost, Partitioned],
        ),
        (Killing, &[Finished, Failed, Killed, Lost, Partitioned]),
        (Finished, &[]),
        (Failed, &[]),
        (Killed, &[]),
        (Lost, &[]),
    ];

    #[test]
    fn every_pair_matches_the_table() {
        for from in ScheduleStatus::ALL {
            let allowed = LEGAL
                .iter()
                .find(|(f, _)| *f == from)
                .map(|(_, t)| *t)
                .expect("every state listed");
            for to in ScheduleStatus::ALL {
                let got = transition(from, to);
                if from == to {
                    assert_eq!(got, Ok(Transition::Noop));
                } else if allowed.contains(&to) {
                    assert_eq!(got, Ok(Transition::Apply), "{from} -> {to}");
                } else {
                    assert_eq!(got, Err(IllegalTransition { from, to }), "{from} -> {to}");
                }
            }
        }
    }

    #[test]
    fn terminal_states_go_nowhere_and_names_round_trip() {
        for s in ScheduleStatus::ALL {
            assert_eq!(s.name().parse::<ScheduleStatus>(), Ok(s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::Value::String(s.name().into())
            );
            if s.is_terminal() {
                assert!(
                    ScheduleStatus::ALL
                        .iter()
                        .all(|t| *t == s || transition(s, *t).is_err())
                );
                assert!(!s.is_active());
            }
        }
        assert_eq!(Pending.value(), 0);
        assert_eq!(Running.value(), 2);
        assert!("nope".parse::<ScheduleStatus>().is_err());
    }

    #[test]
    fn task_ids_follow_aurora() {
        let k = JobKey::new("www-data", "prod", "hello").unwrap();
        assert_eq!(task_id(&k, 3, "abc"), "www-data-prod-hello-3-abc");
        let id = TaskId::new(&k, 3, "abc");
        assert_eq!(id.as_str(), "www-data-prod-hello-3-abc");
        assert_eq!(id.to_string(), task_id(&k, 3, "abc"));
        assert_eq!(
            serde_json::to_value(&id).unwrap(),
            serde_json::json!("www-data-prod-hello-3-abc")
        );
        let back: TaskId = serde_json::from_str("\"www-data-prod-hello-3-abc\"").unwrap();
        assert_eq!(back, id);
        let ik = InstanceKey::new(k, 3);
        assert_eq!(ik.to_string(), "www-data/prod/hello/3");
    }

    #[test]
    fn wire_values_are_aurora_s_and_unique() {
        let expected = [
            (Pending, 0),
            (Starting, 1),
            (Running, 2),
            (Finished, 3),
            (Failed, 4),
            (Killed, 5),
            (Killing, 6),
            (Lost, 7),
            (Assigned, 9),
            (Init, 11),
            (Restarting, 12),
            (Preempting, 13),
            (Throttled, 16),
            (Draining, 17),
            (Partitioned, 18),
        ];
        assert_eq!(expected.len(), ScheduleStatus::ALL.len());
        for (s, v) in expected {
            assert_eq!(s.value(), v, "{s}");
            assert_eq!(ScheduleStatus::from_value(v), Some(s));
        }
        assert_eq!(ScheduleStatus::from_value(8), None);
        assert_eq!(ScheduleStatus::from_value(-1), None);
    }

    #[test]
    fn state_sets_match_aurora() {
        let active: Vec<_> = ScheduleStatus::ALL
            .into_iter()
            .filter(|s| s.is_active())
            .collect();
        assert_eq!(
            active,
            vec![
                Throttled,
                Pending,
                Assigned,
                Starting,
                Running,
                Preempting,
                Restarting,
                Draining,
                Killing,
                Partitioned
            ]
        );
        let terminal: Vec<_> = ScheduleStatus::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(terminal, vec![Finished, Failed, Killed, Lost]);
        for s in ScheduleStatus::ALL {
            // LIVE ⊂ SLAVE_ASSIGNED ⊂ ACTIVE.
            assert!(!s.is_live() || s.is_on_agent(), "{s}");
            assert!(!s.is_on_agent() || s.is_active(), "{s}");
        }
    }

    /// Every state can be reached from INIT through legal transitions (the table has no dead rows).
    #[test]
    fn every_state_is_reachable_from_init() {
        let mut seen = vec![Init];
        let mut next = 0;
        while let Some(&from) = seen.get(next) {
            next += 1;
            for to in ScheduleStatus::ALL {
                if transition(from, to) == Ok(Transition::Apply) && !seen.contains(&to) {
                    seen.push(to);
                }
            }
        }
        seen.sort();
        assert_eq!(seen, ScheduleStatus::ALL.to_vec());
    }

    /// Random walks that try arbitrary targets and apply only what `transition` allows: once a
    /// walk reaches a terminal state it stays there. (A seeded generator rather than `proptest`,
    /// which this crate does not depend on; every seed is reproducible.)
    #[test]
    fn random_walks_never_leave_a_terminal_state() {
        let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            // xorshift64*
            rng ^= rng >> 12;
            rng ^= rng << 25;
            rng ^= rng >> 27;
            rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let mut reached_terminal = 0;
        for _walk in 0..20_000 {
            let mut state = Init;
            let mut terminal_at: Option<ScheduleStatus> = None;
            for _step in 0..40 {
                let to = ScheduleStatus::ALL[(next() % ScheduleStatus::ALL.len() as u64) as usize];
                match transition(state, to) {
                    Ok(Transition::Apply) => {
                        assert!(terminal_at.is_none(), "left terminal {state} for {to}");
                        state = to;
                    }
                    Ok(Transition::Noop) => assert_eq!(state, to),
                    Err(e) => assert_eq!(e, IllegalTransition { from: state, to }),
                }
                if state.is_terminal() {
                    assert_eq!(*terminal_at.get_or_insert(state), state);
                }
            }
            reached_terminal += usize::from(terminal_at.is_some());
        }
        assert!(reached_terminal > 1_000, "walks reach terminal states");
    }
}
