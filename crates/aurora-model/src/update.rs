//! Job updates: their states and the one function that decides legal transitions
//! ([`update_transition`]), the per-instance actions of their history, the settings an
//! `UpdateConfig` turns into ([`UpdateSettings`]), what an update would change ([`UpdateDiff`]), and
//! the stored record of one update ([`JobUpdate`]).
//!
//! Names and numeric values are Aurora's (`api.thrift` `JobUpdateStatus`, `JobUpdateAction`); the
//! transition table is Aurora's `JobUpdateStateMachine`. What to do with each instance (kill,
//! create, wait, declare it updated) is decided in `aurora-sched::update`; driving it against
//! tasks is the scheduler's state. No IO and no clock here.

use crate::JobKey;
use crate::config::{UpdateConfig, UpdateStrategy};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// The state of a job update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UpdateStatus {
    RollingForward,
    RollingBack,
    RollForwardPaused,
    RollBackPaused,
    RolledForward,
    RolledBack,
    Aborted,
    Error,
    Failed,
    RollForwardAwaitingPulse,
    RollBackAwaitingPulse,
}

use UpdateStatus::*;

impl UpdateStatus {
    /// Every state, for tables and exhaustive tests.
    pub const ALL: [UpdateStatus; 11] = [
        RollingForward,
        RollingBack,
        RollForwardPaused,
        RollBackPaused,
        RolledForward,
        RolledBack,
        Aborted,
        Error,
        Failed,
        RollForwardAwaitingPulse,
        RollBackAwaitingPulse,
    ];

    /// Aurora's wire value.
    pub fn value(self) -> i32 {
        match self {
            RollingForward => 0,
            RollingBack => 1,
            RollForwardPaused => 2,
            RollBackPaused => 3,
            RolledForward => 4,
            RolledBack => 5,
            Aborted => 6,
            Error => 7,
            Failed => 8,
            RollForwardAwaitingPulse => 9,
            RollBackAwaitingPulse => 10,
        }
    }

    /// Aurora's name (`ROLLING_FORWARD`...).
    pub fn name(self) -> &'static str {
        match self {
            RollingForward => "ROLLING_FORWARD",
            RollingBack => "ROLLING_BACK",
            RollForwardPaused => "ROLL_FORWARD_PAUSED",
            RollBackPaused => "ROLL_BACK_PAUSED",
            RolledForward => "ROLLED_FORWARD",
            RolledBack => "ROLLED_BACK",
            Aborted => "ABORTED",
            Error => "ERROR",
            Failed => "FAILED",
            RollForwardAwaitingPulse => "ROLL_FORWARD_AWAITING_PULSE",
            RollBackAwaitingPulse => "ROLL_BACK_AWAITING_PULSE",
        }
    }

    /// Still in progress (possibly paused or blocked): at most one per job.
    pub fn is_active(self) -> bool {
        !self.is_terminal()
    }

    /// Over for good.
    pub fn is_terminal(self) -> bool {
        matches!(self, RolledForward | RolledBack | Aborted | Error | Failed)
    }

    /// Moving instances now (not paused, not waiting for a pulse).
    pub fn is_progressing(self) -> bool {
        matches!(self, RollingForward | RollingBack)
    }

    /// Paused by a user.
    pub fn is_paused(self) -> bool {
        matches!(self, RollForwardPaused | RollBackPaused)
    }

    /// Waiting for a coordinator's pulse.
    pub fn is_awaiting_pulse(self) -> bool {
        matches!(self, RollForwardAwaitingPulse | RollBackAwaitingPulse)
    }

    /// Heading back to the initial configuration.
    pub fn is_rolling_back(self) -> bool {
        matches!(self, RollingBack | RollBackPaused | RollBackAwaitingPulse)
    }

    /// The paused state matching this one's direction.
    pub fn paused(self) -> UpdateStatus {
        if self.is_rolling_back() {
            RollBackPaused
        } else {
            RollForwardPaused
        }
    }

    /// The moving state matching this one's direction.
    pub fn progressing(self) -> UpdateStatus {
        if self.is_rolling_back() {
            RollingBack
        } else {
            RollingForward
        }
    }

    /// The waiting-for-a-pulse state matching this one's direction.
    pub fn awaiting_pulse(self) -> UpdateStatus {
        if self.is_rolling_back() {
            RollBackAwaitingPulse
        } else {
            RollForwardAwaitingPulse
        }
    }
}

impl fmt::Display for UpdateStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown update state name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown update status {0:?}")]
pub struct UnknownUpdateStatus(pub String);

