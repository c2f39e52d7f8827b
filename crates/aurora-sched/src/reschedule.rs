//! Whether an ended task is replaced by a new one for the same instance, and after how long.
//!
//! Aurora's rules: a service's task is always replaced; an ad hoc task that FAILED is replaced
//! while its instance has failed fewer than `max_task_failures` times (`-1`: always); one that
//! FINISHED is done. A replacement of a task that ran less than [`FLAPPING_THRESHOLD`] without
//! being killed on purpose is *flapping*: it waits (THROTTLED) 30 s, doubling with each flapping
//! ancestor up to 5 min. A stable run resets the penalty.

use std::time::Duration;

/// A run shorter than this that ended on its own counts as flapping.
pub const FLAPPING_THRESHOLD: Duration = Duration::from_secs(5 * 60);
/// The first throttling delay.
pub const INITIAL_FLAPPING_DELAY: Duration = Duration::from_secs(30);
/// The longest throttling delay.
pub const MAX_FLAPPING_DELAY: Duration = Duration::from_secs(5 * 60);

/// How a task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Finished,
    Failed,
    /// Killed by the system or lost with its machine: replaced, never counted as a failure.
    Lost,
    /// Killed on purpose by a user (job kill): never replaced.
    KilledByUser,
    /// Killed to be replaced (restart, update, drain): replaced at once.
    Interrupted,
}

/// The flapping backoff: Aurora's `-flapping_task_threshold`, `-initial_flapping_task_delay` and
/// `-max_flapping_task_delay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub threshold: Duration,
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            threshold: FLAPPING_THRESHOLD,
            initial: INITIAL_FLAPPING_DELAY,
            max: MAX_FLAPPING_DELAY,
        }
    }
}

/// What the job says about replacements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub service: bool,
    pub backoff: Backoff,
    /// `Job.max_task_failures`; `-1` is unlimited.
    pub max_task_failures: i64,
}

/// The decision for an ended task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The instance is done (or gave up); nothing replaces it.
    Done,
    /// A new task replaces it, PENDING at once, or THROTTLED for the given delay.
    Replace {
        failures: u32,
        throttle: Option<Duration>,
    },
}

/// Decides for a task that ended as `ending` after running `ran_for`, whose instance had
/// `failures` failures before, and whose previous replacement (if any) was throttled for
/// `last_penalty`.
pub fn decide(
    policy: Policy,
    ending: Ending,
    failures: u32,
    ran_for: Duration,
    last_penalty: Option<Duration>,
) -> Decision {
    let failures = if ending == Ending::Failed {
        failures + 1
    } else {
        failures
    };
    let replace = match ending {
        Ending::KilledByUser => false,
        Ending::Interrupted | Ending::Lost => true,
        Ending::Finished => policy.service,
        Ending::Failed => {
            policy.service
                || policy.max_task_failures < 0
                || i64::from(failures) < policy.max_task_failures
        }
    };
    if !replace {
        return Decision::Done;
    }
    let flapping =
        matches!(ending, Ending::Finished | Ending::Failed) && ran_for < policy.backoff.threshold;
    let throttle = flapping.then(|| match last_penalty {
        Some(p) => (p * 2).min(policy.backoff.max),
        None => policy.backoff.initial,
    });
    Decision::Replace { failures, throttle }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICE: Policy = Policy {
        service: true,
        backoff: Backoff {
            threshold: FLAPPING_THRESHOLD,
            initial: INITIAL_FLAPPING_DELAY,
            max: MAX_FLAPPING_DELAY,
        },
        max_task_failures: 1,
    };
    const ADHOC: Policy = Policy {
        service: false,
        backoff: Backoff {
            threshold: FLAPPING_THRESHOLD,
            initial: INITIAL_FLAPPING_DELAY,
            max: MAX_FLAPPING_DELAY,
        },
        max_task_failures: 3,
    };
    const LONG: Duration = Duration::from_secs(3600);
    const SHORT: Duration = Duration::from_secs(1);

    #[test]
    fn services_are_always_replaced_and_throttled_when_flapping() {
        assert_eq!(
            decide(SERVICE, Ending::Finished, 0, LONG, None),
            Decision::Replace {
                failures: 0,
                throttle: None
            }
        );
        assert_eq!(
            decide(SERVICE, Ending::Failed, 4, SHORT, None),
            Decision::Replace {
                failures: 5,
                throttle: Some(INITIAL_FLAPPING_DELAY)
            }
        );
        assert_eq!(
            decide(
                SERVICE,
                Ending::Finished,
                0,
                SHORT,
                Some(Duration::from_secs(60))
            ),
            Decision::Replace {
                failures: 0,
                throttle: Some(Duration::from_secs(120))
            }
        );
        assert_eq!(
            decide(
                SERVICE,
                Ending::Finished,
                0,
                SHORT,
                Some(Duration::from_secs(200))
            ),
            Decision::Replace {
                failures: 0,
                throttle: Some(MAX_FLAPPING_DELAY)
            }
        );
        // A stable run resets the backoff.
        assert_eq!(
            decide(SERVICE, Ending::Finished, 0, LONG, Some(MAX_FLAPPING_DELAY)),
            Decision::Replace {
                failures: 0,
                throttle: None
            }
        );
    }

    #[test]
    fn adhoc_jobs_retry_failures_up_to_the_limit_and_stop_on_success() {
        assert_eq!(
            decide(ADHOC, Ending::Finished, 0, SHORT, None),
            Decision::Done
        );
        assert!(matches!(
            decide(ADHOC, Ending::Failed, 0, LONG, None),
            Decision::Replace { failures: 1, .. }
        ));
        assert!(matches!(
            decide(ADHOC, Ending::Failed, 1, LONG, None),
            Decision::Replace { failures: 2, .. }
        ));
        assert_eq!(decide(ADHOC, Ending::Failed, 2, LONG, None), Decision::Done);
        let once = Policy {
            service: false,
            backoff: Backoff {
                threshold: FLAPPING_THRESHOLD,
                initial: INITIAL_FLAPPING_DELAY,
                max: MAX_FLAPPING_DELAY,
            },
            max_task_failures: 1,
        };
        assert_eq!(decide(once, Ending::Failed, 0, LONG, None), Decision::Done);
        let unlimited = Policy {
            service: false,
            backoff: Backoff {
                threshold: FLAPPING_THRESHOLD,
                initial: INITIAL_FLAPPING_DELAY,
                max: MAX_FLAPPING_DELAY,
            },
            max_task_failures: -1,
        };
        assert!(matches!(
            decide(unlimited, Ending::Failed, 1000, LONG, None),
            Decision::Replace { .. }
        ));
    }

    #[test]
    fn user_kills_are_final_and_interruptions_are_not_flapping() {
        assert_eq!(
            decide(SERVICE, Ending::KilledByUser, 0, SHORT, None),
            Decision::Done
        );
        assert_eq!(
            decide(ADHOC, Ending::Interrupted, 0, SHORT, None),
            Decision::Replace {
                failures: 0,
                throttle: None
            }
        );
        assert_eq!(
            decide(ADHOC, Ending::Lost, 1, SHORT, None),
            Decision::Replace {
                failures: 1,
                throttle: None
            }
        );
    }
}
