//! The process graph of one task and the decisions Thermos makes about it, as pure logic: which
//! processes may start now, when the next one may, and whether the task is done. Time comes in as
//! a parameter; nothing here touches a process.
//!
//! Rules: processes run concurrently unless ordered (`Constraint.order`: each waits for the one
//! before it to succeed); at most `max_concurrency` run at once (0: no limit); a failed run is
//! retried until the process has failed `max_failures` times (0: forever), then it is permanently
//! failed, and `Task.max_failures` permanently failed processes fail the task (0: never); a
//! `daemon` reruns after success too; `min_duration` spaces one run's end and the next start;
//! `ephemeral` processes are not waited for; `final` processes run after all others, in their own
//! stage.

use aurora_model::config::Task;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Why a task's process graph is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("processes[{index}].name: {error}")]
    BadName {
        index: usize,
        error: aurora_model::process::NameError,
    },
    #[error("order constraint names '{0}', which is not a process of this task")]
    Unknown(String),
    #[error("order constraints form a cycle through '{0}'")]
    Cycle(String),
    #[error("process '{0}' may not wait for '{1}': {2}")]
    BadDependency(String, String, &'static str),
}

/// One process's state in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcState {
    /// Not started, or between runs.
    Waiting,
    Running,
    /// Succeeded (and, if not a daemon, done).
    Success,
    /// Failed `max_failures` times.
    Failed,
    /// Killed with the task.
    Killed,
}

#[derive(Debug, Clone)]
struct Proc {
    name: String,
    deps: Vec<usize>,
    max_failures: u32,
    daemon: bool,
    ephemeral: bool,
    is_final: bool,
    min_duration: Duration,
    state: ProcState,
    failures: u32,
    runs: u32,
    last_end: Option<Instant>,
}

/// The stage a task is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Regular processes run.
    Active,
    /// Final processes run (after the regular ones ended, failed, or were killed).
    Finalizing,
    /// Nothing more will run.
    Done,
}

/// The plan for one task.
#[derive(Debug, Clone)]
pub struct Plan {
    procs: Vec<Proc>,
    max_concurrency: usize,
    task_max_failures: u32,
    pub stage: Stage,
    /// Set once the task has failed (too many failed processes) or been killed.
    pub failed: bool,
    pub killed: bool,
}