impl FromStr for UpdateStatus {
    type Err = UnknownUpdateStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.to_ascii_uppercase();
        UpdateStatus::ALL
            .into_iter()
            .find(|st| st.name() == upper)
            .ok_or_else(|| UnknownUpdateStatus(s.to_owned()))
    }
}

/// A move the update state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an update cannot go from {from} to {to}")]
pub struct IllegalUpdateTransition {
    pub from: UpdateStatus,
    pub to: UpdateStatus,
}

/// Decides whether an update may move from `from` to `to` (Aurora's `JobUpdateStateMachine`).
pub fn update_transition(
    from: UpdateStatus,
    to: UpdateStatus,
) -> Result<(), IllegalUpdateTransition> {
    let legal = match from {
        RollingForward => matches!(
            to,
            RollingBack
                | RollForwardPaused
                | RollForwardAwaitingPulse
                | RolledForward
                | Aborted
                | Failed
                | Error
        ),
        RollingBack => matches!(
            to,
            RollBackPaused | RollBackAwaitingPulse | RolledBack | Aborted | Error | Failed
        ),
        RollForwardPaused => matches!(
            to,
            RollingBack | RollingForward | RollForwardAwaitingPulse | Aborted | Error
        ),
        RollBackPaused => matches!(to, RollingBack | RollBackAwaitingPulse | Aborted | Error),
        RollForwardAwaitingPulse => matches!(
            to,
            RollingBack | RollingForward | RollForwardPaused | Aborted | Error
        ),
        RollBackAwaitingPulse => matches!(to, RollingBack | RollBackPaused | Aborted | Error),
        RolledForward | RolledBack | Aborted | Error | Failed => false,
    };
    if legal {
        Ok(())
    } else {
        Err(IllegalUpdateTransition { from, to })
    }
}

/// What happened to one instance during an update (Aurora's `JobUpdateAction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InstanceAction {
    InstanceUpdated,
    InstanceRolledBack,
    InstanceUpdating,
    InstanceRollingBack,
    InstanceUpdateFailed,
    InstanceRollbackFailed,
}

impl InstanceAction {
    pub fn name(self) -> &'static str {
        match self {
            InstanceAction::InstanceUpdated => "INSTANCE_UPDATED",
            InstanceAction::InstanceRolledBack => "INSTANCE_ROLLED_BACK",
            InstanceAction::InstanceUpdating => "INSTANCE_UPDATING",
            InstanceAction::InstanceRollingBack => "INSTANCE_ROLLING_BACK",
            InstanceAction::InstanceUpdateFailed => "INSTANCE_UPDATE_FAILED",
            InstanceAction::InstanceRollbackFailed => "INSTANCE_ROLLBACK_FAILED",
        }
    }
}

impl fmt::Display for InstanceAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How instances are grouped (`update_strategy`, or `batch_size` and `wait_for_batch_completion`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Strategy {
    /// Keep up to `size` instances in flight, starting the next as soon as one is done.
    Queue { size: u32 },
    /// Fixed groups (sizes in order, the last repeating); a group starts once the previous one is
    /// done.
    Batch {
        sizes: Vec<u32>,
        autopause_after_batch: bool,
    },
}

impl Strategy {
    /// A short description for people (`Queue, batch size 2`).
    pub fn describe(&self) -> String {
        match self {
            Strategy::Queue { size } => format!("Queue, batch size {size}"),
            Strategy::Batch {
                sizes,
                autopause_after_batch,
            } => {
                let s: Vec<String> = sizes.iter().map(u32::to_string).collect();
                let kind = if sizes.len() > 1 {
                    "Variable batch"
                } else {
                    "Batch"
                };
                let pause = if *autopause_after_batch {
                    ", pausing after each batch"
                } else {
                    ""
                };
                format!("{kind}, batch size {}{pause}", s.join(","))
            }
        }
    }
}

/// An update's settings (Aurora's `JobUpdateSettings`), checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateSettings {
    pub strategy: Strategy,
    /// Failures tolerated per instance before it is declared failed.
    pub max_per_instance_failures: u32,
    /// Failed instances tolerated before the update fails.
    pub max_failed_instances: u32,
    /// How long a new instance must stay RUNNING to count as updated (`watch_secs`).
    pub min_wait_in_running_ms: u64,
    pub rollback_on_failure: bool,
    /// A coordinated update blocks unless pulsed at least this often.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_if_no_pulses_after_ms: Option<u64>,
    /// Only these instances are touched (`KEY/0-1` canaries); all when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_only: Option<BTreeSet<u32>>,
}

/// Why an `UpdateConfig` cannot drive an update; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidUpdateConfig(pub String);

fn positive(field: &str, v: i64) -> Result<u32, InvalidUpdateConfig> {
    if v <= 0 {
        return Err(InvalidUpdateConfig(format!(
            "UpdateConfig.{field} must be positive, got {v}"
        )));
    }
    u32::try_from(v).map_err(|_| InvalidUpdateConfig(format!("UpdateConfig.{field} is too large")))
}

fn non_negative(field: &str, v: i64) -> Result<u32, InvalidUpdateConfig> {
    if v < 0 {
        return Err(InvalidUpdateConfig(format!(
            "UpdateConfig.{field} must not be negative, got {v}"
        )));
    }
    u32::try_from(v).map_err(|_| InvalidUpdateConfig(format!("UpdateConfig.{field} is too large")))
}

impl UpdateSettings {
    /// The settings an `UpdateConfig` means, as Aurora's client derives them, or why it cannot.
    pub fn from_config(c: &UpdateConfig) -> Result<Self, InvalidUpdateConfig> {
        let batch = positive("batch_size", c.batch_size)?;
        let strategy = match &c.update_strategy {
            Some(_) if c.wait_for_batch_completion || c.batch_size > 1 => {
                return Err(InvalidUpdateConfig(
                    "Ambiguous update configuration: update_strategy cannot be combined with \
                     wait_for_batch_completion or a batch_size over 1"
                        .into(),
                ));
            }
            Some(UpdateStrategy::Queue(q)) => Strategy::Queue {
                size: positive("update_strategy.batch_size", q.batch_size)?,
            },
            Some(UpdateStrategy::Batch(b)) => Strategy::Batch {
                sizes: vec![positive("update_strategy.batch_size", b.batch_size)?],
                autopause_after_batch: b.autopause_after_batch,
            },
            Some(UpdateStrategy::VariableBatch(v)) => {
                if v.batch_sizes.is_empty() {
                    return Err(InvalidUpdateConfig(
                        "UpdateConfig.update_strategy.batch_sizes must not be empty".into(),
                    ));
                }
                Strategy::Batch {
                    sizes: v
                        .batch_sizes
                        .iter()
                        .map(|s| positive("update_strategy.batch_sizes", *s))
                        .collect::<Result<_, _>>()?,
                    autopause_after_batch: v.autopause_after_batch,
                }
            }
            None if c.wait_for_batch_completion => Strategy::Batch {
                sizes: vec![batch],
                autopause_after_batch: false,
            },
            None => Strategy::Queue { size: batch },
        };
        let watch = non_negative("watch_secs", c.watch_secs)?;
        let pulse = match c.pulse_interval_secs {
            None => None,
            Some(p) => Some(u64::from(positive("pulse_interval_secs", p)?) * 1000),
        };
        Ok(UpdateSettings {
            strategy,
            max_per_instance_failures: non_negative(
                "max_per_shard_failures",
                c.max_per_shard_failures,
            )?,
            max_failed_instances: non_negative("max_total_failures", c.max_total_failures)?,
            min_wait_in_running_ms: u64::from(watch) * 1000,
            rollback_on_failure: c.rollback_on_failure,
            block_if_no_pulses_after_ms: pulse,
            update_only: None,
        })
    }

    /// The size of the `n`th group (0-based) a batch strategy starts.
    pub fn group_size(&self, n: usize) -> u32 {
        match &self.strategy {
            Strategy::Queue { size } => *size,
            Strategy::Batch { sizes, .. } => *sizes.get(n).or(sizes.last()).unwrap_or(&1),
        }
    }
}

/// What an update would do to each instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateDiff {
    /// Instances created (ids the job does not have yet).
    pub add: Vec<u32>,
    /// Instances whose configuration changes.
    pub update: Vec<u32>,
    /// Instances killed (ids at or past the new count).
    pub remove: Vec<u32>,
    /// Instances left as they are.
    pub unchanged: Vec<u32>,
}

impl UpdateDiff {
    /// Compares each instance's current configuration (its digest) with the desired one for
    /// `count` instances, within `only` when given. Instances outside `only` are unchanged.
    pub fn compute(
        current: &BTreeMap<u32, String>,
        desired: &str,
        count: u32,
        only: Option<&BTreeSet<u32>>,
    ) -> Self {
        let mut d = UpdateDiff::default();
        let in_scope = |i: u32| only.is_none_or(|o| o.contains(&i));
        let ids: BTreeSet<u32> = current.keys().copied().chain(0..count).collect();
        for i in ids {
            let now = current.get(&i);
            let want = (i < count).then_some(desired);
            let bucket = match (now.map(String::as_str), want) {
                _ if !in_scope(i) => &mut d.unchanged,
                (None, Some(_)) => &mut d.add,
                (Some(_), None) => &mut d.remove,
                (Some(a), Some(b)) if a != b => &mut d.update,
                _ => &mut d.unchanged,
            };
            bucket.push(i);
        }
        d
    }