impl Plan {
    /// Builds and validates the plan of `task`.
    pub fn new(task: &Task) -> Result<Self, PlanError> {
        // A name becomes a folder of the sandbox: checked before anything touches the disk.
        for (index, p) in task.processes.iter().enumerate() {
            aurora_model::process::check_name(&p.name)
                .map_err(|error| PlanError::BadName { index, error })?;
        }
        let index: HashMap<&str, usize> = task
            .processes
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.as_str(), i))
            .collect();
        let mut procs: Vec<Proc> = task
            .processes
            .iter()
            .map(|p| Proc {
                name: p.name.clone(),
                deps: Vec::new(),
                max_failures: p.max_failures.max(0) as u32,
                daemon: p.daemon,
                ephemeral: p.ephemeral,
                is_final: p.final_,
                min_duration: Duration::from_secs(p.min_duration.max(0) as u64),
                state: ProcState::Waiting,
                failures: 0,
                runs: 0,
                last_end: None,
            })
            .collect();
        for c in &task.constraints {
            for pair in c.order.windows(2) {
                let a = *index
                    .get(pair[0].as_str())
                    .ok_or_else(|| PlanError::Unknown(pair[0].clone()))?;
                let b = *index
                    .get(pair[1].as_str())
                    .ok_or_else(|| PlanError::Unknown(pair[1].clone()))?;
                let (pa, pb) = (&procs[a], &procs[b]);
                let why = if pa.is_final != pb.is_final {
                    Some("final and non-final processes may not depend on each other")
                } else if pa.daemon && !pb.daemon {
                    Some("a regular process may not depend on a daemon")
                } else if pa.ephemeral && !pb.ephemeral {
                    Some("a non-ephemeral process may not depend on an ephemeral one")
                } else {
                    None
                };
                if let Some(why) = why {
                    return Err(PlanError::BadDependency(
                        pb.name.clone(),
                        pa.name.clone(),
                        why,
                    ));
                }
                if !procs[b].deps.contains(&a) {
                    procs[b].deps.push(a);
                }
            }
            if let Some(first) = c.order.first() {
                index
                    .get(first.as_str())
                    .ok_or_else(|| PlanError::Unknown(first.clone()))?;
            }
        }
        // Cycle check: depth-first search with colours.
        fn visit(i: usize, procs: &[Proc], colour: &mut [u8]) -> Result<(), PlanError> {
            match colour[i] {
                1 => return Err(PlanError::Cycle(procs[i].name.clone())),
                2 => return Ok(()),
                _ => {}
            }
            colour[i] = 1;
            for &d in &procs[i].deps {
                visit(d, procs, colour)?;
            }
            colour[i] = 2;
            Ok(())
        }
        let mut colour = vec![0u8; procs.len()];
        for i in 0..procs.len() {
            visit(i, &procs, &mut colour)?;
        }
        Ok(Plan {
            procs,
            max_concurrency: task.max_concurrency.max(0) as usize,
            task_max_failures: task.max_failures.max(0) as u32,
            stage: Stage::Active,
            failed: false,
            killed: false,
        })
    }

    /// The process names, in task order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.procs.iter().map(|p| p.name.as_str())
    }

    pub fn state(&self, i: usize) -> ProcState {
        self.procs[i].state
    }

    pub fn runs(&self, i: usize) -> u32 {
        self.procs[i].runs
    }

    fn in_stage(&self, p: &Proc) -> bool {
        match self.stage {
            Stage::Active => !p.is_final,
            Stage::Finalizing => p.is_final,
            Stage::Done => false,
        }
    }

    /// Processes to start now, and the soonest later time one may become startable.
    pub fn startable(&self, now: Instant) -> (Vec<usize>, Option<Instant>) {
        let running = self
            .procs
            .iter()
            .filter(|p| p.state == ProcState::Running)
            .count();
        let mut budget = if self.max_concurrency == 0 {
            usize::MAX
        } else {
            self.max_concurrency.saturating_sub(running)
        };
        let mut out = Vec::new();
        let mut wake: Option<Instant> = None;
        for (i, p) in self.procs.iter().enumerate() {
            let rerun_daemon =
                p.daemon && p.state == ProcState::Success && self.stage == Stage::Active;
            if !self.in_stage(p) || !(p.state == ProcState::Waiting || rerun_daemon) {
                continue;
            }
            if !p
                .deps
                .iter()
                .all(|&d| self.procs[d].state == ProcState::Success)
            {
                continue;
            }
            if let Some(end) = p.last_end {
                let at = end + p.min_duration;
                if at > now {
                    wake = Some(wake.map_or(at, |w| w.min(at)));
                    continue;
                }
            }
            if budget == 0 {
                break;
            }
            budget -= 1;
            out.push(i);
        }
        (out, wake)
    }

    /// Records that process `i` started.
    pub fn started(&mut self, i: usize) {
        self.procs[i].state = ProcState::Running;
        self.procs[i].runs += 1;
    }

    /// Records that process `i` exited (`success`: status 0) at `now`.
    pub fn exited(&mut self, i: usize, success: bool, now: Instant) {
        let p = &mut self.procs[i];
        p.last_end = Some(now);
        if p.state == ProcState::Killed {
            return;
        }
        if success {
            p.state = ProcState::Success;
        } else {
            p.failures += 1;
            p.state = if p.max_failures != 0 && p.failures >= p.max_failures {
                ProcState::Failed
            } else {
                ProcState::Waiting
            };
        }
        self.advance();
    }

    /// Marks every running process killed and moves to finalization (the caller kills them).
    pub fn kill(&mut self) -> Vec<usize> {
        self.killed = true;
        let running: Vec<usize> = (0..self.procs.len())
            .filter(|&i| self.procs[i].state == ProcState::Running)
            .collect();
        for p in &mut self.procs {
            if (!p.is_final || self.stage == Stage::Finalizing)
                && matches!(p.state, ProcState::Running | ProcState::Waiting)
            {
                p.state = ProcState::Killed;
            }
        }
        if self.stage == Stage::Active {
            self.stage = Stage::Finalizing;
            self.advance();
        } else {
            self.stage = Stage::Done;
        }
        running
    }

    /// Ends finalization early (its time is up): processes still running are to be killed.
    pub fn finalization_timeout(&mut self) -> Vec<usize> {
        let running: Vec<usize> = (0..self.procs.len())
            .filter(|&i| self.procs[i].state == ProcState::Running)
            .collect();
        for &i in &running {
            self.procs[i].state = ProcState::Killed;
        }
        self.stage = Stage::Done;
        running
    }

    /// Moves between stages when the current one is over.
    fn advance(&mut self) {
        if self.stage == Stage::Active {
            let permanently_failed = self
                .procs
                .iter()
                .filter(|p| !p.is_final && p.state == ProcState::Failed)
                .count() as u32;
            if self.task_max_failures != 0 && permanently_failed >= self.task_max_failures {
                self.failed = true;
            }
            let regular_over = self
                .procs
                .iter()
                .filter(|p| !p.is_final && !p.ephemeral && !p.daemon)
                .all(|p| {
                    matches!(
                        p.state,
                        ProcState::Success | ProcState::Failed | ProcState::Killed
                    )
                });
            let has_regular = self
                .procs
                .iter()
                .any(|p| !p.is_final && !p.ephemeral && !p.daemon);
            if self.failed || (has_regular && regular_over) {
                self.stage = Stage::Finalizing;
            }
        }
        if self.stage == Stage::Finalizing {
            // Finals that can never start (a final before them failed) are skipped.
            let pending_finals = self.procs.iter().any(|p| {
                p.is_final
                    && (p.state == ProcState::Running
                        || (p.state == ProcState::Waiting
                            && p.deps
                                .iter()
                                .all(|&d| self.procs[d].state != ProcState::Failed)))
            });
            if !pending_finals {
                self.stage = Stage::Done;
            }
        }
    }

    /// Once `Done`: did the task succeed? (All regular, non-ephemeral processes succeeded.)
    pub fn succeeded(&self) -> bool {
        !self.failed
            && !self.killed
            && self
                .procs
                .iter()
                .filter(|p| !p.is_final && !p.ephemeral)
                .all(|p| p.state == ProcState::Success)
    }

    /// Processes still running (to kill when the task ends with ephemerals or daemons left).
    pub fn running(&self) -> Vec<usize> {
        (0..self.procs.len())
            .filter(|&i| self.procs[i].state == ProcState::Running)
            .collect()
    }

    /// Ephemeral/daemon processes still running when the regular ones are over are stopped.
    pub fn leftovers(&mut self) -> Vec<usize> {
        let left: Vec<usize> = (0..self.procs.len())
            .filter(|&i| {
                !self.procs[i].is_final
                    && self.procs[i].state == ProcState::Running
                    && self.stage != Stage::Active
            })
            .collect();
        for &i in &left {
            self.procs[i].state = ProcState::Killed;
        }
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aurora_model::config::{Constraint, Process, Resources};

    fn proc(name: &str) -> Process {
        Process::once(name, "true")
    }

    fn task(processes: Vec<Process>, order: &[&[&str]]) -> Task {
        Task {
            name: "t".into(),
            processes,
            constraints: order
                .iter()
                .map(|o| Constraint {
                    order: o.iter().map(|s| s.to_string()).collect(),
                })
                .collect(),
            resources: Resources {
                cpu: 1.0,
                ram: 1,
                disk: 1,
                gpu: 0,
            },
            max_failures: 1,
            max_concurrency: 0,
            finalization_wait: 30,
            user: None,
        }
    }

    #[test]
    fn ordered_processes_start_one_after_the_other() {
        let mut p =
            Plan::new(&task(vec![proc("a"), proc("b"), proc("c")], &[&["a", "b"]])).unwrap();
        let now = Instant::now();
        assert_eq!(p.startable(now).0, vec![0, 2]);
        p.started(0);
        p.started(2);
        assert!(p.startable(now).0.is_empty());
        p.exited(0, true, now);
        assert_eq!(p.startable(now).0, vec![1]);
        p.started(1);
        p.exited(1, true, now);
        p.exited(2, true, now);
        assert_eq!(p.stage, Stage::Done);
        assert!(p.succeeded());
    }

    #[test]
    fn retries_up_to_max_failures_then_fails_the_task() {
        let mut a = proc("a");
        a.max_failures = 2;
        let mut p = Plan::new(&task(vec![a], &[])).unwrap();
        let now = Instant::now();
        p.started(0);
        p.exited(0, false, now);
        assert_eq!(p.state(0), ProcState::Waiting);
        assert_eq!(p.startable(now).0, vec![0]);
        p.started(0);
        p.exited(0, false, now);
        assert_eq!(p.state(0), ProcState::Failed);
        assert_eq!(p.stage, Stage::Done);
        assert!(p.failed && !p.succeeded());
    }

    #[test]
    fn daemons_rerun_after_min_duration_and_unlimited_retries() {
        let mut d = proc("d");
        d.daemon = true;
        d.max_failures = 0;
        d.min_duration = 5;
        let mut p = Plan::new(&task(vec![d], &[])).unwrap();
        let t0 = Instant::now();
        p.started(0);
        p.exited(0, true, t0);
        let (now, wake) = p.startable(t0 + Duration::from_secs(1));
        assert!(now.is_empty());
        assert_eq!(wake, Some(t0 + Duration::from_secs(5)));
        assert_eq!(p.startable(t0 + Duration::from_secs(5)).0, vec![0]);
        for _ in 0..10 {
            p.started(0);
            p.exited(0, false, t0);
        }
        assert_eq!(p.stage, Stage::Active, "max_failures 0 retries forever");
    }

    #[test]
    fn finals_run_after_the_rest_and_on_kill() {
        let mut f = proc("flush");
        f.final_ = true;
        let mut p = Plan::new(&task(vec![proc("a"), f.clone()], &[])).unwrap();
        let now = Instant::now();
        assert_eq!(p.startable(now).0, vec![0]);
        p.started(0);
        p.exited(0, true, now);
        assert_eq!(p.stage, Stage::Finalizing);
        assert_eq!(p.startable(now).0, vec![1]);
        p.started(1);
        p.exited(1, true, now);
        assert_eq!(p.stage, Stage::Done);
        assert!(p.succeeded());

        let mut p = Plan::new(&task(vec![proc("a"), f], &[])).unwrap();
        p.started(0);
        assert_eq!(p.kill(), vec![0]);
        assert_eq!(p.stage, Stage::Finalizing);
        assert_eq!(p.startable(now).0, vec![1]);
    }

    #[test]
    fn ephemeral_processes_are_not_waited_for_and_concurrency_is_limited() {
        let mut e = proc("side");
        e.ephemeral = true;
        let mut t = task(vec![proc("a"), e, proc("b")], &[]);
        t.max_concurrency = 2;
        let mut p = Plan::new(&t).unwrap();
        let now = Instant::now();
        assert_eq!(p.startable(now).0, vec![0, 1]);
        p.started(0);
        p.started(1);
        p.exited(0, true, now);
        assert_eq!(p.startable(now).0, vec![2]);
        p.started(2);
        p.exited(2, true, now);
        assert_ne!(
            p.stage,
            Stage::Active,
            "the ephemeral one is not waited for"
        );
        assert_eq!(p.leftovers(), vec![1]);
    }

    #[test]
    fn invalid_graphs_are_refused() {
        assert_eq!(
            Plan::new(&task(vec![proc("a")], &[&["a", "x"]])).unwrap_err(),
            PlanError::Unknown("x".into())
        );
        assert!(matches!(
            Plan::new(&task(
                vec![proc("a"), proc("b")],
                &[&["a", "b"], &["b", "a"]]
            )),
            Err(PlanError::Cycle(_))
        ));
        let mut d = proc("d");
        d.daemon = true;
        assert!(matches!(
            Plan::new(&task(vec![d, proc("r")], &[&["d", "r"]])),
            Err(PlanError::BadDependency(..))
        ));
        let mut f = proc("f");
        f.final_ = true;
        assert!(matches!(
            Plan::new(&task(vec![proc("a"), f], &[&["a", "f"]])),
            Err(PlanError::BadDependency(..))
        ));
    }
}