    /// Nothing would change.
    pub fn is_noop(&self) -> bool {
        self.add.is_empty() && self.update.is_empty() && self.remove.is_empty()
    }

    /// The instances to work on, in Aurora's order: new ones first, then changed, then removed.
    pub fn worklist(&self) -> Vec<u32> {
        self.add
            .iter()
            .chain(&self.update)
            .chain(&self.remove)
            .copied()
            .collect()
    }
}

/// A change of an update's state, with who caused it and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateEvent {
    pub status: UpdateStatus,
    pub timestamp_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Something that happened to one instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceEvent {
    pub instance: u32,
    pub timestamp_ms: i64,
    pub action: InstanceAction,
}

/// Where one instance stands in the current direction of an update.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstancePhase {
    /// Not started yet.
    #[default]
    Waiting,
    /// Being replaced and watched.
    Working,
    /// Done: running the target configuration (or removed) for long enough.
    Succeeded,
    /// Failed more often than tolerated.
    Failed,
}

/// One instance's progress, for the current direction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceProgress {
    pub phase: InstancePhase,
    /// Times a task of the target configuration ended on its own while being watched.
    pub failures: u32,
    /// The task this update started for the instance, once it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// For a restart: the task to replace although it runs the target configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace: Option<String>,
}

/// What an update does: bring instances to a new configuration, or restart them as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateKind {
    #[default]
    Update,
    /// `aurora job restart`: every instance in scope is replaced with its own configuration.
    Restart,
}

/// One job update, as stored: what it changes, its settings, its state and its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobUpdate {
    /// Unique id (a UUID).
    pub id: String,
    pub job: JobKey,
    pub kind: UpdateKind,
    /// Who started it.
    pub user: String,
    pub settings: UpdateSettings,
    /// Digest of the configuration instances are moved to.
    pub desired_config: String,
    /// Instance count after the update.
    pub desired_instances: u32,
    /// Each instance's configuration digest before the update (absent: the instance is new).
    pub initial: BTreeMap<u32, String>,
    /// The job's instance count before the update.
    pub initial_instances: u32,
    /// Digest of the job's configuration before the update (what a rollback makes it again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_config: Option<String>,
    /// The instances to work on, in order (see [`UpdateDiff::worklist`]).
    pub worklist: Vec<u32>,
    pub status: UpdateStatus,
    /// Per instance of the worklist, for the current direction.
    pub progress: BTreeMap<u32, InstanceProgress>,
    /// Groups started so far in the current direction (batch strategies).
    #[serde(default)]
    pub groups_started: u32,
    /// With `autopause_after_batch`: the `groups_started` at which the update last paused itself,
    /// so that once resumed it starts the next batch instead of pausing again.
    #[serde(default)]
    pub autopaused_at_group: u32,
    /// The last pulse from a coordinator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_pulse_ms: Option<i64>,
    /// Free-form metadata from the client (`org.apache.aurora.client.update_id`...).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub events: Vec<UpdateEvent>,
    pub instance_events: Vec<InstanceEvent>,
}

impl JobUpdate {
    /// When the update started.
    pub fn created_ms(&self) -> i64 {
        self.events.first().map_or(0, |e| e.timestamp_ms)
    }

    /// The time of its last state change or instance event.
    pub fn last_modified_ms(&self) -> i64 {
        let a = self.events.last().map_or(0, |e| e.timestamp_ms);
        let b = self.instance_events.last().map_or(0, |e| e.timestamp_ms);
        a.max(b)
    }

    /// The configuration digest instance `i` should end with in the current direction; `None`:
    /// the instance should not exist.
    pub fn target(&self, i: u32) -> Option<&str> {
        if self.status.is_rolling_back() {
            self.initial.get(&i).map(String::as_str)
        } else if i < self.desired_instances {
            Some(match self.kind {
                UpdateKind::Update => self.desired_config.as_str(),
                UpdateKind::Restart => self.initial.get(&i).map_or(&self.desired_config, |d| d),
            })
        } else {
            None
        }
    }

    /// Moves to `to` (checked), recording the event.
    pub fn set_status(
        &mut self,
        to: UpdateStatus,
        now_ms: i64,
        user: Option<String>,
        message: Option<String>,
    ) -> Result<(), IllegalUpdateTransition> {
        update_transition(self.status, to)?;
        self.status = to;
        self.events.push(UpdateEvent {
            status: to,
            timestamp_ms: now_ms,
            user,
            message,
        });
        Ok(())
    }

    /// Counts instances per phase: (succeeded, working, failed) in the current direction.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for p in self.progress.values() {
            match p.phase {
                InstancePhase::Succeeded => c.0 += 1,
                InstancePhase::Working => c.1 += 1,
                InstancePhase::Failed => c.2 += 1,
                InstancePhase::Waiting => {}
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_follow_aurora_and_terminal_states_are_final() {
        assert!(update_transition(RollingForward, RollingBack).is_ok());
        assert!(update_transition(RollingForward, RolledForward).is_ok());
        assert!(update_transition(RollForwardPaused, RollingForward).is_ok());
        assert!(update_transition(RollBackPaused, RollingForward).is_err());
        assert!(update_transition(RollingBack, RolledForward).is_err());
        assert!(update_transition(RollForwardAwaitingPulse, RolledForward).is_err());
        for terminal in UpdateStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            for to in UpdateStatus::ALL {
                assert!(
                    update_transition(terminal, to).is_err(),
                    "{terminal} -> {to}"
                );
            }
        }
        for s in UpdateStatus::ALL {
            assert_eq!(s.name().parse::<UpdateStatus>().unwrap(), s);
            assert_eq!(s.paused().is_rolling_back(), s.is_rolling_back());
        }
        assert_eq!(RollingBack.value(), 1);
        assert_eq!(RollBackAwaitingPulse.value(), 10);
    }

    fn config() -> UpdateConfig {
        UpdateConfig {
            batch_size: 2,
            watch_secs: 10,
            max_per_shard_failures: 1,
            max_total_failures: 0,
            rollback_on_failure: true,
            wait_for_batch_completion: false,
            pulse_interval_secs: None,
            sla_aware: false,
            update_strategy: None,
        }
    }

    #[test]
    fn settings_come_from_the_update_config_with_named_errors() {
        let s = UpdateSettings::from_config(&config()).unwrap();
        assert_eq!(s.strategy, Strategy::Queue { size: 2 });
        assert_eq!(s.min_wait_in_running_ms, 10_000);
        let mut c = config();
        c.wait_for_batch_completion = true;
        assert_eq!(
            UpdateSettings::from_config(&c).unwrap().strategy,
            Strategy::Batch {
                sizes: vec![2],
                autopause_after_batch: false
            }
        );
        c.batch_size = 0;
        assert_eq!(
            UpdateSettings::from_config(&c).unwrap_err().0,
            "UpdateConfig.batch_size must be positive, got 0"
        );
        let mut c = config();
        c.watch_secs = -1;
        assert!(
            UpdateSettings::from_config(&c)
                .unwrap_err()
                .0
                .contains("watch_secs")
        );
        let mut c = config();
        c.update_strategy = Some(UpdateStrategy::VariableBatch(
            crate::config::VariableBatchUpdateStrategy {
                batch_sizes: vec![1, 2],
                autopause_after_batch: false,
            },
        ));
        assert!(
            UpdateSettings::from_config(&c)
                .unwrap_err()
                .0
                .starts_with("Ambiguous update configuration")
        );
        c.batch_size = 1;
        let s = UpdateSettings::from_config(&c).unwrap();
        assert_eq!(
            (s.group_size(0), s.group_size(1), s.group_size(5)),
            (1, 2, 2)
        );
    }

    #[test]
    fn diff_sorts_instances_into_add_update_remove_unchanged() {
        let current: BTreeMap<u32, String> = [(0, "a"), (1, "a"), (2, "b"), (3, "a")]
            .map(|(i, d)| (i, d.to_owned()))
            .into();
        let d = UpdateDiff::compute(&current, "b", 5, None);
        assert_eq!(d.add, [4]);
        assert_eq!(d.update, [0, 1, 3]);
        assert_eq!(d.unchanged, [2]);
        assert!(d.remove.is_empty());
        assert_eq!(d.worklist(), [4, 0, 1, 3]);
        let d = UpdateDiff::compute(&current, "a", 2, None);
        assert_eq!(
            (d.update.as_slice(), d.remove.as_slice()),
            (&[][..], &[2, 3][..])
        );
        let only: BTreeSet<u32> = [0].into();
        let d = UpdateDiff::compute(&current, "b", 4, Some(&only));
        assert_eq!(d.update, [0]);
        assert_eq!(d.unchanged, [1, 2, 3]);
        assert!(UpdateDiff::compute(&current, "a", 4, Some(&[1].into())).is_noop());
    }
}
